#pragma once
// Where a resume journal's lines are kept (engine/resume_state.hpp holds what they mean):
// a file in a local state directory, or a table on the copy's target server, which
// outlives the machine or the Kubernetes pod the copy runs on (pg/target_journal.hpp,
// mongo/target_journal.hpp). Every implementation appends whole lines atomically: a
// reader sees each append whole or, after a crash mid-write, at most a torn last line.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace decant::engine {

class JournalStore {
 public:
  virtual ~JournalStore() = default;
  // The journal's text as written; nullopt when there is none.
  virtual std::optional<std::string> read() = 0;
  // Replaces the whole journal with `text`: a reader sees the old one or the new.
  virtual void replace(const std::string& text) = 0;
  // Appends whole lines, after what read() or replace() left.
  virtual void append(const std::string& lines) = 0;
  // Forgets the journal (the run is complete).
  virtual void remove() = 0;
  // Whether there may be a journal, asked without taking the journal's lock (nor making
  // anything): false only when there is certainly none.
  virtual bool present() = 0;
  // Where it is, for messages: a path, or "the target's database decant_state".
  virtual std::string where() const = 0;
};

// `<dir>/journal`, synced to disk at most once a second (a step lost to an operating-system
// crash is only done again).
std::unique_ptr<JournalStore> file_journal(std::filesystem::path dir);

}  // namespace decant::engine
