#pragma once
// What a run has finished, kept in `<state dir>/state.json` so that `--resume` skips it.
// Every step marks itself done only after the target has committed it; the file is
// replaced atomically (write, fsync, rename) so a SIGKILL leaves the old or the new one.
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

namespace decant::engine {

class ResumeState {
 public:
  // `identity` names what the state belongs to (source and target, without secrets);
  // a state written for another identity is never used.
  ResumeState(std::filesystem::path dir, std::string identity);

  bool exists() const;  // a state from an earlier, unfinished run
  void load();          // throws Error(nothing_to_resume) when absent or for another copy
  void reset();         // forget everything and start a new state
  void remove();        // the copy is complete: removes the state and the files from own_file()
  // A path for a working file (a schema dump) that remove() deletes with the state.
  std::filesystem::path own_file(const std::string& name);

  bool done(const std::string& key) const;
  std::optional<nlohmann::json> get(const std::string& key) const;
  void mark_done(const std::string& key, nlohmann::json value = true);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  void save_locked();
  std::filesystem::path file() const { return dir_ / "state.json"; }

  std::filesystem::path dir_;
  std::string identity_;
  mutable std::mutex mutex_;
  nlohmann::json steps_ = nlohmann::json::object();
  std::set<std::string> owned_files_;
};

// $XDG_STATE_HOME/decant/<kind>-<hash of identity> (default ~/.local/state/...).
std::filesystem::path default_state_dir(const std::string& kind, const std::string& identity);

}  // namespace decant::engine
