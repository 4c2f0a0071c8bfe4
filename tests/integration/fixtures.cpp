#include "fixtures.hpp"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "process/process.hpp"

namespace decant::test {

SmallDisk::SmallDisk(std::filesystem::path dir, const std::string& size) : dir_(std::move(dir)) {
  if (geteuid() != 0) {
    why_ = "mounting a small tmpfs needs root";
    return;
  }
  std::filesystem::create_directories(dir_);
  auto mounted = run_process({{"mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir_.string()}, {}, {}});
  mounted_ = mounted.exit_status == 0;
  if (!mounted_) why_ = "cannot mount a tmpfs here: " + mounted.errors;
}

SmallDisk::~SmallDisk() {
  if (mounted_) run_process({{"umount", "-l", dir_.string()}, {}, {}});
}

std::string expect_second_copy_waits(const std::vector<std::string>& args, const std::filesystem::path& work,
                                     const std::function<bool()>& under_way) {
  using namespace std::chrono_literals;
  std::filesystem::create_directories(work / "first");
  std::filesystem::create_directories(work / "second");
  BackgroundDecant first(args, work / "first");
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline && first.running() && !under_way())
    std::this_thread::sleep_for(20ms);
  if (!first.running()) {
    ADD_FAILURE() << "the first copy ended before the second started: " << first.err();
    first.wait();
    return "";
  }
  BackgroundDecant second(args, work / "second");
  while (std::chrono::steady_clock::now() < deadline && second.running() && !contains(second.err(), "waiting for it to end"))
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(says(second.err(), "another decant copy keeps its journal on the target"));
  EXPECT_TRUE(first.running()) << "the second copy waited until the first had ended anyway";
  EXPECT_EQ(first.wait(), 0) << first.err();
  EXPECT_EQ(second.wait(), 0) << second.err();
  EXPECT_TRUE(says(second.err(), "is recorded complete and verified"));
  return second.err();
}

void wait_for_journal(const std::filesystem::path& state, const std::string& needle) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && !contains(read_file(state / "journal"), needle))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

std::string last_journal_key(const std::filesystem::path& state, const std::string& prefix) {
  std::string last;
  for (const auto& key : journal_keys(state))
    if (key.rfind(prefix, 0) == 0) last = key.substr(prefix.size());
  return last;
}

bool SmallDisk::resize(const std::string& size) const {
  return run_process({{"mount", "-o", "remount,size=" + size, dir_.string()}, {}, {}}).exit_status == 0;
}

void expect_item_copied(const nlohmann::json& report, const std::string& name, int rows) {
  bool saw = false;
  for (const auto& db : report["databases"])
    for (const auto& item : db["items"])
      if (item["name"] == name) {
        saw = true;
        EXPECT_EQ(item["rows"], rows) << name;
        EXPECT_EQ(item["source_digest"], item["target_digest"]) << name;
      }
  EXPECT_TRUE(saw) << name << " is not in the report";
}

std::pair<int, int> resumed_and_not(const nlohmann::json& report) {
  int resumed = 0, not_resumed = 0;
  for (const auto& db : report["databases"])
    for (const auto& item : db["items"]) (item["resumed"].get<bool>() ? resumed : not_resumed)++;
  return {resumed, not_resumed};
}

}  // namespace decant::test
