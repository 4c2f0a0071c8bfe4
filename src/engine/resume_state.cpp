#include "engine/resume_state.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <xxhash.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/error.hpp"

namespace decant::engine {
namespace fs = std::filesystem;

namespace {
[[noreturn]] void io_error(const std::string& what, const fs::path& path, int err) {
  throw Error(ExitCode::local_io, what + " " + path.string() + ": " + std::strerror(err),
              err == ENOSPC ? "free disk space there, then run the same command with --resume"
                            : "make the state directory writable or choose another with --state-dir (or "
                              "XDG_STATE_HOME); add --resume to continue a run that had begun");
}
}  // namespace

fs::path default_state_dir(const std::string& kind, const std::string& identity) {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  fs::path base = xdg && *xdg ? fs::path(xdg) : fs::path(home && *home ? home : "/tmp") / ".local" / "state";
  return base / "decant" / fmt::format("{}-{:016x}", kind, XXH3_64bits(identity.data(), identity.size()));
}

ResumeState::ResumeState(fs::path dir, std::string identity) : dir_(std::move(dir)), identity_(std::move(identity)) {}

bool ResumeState::exists() const {
  std::error_code ec;
  return fs::exists(file(), ec);
}

void ResumeState::load() {
  std::ifstream in(file());
  if (!in)
    throw Error(ExitCode::nothing_to_resume, "no interrupted copy to resume in " + dir_.string(),
                "run the command without --resume");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception&) {
    j = nullptr;
  }
  if (!j.is_object() || !j.contains("identity") || !j["identity"].is_string() ||
      (j.contains("steps") && !j["steps"].is_object()))
    throw Error(ExitCode::local_io, "the resume state " + file().string() + " is unreadable",
                "remove " + dir_.string() + " and start over without --resume");
  if (j.value("identity", "") != identity_)
    throw Error(ExitCode::nothing_to_resume,
                "the state in " + dir_.string() + " belongs to another copy (" + j.value("identity", "?") + ")",
                "use the same --source and --target as the interrupted run, or another --state-dir");
  std::lock_guard lock(mutex_);
  steps_ = j.value("steps", nlohmann::json::object());
}

void ResumeState::reset() {
  std::lock_guard lock(mutex_);
  steps_ = nlohmann::json::object();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) io_error("cannot create", dir_, ec.value());
  save_locked();
}

void ResumeState::remove() {
  std::lock_guard lock(mutex_);
  // Only what decant wrote: --state-dir may name a directory that holds other files.
  std::error_code ec;
  for (const auto& name : owned_files_) fs::remove(dir_ / name, ec);
  fs::remove(file(), ec);
  fs::remove(dir_ / "state.json.tmp", ec);
  fs::remove(dir_, ec);  // only if now empty
}

std::filesystem::path ResumeState::own_file(const std::string& name) {
  std::lock_guard lock(mutex_);
  owned_files_.insert(name);
  return dir_ / name;
}

bool ResumeState::done(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return steps_.contains(key);
}

std::optional<nlohmann::json> ResumeState::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  if (!steps_.contains(key)) return std::nullopt;
  return steps_[key];
}

void ResumeState::mark_done(const std::string& key, nlohmann::json value) {
  std::lock_guard lock(mutex_);
  steps_[key] = std::move(value);
  save_locked();
}

void ResumeState::save_locked() {
  nlohmann::json j{{"identity", identity_}, {"steps", steps_}};
  std::string text = j.dump(1);
  fs::path tmp = dir_ / "state.json.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) io_error("cannot write", tmp, errno);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      io_error("cannot write", tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    io_error("cannot write", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), file().c_str()) != 0) io_error("cannot replace", file(), errno);
}

}  // namespace decant::engine
