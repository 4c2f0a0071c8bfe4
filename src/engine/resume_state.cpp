#include "engine/resume_state.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "io/files.hpp"

namespace decant::engine {
namespace fs = std::filesystem;

namespace {
constexpr int kJournalVersion = 2;

constexpr const char* kStateHint =
    "free disk space there, or make the state directory writable (or choose another with --state-dir or "
    "XDG_STATE_HOME); then run the same command, with --resume to continue a run that had begun";

[[noreturn]] void io_error(const std::string& what, const fs::path& path, int err) {
  throw_io_error(what, path, err, kStateHint);
}

std::string step_line(const std::string& key, const nlohmann::json& value) {
  return nlohmann::json{{"k", key}, {"v", value}}.dump() + "\n";
}
}  // namespace

fs::path default_state_dir(const std::string& kind, const std::string& identity) {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  fs::path base = xdg && *xdg ? fs::path(xdg) : fs::path(home && *home ? home : "/tmp") / ".local" / "state";
  return base / "decant" / fmt::format("{}-{:016x}", kind, XXH3_64bits(identity.data(), identity.size()));
}

ResumeState::ResumeState(fs::path dir, std::string identity, std::string repeat_options)
    : dir_(std::move(dir)), identity_(std::move(identity)), repeat_options_(std::move(repeat_options)) {}

ResumeState::~ResumeState() {
  std::lock_guard lock(mutex_);
  close_locked();
}

void ResumeState::close_locked() {
  if (fd_ < 0) return;
  ::fdatasync(fd_);
  ::close(fd_);
  fd_ = -1;
}

bool ResumeState::exists() const {
  std::error_code ec;
  return fs::exists(journal(), ec);
}

void ResumeState::load() {
  std::ifstream in(journal(), std::ios::binary);
  if (!in)
    throw Error(ExitCode::nothing_to_resume, "no interrupted run to resume in " + dir_.string(),
                "run the command without --resume");
  auto unreadable = [&] {
    return Error(ExitCode::local_io, "the resume state " + journal().string() + " is unreadable",
                 "remove " + dir_.string() + " and start over without --resume");
  };
  std::string header_line;
  std::getline(in, header_line);
  nlohmann::json header = nlohmann::json::parse(header_line, nullptr, false);
  if (!header.is_object() || !header.contains("identity") || !header["identity"].is_string() ||
      header.value("version", 0) != kJournalVersion)
    throw unreadable();
  if (header["identity"] != identity_)
    throw Error(ExitCode::nothing_to_resume,
                "the state in " + dir_.string() + " belongs to another run (" + header["identity"].get<std::string>() +
                    ")",
                "use " + repeat_options_ + " as the interrupted run, or another --state-dir");
  std::unordered_map<std::string, nlohmann::json> steps;
  std::string line;
  bool torn = false;
  while (std::getline(in, line)) {
    bool complete = !in.eof();  // the last line of a whole record ends with '\n'
    nlohmann::json step = nlohmann::json::parse(line, nullptr, false);
    if (!complete || step.is_discarded() || !step.is_object() || !step.contains("k") || !step["k"].is_string() ||
        !step.contains("v")) {
      if (torn) throw unreadable();
      torn = true;  // only the last line may be torn
      continue;
    }
    if (torn) throw unreadable();
    steps[step["k"].get<std::string>()] = std::move(step["v"]);
  }
  std::lock_guard lock(mutex_);
  steps_ = std::move(steps);
  close_locked();
  fd_ = ::open(journal().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) io_error("cannot write", journal(), errno);
  if (torn) {
    // Cut the torn record off, so that the next one starts on a line of its own.
    std::ifstream again(journal(), std::ios::binary);
    std::stringstream whole;
    whole << again.rdbuf();
    std::string text = whole.str();
    auto end = text.rfind('\n');
    if (::ftruncate(fd_, static_cast<off_t>(end == std::string::npos ? 0 : end + 1)) != 0)
      io_error("cannot write", journal(), errno);
  }
}

void ResumeState::reset() {
  std::lock_guard lock(mutex_);
  close_locked();
  steps_.clear();
  // A new journal replaces the old one atomically (and makes the directory).
  replace_file(journal(), nlohmann::json{{"identity", identity_}, {"version", kJournalVersion}}.dump() + "\n",
               kStateHint);
  fd_ = ::open(journal().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) io_error("cannot write", journal(), errno);
  last_sync_ = std::chrono::steady_clock::now();
}

void ResumeState::remove() {
  std::lock_guard lock(mutex_);
  close_locked();
  // Only what decant wrote: --state-dir may name a directory that holds other files.
  std::error_code ec;
  for (const auto& name : owned_files_) fs::remove(dir_ / name, ec);
  fs::remove(journal(), ec);
  fs::remove(dir_, ec);  // only if now empty
}

fs::path ResumeState::own_file(const std::string& name) {
  std::lock_guard lock(mutex_);
  owned_files_.insert(name);
  return dir_ / name;
}

bool ResumeState::done(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return steps_.count(key) > 0;
}

std::optional<nlohmann::json> ResumeState::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = steps_.find(key);
  if (it == steps_.end()) return std::nullopt;
  return it->second;
}

void ResumeState::mark_done(const std::string& key, nlohmann::json value) {
  std::string line = step_line(key, value);
  std::lock_guard lock(mutex_);
  append_locked(line);
  steps_[key] = std::move(value);
}

void ResumeState::mark_done(std::vector<std::pair<std::string, nlohmann::json>> steps) {
  if (steps.empty()) return;
  std::string lines;
  for (const auto& [key, value] : steps) lines += step_line(key, value);
  std::lock_guard lock(mutex_);
  append_locked(lines);
  for (auto& [key, value] : steps) steps_[key] = std::move(value);
}

void ResumeState::append_locked(const std::string& lines) {
  if (fd_ < 0) fd_ = ::open(journal().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) io_error("cannot write", journal(), errno);
  write_all(fd_, lines, journal(), kStateHint);
  auto now = std::chrono::steady_clock::now();
  if (now - last_sync_ >= std::chrono::seconds(1)) {
    if (::fdatasync(fd_) != 0) io_error("cannot write", journal(), errno);
    last_sync_ = now;
  }
}

}  // namespace decant::engine
