#pragma once
// Fixtures and assertions the integration tests share: a scratch directory per test, a
// source and a target server per test, a backup repository (a local directory or S3) with
// an age key, a small full disk, and the checks of a copy's report.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "crypto/age.hpp"
#include "pg_server.hpp"
#include "s3_server.hpp"

namespace decant::test {

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The last key of the journal in the state directory `state` that starts with `prefix`,
// without the prefix ("" if none).
std::string last_journal_key(const std::filesystem::path& state, const std::string& prefix);

// Whether `text` holds `needle`, as an assertion: EXPECT_TRUE(says(r.err, "...")); a
// failure shows both.
inline ::testing::AssertionResult says(const std::string& text, const std::string& needle) {
  if (contains(text, needle)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no \"" << needle << "\" in:\n" << text;
}

// Waits, a minute at the most, until the journal in the state directory `state` records
// `needle` (a key or a part of one).
void wait_for_journal(const std::filesystem::path& state, const std::string& needle);

// Two copies of one run at once (a Job's next pod while the first still runs on a node cut
// off from the API server but not from the target): `args` started, and again once
// `under_way()` says the first journalled a finished item. The second must say it waits for
// the first while the first goes on, both end 0, and the second find the run complete.
// Returns the second's stderr, for the caller's own checks.
std::string expect_second_copy_waits(const std::vector<std::string>& args, const std::filesystem::path& work,
                                     const std::function<bool()>& under_way);

// A fixture with a scratch directory of its own, work_, removed after each test.
template <class Base = ::testing::Test>
class WorkDirFixture : public Base {
 protected:
  explicit WorkDirFixture(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override { work_ = make_temp_dir(prefix_); }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(work_, ec);
  }

  std::filesystem::path work_;

 private:
  std::string prefix_;
};

// Two servers started for each test, source_ (with `source` options) and an empty
// target_, and a scratch directory (started in that order).
template <class Server, class Base = ::testing::Test>
class ServerPairFixture : public WorkDirFixture<Base> {
 protected:
  explicit ServerPairFixture(std::string prefix, typename Server::Options source = {})
      : WorkDirFixture<Base>(std::move(prefix)), source_options_(std::move(source)) {}
  void SetUp() override {
    source_ = std::make_unique<Server>(source_options_);
    target_ = std::make_unique<Server>();
    WorkDirFixture<Base>::SetUp();
  }

  std::unique_ptr<Server> source_, target_;

 private:
  typename Server::Options source_options_;
};

// A backup test between two servers, on a repository in a local directory (the parameter
// false) or on S3 (true): decant() runs decant against it, repo_ is where its objects are
// files, key_ is an age identity written to work_/key.txt.
template <class Server>
class BackupFixture : public ServerPairFixture<Server, ::testing::TestWithParam<bool>> {
  using Pair = ServerPairFixture<Server, ::testing::TestWithParam<bool>>;

 protected:
  using Pair::Pair;
  void SetUp() override {
    Pair::SetUp();
    repository_ = std::make_unique<TestRepository>(this->GetParam(), this->work_);
    repo_ = repository_->dir();
    key_ = crypto::AgeIdentity::generate();
    std::ofstream(this->work_ / "key.txt", std::ios::binary) << "# a test identity\n" << key_.encoded() << "\n";
  }
  RunResult decant(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {}) const {
    return repository_->run(args, env);
  }
  // Starts decant `args` on the repository and SIGKILLs it once its journal records
  // `needle` (call it in ASSERT_NO_FATAL_FAILURE).
  void kill_once_journal_has(const std::vector<std::string>& args, const std::string& needle) const {
    auto run = repository_->start(args, this->work_);
    wait_for_journal(this->work_ / "state", needle);
    ASSERT_TRUE(run->running()) << "finished before it could be killed";
    run->kill(SIGKILL);
    run->wait();
  }

  std::filesystem::path repo_;
  std::unique_ptr<TestRepository> repository_;
  crypto::AgeIdentity key_;
};

// A tmpfs of `size` ("256k") mounted on `dir` (created) for as long as it lives, to fill a
// disk; mounted() is false, and why() says why, where that cannot be done (not root, no
// mount): the test skips.
class SmallDisk {
 public:
  SmallDisk(std::filesystem::path dir, const std::string& size);
  ~SmallDisk();
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::filesystem::path& dir() const { return dir_; }
  // Remounts it with `size` ("64m"): room again; false if that fails.
  bool resize(const std::string& size) const;

 private:
  std::filesystem::path dir_;
  bool mounted_ = false;
  std::string why_;
};

// Checks of a copy's report (--report): every item named `name` (in any database) has
// `rows` rows and the same digest on both sides, and there is one.
void expect_item_copied(const nlohmann::json& report, const std::string& name, int rows);

// How many of the report's items were resumed (finished by an earlier run and checked
// again), and how many were not.
std::pair<int, int> resumed_and_not(const nlohmann::json& report);

}  // namespace decant::test
