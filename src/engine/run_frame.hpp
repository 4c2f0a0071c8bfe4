#pragma once
// The frame every long command runs in: it owns what is the same for all of them, so that a
// command fills it with its items and reads as its own story.
//
//   open      the command parses its options and says what it runs between (the report's
//             endpoints) and what its resume state belongs to;
//   checks    the command checks what it must before writing; start_writing() then begins
//             a new state (a refused run leaves an interrupted one resumable), or keeps the
//             one --resume loaded;
//   work      run_tasks() runs the items on --jobs workers with live progress; every item
//             goes through the ItemLifecycle, which records it in the state and the report;
//   conclude  the summary, the verdict (exit 8 naming the first difference), the state
//             removed once everything verified (a named run's keeps that it completed:
//             the same run started again ends at once).
// The report (--report) is written for every outcome, from the signal watcher too when a
// stop outlasts its grace period; one that fails before its endpoints are known says so.
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/item_lifecycle.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "engine/run_options.hpp"
#include "engine/task_pool.hpp"

namespace decant::engine {

// What a command tells the frame: its name, its resume state and its run options.
struct RunSettings {
  std::string command;  // "pg copy": the report's "command"
  // The resume state: its kind names the default directory ($XDG_STATE_HOME/decant/
  // <kind>-<hash>); without a kind the command keeps none.
  std::string state_kind;
  // The options a resumed run must repeat, for the hint when a state belongs to another
  // run: "the same --source and --target".
  std::string resume_options;
  RunOptions run;
};

// What `open` found: the ends of the run as the report shows them (no secrets), and what
// its resume state belongs to ("" when the command keeps none).
struct Endpoints {
  std::string source;
  std::string target;
  std::string state_identity;
  // The journal on the target, for --state-on-target (unset: the command has none).
  std::function<std::unique_ptr<JournalStore>()> target_journal = nullptr;
};

class RunFrame {
 public:
  RunFrame(const RunSettings& settings, Endpoints endpoints);
  ~RunFrame();
  RunFrame(const RunFrame&) = delete;
  RunFrame& operator=(const RunFrame&) = delete;

  Report& report() { return report_; }
  ProgressBoard& progress() { return progress_; }
  // Error(internal) for a command that keeps none; with --resume, loaded at first use.
  ResumeState& state();
  ItemLifecycle& lifecycle();
  int jobs() const { return jobs_; }
  // A command whose servers lend fewer sessions than --jobs runs fewer workers.
  void limit_jobs(int most) { jobs_ = std::max(1, std::min(jobs_, most)); }
  // With --resume; with --resume-run, when the state holds that run.
  bool resuming() const;
  // --resume-run of a run whose state says it completed (and verified) before.
  bool already_complete();
  // --forget-run: drops the state when it records the --resume-run run complete.
  int forget();
  const Endpoints& endpoints() const { return endpoints_; }
  double seconds() const { return seconds_since(started_); }

  // The command's checks have passed: a new run forgets what an earlier one recorded (a
  // resumed one keeps what --resume loaded).
  void start_writing();
  // Runs the tasks `schedule` submits on the frame's workers while its progress shows them.
  void run_tasks(const std::string& phase, const std::function<void(TaskPool&)>& schedule);
  // Prints the summary and the verdict, "<done> in 12s"; throws Error(verify_failed)
  // naming the first difference, with `again_hint`; once everything verified, removes
  // the resume state. Returns 0.
  int conclude(const std::string& done, const std::string& again_hint);

 private:
  void load_state();

  const RunSettings& settings_;
  Endpoints endpoints_;
  int jobs_;
  Report report_;
  ProgressBoard progress_;
  std::unique_ptr<ResumeState> state_;
  std::once_flag state_loaded_;
  mutable std::once_flag resume_decided_;
  mutable bool resume_run_found_ = false;
  std::once_flag lifecycle_made_;
  std::unique_ptr<ItemLifecycle> lifecycle_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// Runs a command: `open` parses what it needs and returns its endpoints, `body` does the
// work in the frame made for them. Returns the body's exit code; errors propagate after
// the report is written.
int run_in_frame(const RunSettings& settings, const std::function<Endpoints()>& open,
                 const std::function<int(RunFrame&)>& body);

// The same for a command written as an object: `command.open()` and `command.run(frame)`.
template <typename Command>
int run_in_frame(const RunSettings& settings, Command&& command) {
  return run_in_frame(settings, [&command] { return command.open(); },
                      [&command](RunFrame& frame) { return command.run(frame); });
}

}  // namespace decant::engine
