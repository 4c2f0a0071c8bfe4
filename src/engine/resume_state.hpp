#pragma once
// What a run has finished, kept in a journal (engine/journal_store.hpp: `<state dir>/journal`,
// or a table on the target) so that --resume skips it.
// Every step is recorded only after the target committed it. The journal is append-only:
// a header line (which run it belongs to), then one JSON line per finished step, each
// appended with a single write(), so a step costs the same whether it is the 10th or the
// 10,000th. A SIGKILL loses nothing written; a torn last line (a crash mid-write) is
// ignored. The file is synced to disk at most once a second, not per step: a step lost
// to an operating-system crash is only done again (a table is truncated and copied, an
// index found to exist), never skipped.
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/journal_store.hpp"

namespace decant::engine {

class ResumeState {
 public:
  // `identity` names what the state belongs to (source and target, without secrets);
  // a state written for another identity is never used. `repeat_options` says what a
  // resumed run must repeat to find it ("--source and --target").
  ResumeState(std::filesystem::path dir, std::string identity, std::string repeat_options = "the same options");
  // The journal kept in `store`; `dir` holds only the working files of own_file().
  ResumeState(std::filesystem::path dir, std::unique_ptr<JournalStore> store, std::string identity,
              std::string repeat_options);
  ~ResumeState();
  ResumeState(const ResumeState&) = delete;
  ResumeState& operator=(const ResumeState&) = delete;

  bool exists() const;  // a state from an earlier, unfinished run
  bool holds_this_run() const;  // one, and of this identity
  void load();          // throws Error(nothing_to_resume) when absent or for another copy
  void reset();         // forget everything and start a new state
  void remove();        // the copy is complete: removes the state and the files from own_file()
  // The copy of a named run (--resume-run) is complete: the journal keeps only that, so that
  // the same run started again (a Job's pod its CLI never saw end) knows; own files go.
  void complete();
  bool completed() const { return done(kCompleteStep); }
  static constexpr const char* kCompleteStep = "complete";
  // A path for a working file (a schema dump) that remove() deletes with the state.
  std::filesystem::path own_file(const std::string& name);

  bool done(const std::string& key) const;
  std::optional<nlohmann::json> get(const std::string& key) const;
  void mark_done(const std::string& key, nlohmann::json value = true);
  // Several steps at once (a batch committed together): one write.
  void mark_done(std::vector<std::pair<std::string, nlohmann::json>> steps);

  const std::filesystem::path& dir() const { return dir_; }
  std::string where() const { return store_->where(); }  // of the journal
  bool present() const { return store_->present(); }     // JournalStore::present

 private:
  void append_locked(const std::string& lines);
  std::string header_line() const;  // the journal's first line: which run it belongs to
  void remove_own_files_locked();

  std::filesystem::path dir_;
  std::string identity_;
  std::string repeat_options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, nlohmann::json> steps_;
  std::set<std::string> owned_files_;
  std::unique_ptr<JournalStore> store_;
};

// $XDG_STATE_HOME/decant/<kind>-<hash of identity> (default ~/.local/state/...).
std::filesystem::path default_state_dir(const std::string& kind, const std::string& identity);

}  // namespace decant::engine
