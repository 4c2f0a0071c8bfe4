#include "engine/run_frame.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "common/error.hpp"
#include "common/log.hpp"
#include "engine/report_lines.hpp"
#include "io/files.hpp"
#include "process/signals.hpp"

namespace decant::engine {

namespace {

Endpoints named(Endpoints endpoints, const RunOptions& run) {
  if (!run.source_name) return endpoints;
  endpoints.source = *run.source_name;
  endpoints.state_identity = endpoints.source + " -> " + endpoints.target;
  return endpoints;
}

}  // namespace

RunFrame::RunFrame(const RunSettings& settings, Endpoints endpoints)
    : settings_(settings),
      endpoints_(named(std::move(endpoints), settings.run)),
      jobs_(resolve_jobs(settings.run.jobs)),
      report_(settings.command, endpoints_.source, endpoints_.target) {
  if (settings_.state_kind.empty()) return;
  const RunOptions& run = settings_.run;
  // A named run is another run than an unnamed one between the same ends.
  std::string identity = endpoints_.state_identity + (run.resume_run ? " (run " + *run.resume_run + ")" : "");
  std::filesystem::path dir =
      run.state_dir ? std::filesystem::path(*run.state_dir) : default_state_dir(settings_.state_kind, identity);
  if (!run.state_on_target) {
    state_ = std::make_unique<ResumeState>(dir, identity, settings_.resume_options);
    return;
  }
  if (!endpoints_.target_journal)
    throw Error(ExitCode::usage, settings_.command + " cannot keep its resume state on its target",
                "leave out --state-on-target");
  state_ = std::make_unique<ResumeState>(dir, endpoints_.target_journal(), identity, settings_.resume_options);
}

bool RunFrame::already_complete() {
  return settings_.run.resume_run && resuming() && state().completed();
}

int RunFrame::forget() {
  if (!state_ || !settings_.run.resume_run)
    throw Error(ExitCode::usage, "--forget-run needs --resume-run and --state-on-target", "give the run's name");
  // Asked first: reading a journal takes its lock, which on MongoDB makes its database.
  if (state_->present() && already_complete()) {
    std::string where = state_->where();
    state_->remove();
    log::info("the run {} was recorded complete and verified in {}: dropped", *settings_.run.resume_run, where);
    return 0;
  }
  // None, another run's, or an unfinished one: never this run's to drop.
  throw Error(ExitCode::nothing_to_resume,
              fmt::format("{} does not record the run {} complete: left as it is", state_->where(),
                          *settings_.run.resume_run),
              "nothing to forget");
}

bool RunFrame::resuming() const {
  if (settings_.run.resume) return true;
  if (!state_ || !settings_.run.resume_run) return false;
  std::call_once(resume_decided_, [this] { resume_run_found_ = state_->holds_this_run(); });
  return resume_run_found_;
}

// Loaded at its first use, not when the frame is made: the command's own checks (the
// same-server guard) come before "no interrupted run to resume".
void RunFrame::load_state() {
  std::call_once(state_loaded_, [this] {
    if (!state_ || !resuming()) return;
    state_->load();
    log::info("resuming the run recorded in {}", state_->where());
  });
}

RunFrame::~RunFrame() = default;

ResumeState& RunFrame::state() {
  if (!state_) throw Error(ExitCode::internal, "the command " + settings_.command + " keeps no resume state");
  load_state();
  return *state_;
}

// Workers may ask for it first, several at once.
ItemLifecycle& RunFrame::lifecycle() {
  ResumeState& journal = state();
  std::call_once(lifecycle_made_, [this, &journal] { lifecycle_ = std::make_unique<ItemLifecycle>(journal, report_); });
  return *lifecycle_;
}

void RunFrame::start_writing() {
  if (!state_) return;
  if (resuming())
    load_state();
  else
    state_->reset();
}

void RunFrame::run_tasks(const std::string& phase, const std::function<void(TaskPool&)>& schedule) {
  engine::run_tasks(progress_, phase, settings_.run.progress_interval, jobs_, schedule);
}

int RunFrame::conclude(const std::string& done, const std::string& again_hint) {
  engine::conclude(report_, seconds(), done, again_hint);
  if (state_ && settings_.run.resume_run)
    state_->complete();
  else if (state_)
    state_->remove();
  return 0;
}

namespace {

// Runs `body` and writes the report `report` points at to `path` (when given), whether the
// body succeeds or throws; the body's error wins over a report that cannot be written.
int with_report(const RunOptions& run, const std::atomic<const Report*>& report, const std::function<int()>& body) {
  auto write = [&run, &report](int code, const std::string& error) {
    if (!run.report_path && !run.report_lines && !run.on_report) return;
    nlohmann::json json = report.load()->to_json(code, error);
    if (run.on_report) run.on_report(json);
    if (run.report_lines) {
      // The signal watcher's last words and the main thread may write at once: one report at a time.
      static std::mutex printing;
      std::lock_guard lock(printing);
      for (const auto& line : report_lines(json)) std::fputs((line + "\n").c_str(), stdout);
      std::fflush(stdout);
    }
    if (run.report_path) replace_file(*run.report_path, json.dump(2) + "\n", "check the path and free disk space");
  };
  // A stop that outlasts its grace period ends the process from the signal watcher: the
  // report still says what was done.
  // Then an enclosing run's (migrate's, around its copies), put back when this one ends.
  struct RestoreLastWords {
    std::function<void()> outer;
    ~RestoreLastWords() { set_last_words(std::move(outer)); }
  } restore{add_last_words([write] {
    write(static_cast<int>(ExitCode::interrupted), "interrupted; run the same command with --resume to continue");
  })};
  try {
    int code = body();
    write(code, "");
    return code;
  } catch (const Error& e) {
    try {
      write(static_cast<int>(e.code()), e.one_line());
    } catch (const Error&) {
      // The original error matters more than a report that could not be written.
    }
    throw;
  } catch (const std::exception& e) {
    // A bug still leaves a report saying so.
    try {
      write(static_cast<int>(ExitCode::internal), std::string("internal error: ") + e.what());
    } catch (const Error&) {
    }
    throw;
  }
}

}  // namespace

int run_in_frame(const RunSettings& settings, const std::function<Endpoints()>& open,
                 const std::function<int(RunFrame&)>& body) {
  // Until its endpoints are known the run's report is this one: it says what failed.
  Report early(settings.command, "", "");
  std::atomic<const Report*> report{&early};
  std::unique_ptr<RunFrame> frame;
  return with_report(settings.run, report, [&] {
    frame = std::make_unique<RunFrame>(settings, open());
    report = &frame->report();
    if (settings.run.forget_run) return frame->forget();
    if (frame->already_complete()) {
      log::info("the run {} is recorded complete and verified in {}; nothing to do", *settings.run.resume_run,
                frame->state().where());
      return 0;
    }
    return body(*frame);
  });
}

}  // namespace decant::engine
