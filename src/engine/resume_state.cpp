#include "engine/resume_state.hpp"

#include <fmt/core.h>
#include <xxhash.h>

#include <cstdlib>
#include <sstream>

#include "common/error.hpp"
#include "io/files.hpp"

namespace decant::engine {
namespace fs = std::filesystem;

namespace {
constexpr int kJournalVersion = 2;

std::string step_line(const std::string& key, const nlohmann::json& value) {
  return nlohmann::json{{"k", key}, {"v", value}}.dump() + "\n";
}

// The header line of a journal's text: nullopt when it is not one of ours.
std::optional<nlohmann::json> header_of(const std::string& text) {
  nlohmann::json header = nlohmann::json::parse(text.substr(0, text.find('\n')), nullptr, false);
  if (!header.is_object() || !header.contains("identity") || !header["identity"].is_string() ||
      header.value("version", 0) != kJournalVersion)
    return std::nullopt;
  return header;
}
}  // namespace

fs::path default_state_dir(const std::string& kind, const std::string& identity) {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  fs::path base = xdg && *xdg ? fs::path(xdg) : fs::path(home && *home ? home : "/tmp") / ".local" / "state";
  return base / "decant" / fmt::format("{}-{:016x}", kind, XXH3_64bits(identity.data(), identity.size()));
}

ResumeState::ResumeState(fs::path dir, std::string identity, std::string repeat_options)
    : ResumeState(dir, file_journal(dir), std::move(identity), std::move(repeat_options)) {}

ResumeState::ResumeState(fs::path dir, std::unique_ptr<JournalStore> store, std::string identity,
                         std::string repeat_options)
    : dir_(std::move(dir)),
      identity_(std::move(identity)),
      repeat_options_(std::move(repeat_options)),
      store_(std::move(store)) {}

ResumeState::~ResumeState() = default;

bool ResumeState::exists() const {
  std::lock_guard lock(mutex_);
  return store_->read().has_value();
}

bool ResumeState::holds_this_run() const {
  std::lock_guard lock(mutex_);
  auto text = store_->read();
  if (!text) return false;
  auto header = header_of(*text);
  return header && (*header)["identity"] == identity_;
}

void ResumeState::load() {
  std::lock_guard lock(mutex_);
  auto text = store_->read();
  if (!text)
    throw Error(ExitCode::nothing_to_resume, "no interrupted run to resume in " + store_->where(),
                "run the command without --resume");
  auto unreadable = [&] {
    return Error(ExitCode::local_io, "the resume state in " + store_->where() + " is unreadable",
                 "remove it and start over without --resume");
  };
  auto header = header_of(*text);
  if (!header) throw unreadable();
  if ((*header)["identity"] != identity_)
    throw Error(ExitCode::nothing_to_resume,
                "the state in " + store_->where() + " belongs to another run (" +
                    (*header)["identity"].get<std::string>() + ")",
                "use " + repeat_options_ + " as the interrupted run, or another --state-dir");
  std::unordered_map<std::string, nlohmann::json> steps;
  std::istringstream in(*text);
  std::string line;
  std::getline(in, line);  // the header
  size_t whole = line.size() + 1;  // the bytes of whole records read so far
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
    whole += line.size() + 1;
    steps[step["k"].get<std::string>()] = std::move(step["v"]);
  }
  steps_ = std::move(steps);
  // Cut the torn record off, so that the next one starts on a line of its own.
  if (torn) store_->replace(text->substr(0, whole));
}

void ResumeState::reset() {
  std::lock_guard lock(mutex_);
  steps_.clear();
  store_->replace(header_line());
}

void ResumeState::remove() {
  std::lock_guard lock(mutex_);
  store_->remove();
  remove_own_files_locked();
}

void ResumeState::complete() {
  std::lock_guard lock(mutex_);
  store_->replace(header_line() + step_line(kCompleteStep, true));
  steps_.clear();
  steps_[kCompleteStep] = true;
  remove_own_files_locked();
}

std::string ResumeState::header_line() const {
  return nlohmann::json{{"identity", identity_}, {"version", kJournalVersion}}.dump() + "\n";
}

// Only what decant wrote: --state-dir may name a directory that holds other files.
void ResumeState::remove_own_files_locked() {
  std::error_code ec;
  for (const auto& name : owned_files_) fs::remove(dir_ / name, ec);
  fs::remove(dir_, ec);  // only if now empty
}

fs::path ResumeState::own_file(const std::string& name) {
  std::lock_guard lock(mutex_);
  // The journal may be elsewhere (on the target): the directory is made for its files.
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    if (!fs::create_directories(dir_, ec) && ec)
      throw_io_error("cannot create", dir_, ec.value(),
                     "free disk space there, or choose another directory with --state-dir or XDG_STATE_HOME");
    fs::permissions(dir_, fs::perms::owner_all, ec);  // private, as the journal's directory is
  }
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

void ResumeState::append_locked(const std::string& lines) { store_->append(lines); }

}  // namespace decant::engine
