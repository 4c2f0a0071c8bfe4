#pragma once
// What a backup command hands each engine's part (backup/pg_part, backup/mongo_part) and
// gets back from it: the tasks to run, and for a restore or an export where to read from
// and report to.
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backup/archive_item.hpp"

namespace decant::engine {
class ItemLifecycle;
class ProgressBoard;
class Report;
class ResumeState;
class RunFrame;
}  // namespace decant::engine

namespace decant::backup {

// Each group's (database's) seconds in the summary: from when its first work began to when
// its last ended, as its items run in parallel with other groups'.
class GroupSpans {
 public:
  // Stretches the group's span to now.
  void mark(const std::string& group);
  void report_to(engine::Report& report) const;

 private:
  using Clock = std::chrono::steady_clock;
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<Clock::time_point, Clock::time_point>> spans_;
};

struct Task {
  std::string group;  // whose seconds it counts in
  std::function<void(int worker)> run;
};

struct Tasks {
  std::vector<Task> work;        // run in the pool, in any order
  std::function<void()> after;  // once they are done (views, checks)
};

// One engine's part of a backup being taken (backup/pg_part, backup/mongo_part).
class BackupSource {
 public:
  virtual ~BackupSource() = default;
  virtual std::string display() const = 0;
  virtual std::string engine() const = 0;  // "pg", "mongo": its key in the manifest
  // What the manifest says of the source: address, version, when.
  virtual nlohmann::json source_description() const = 0;
  // One task per item to take; `after` checks what can only be checked once they are done.
  virtual Tasks tasks(const CreateContext& ctx, engine::RunFrame& frame) = 0;
  // The manifest's items, once every task has finished.
  virtual std::vector<ItemEntry> entries(const engine::ResumeState& state) const = 0;
};

// Both engines' tasks in one pool, then both `after`s.
Tasks combine(Tasks a, Tasks b);
// Runs the tasks on the frame's workers with its progress, then their `after`; each
// task's group span covers it, and the spans go to the frame's report.
void run_tasks(engine::RunFrame& frame, const std::string& phase, const Tasks& tasks, GroupSpans& spans);

struct RestoreContext {
  const Repository& repo;
  const crypto::AgeKeys& keys;
  engine::ResumeState& state;
  engine::ItemLifecycle& lifecycle;
  engine::ProgressBoard& progress;
  engine::Report& report;
  GroupSpans& spans;
  int jobs = 1;
};

// The context a restore or an export reads the backup in, from its frame.
RestoreContext restore_context(const Repository& repo, const crypto::AgeKeys& keys, engine::RunFrame& frame,
                               GroupSpans& spans);

}  // namespace decant::backup
