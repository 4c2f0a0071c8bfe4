#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "backup/repository.hpp"
#include "engine/run_options.hpp"
#include "common/error.hpp"
#include "migrate/plan.hpp"

namespace decant::cli {
// Each command registers its subcommand and returns the function that runs it.
using Runner = std::function<int()>;

// A registered subcommand and what runs it when it is the one given.
struct Command {
  CLI::App* app;
  Runner run;
};

// The exit codes each command can raise (besides 0, 1 and 2), declared beside its
// definition; its --help footer, `decant exit-codes`, docs/exit-codes.md and the tests'
// check of every run they make are generated from these.
extern const CommandExitCodes kPgCopyExitCodes, kMongoCopyExitCodes, kMongoDumpExitCodes, kMongoRestoreExitCodes,
    kPlanExitCodes, kMigrateExitCodes, kBackupCreateExitCodes, kBackupListExitCodes, kBackupVerifyExitCodes,
    kBackupRestoreExitCodes, kBackupPruneExitCodes, kBackupRotateKeysExitCodes, kBackupExportExitCodes,
    kBackupScheduleExitCodes, kUpgradeCheckExitCodes, kExitCodesExitCodes;
// Every command's declaration, in the order of `decant --help`.
std::span<const CommandExitCodes> command_exit_codes();
// The declaration of one command ("backup create"); nullptr for one decant does not have.
const CommandExitCodes* command_exit_codes(std::string_view command);

// What every resumable run against a server can meet: the server's refusals, a lost
// connection, a stop, a local disk, a resume without a state.
constexpr ExitCodeSet kServerRunCodes{ExitCode::unreachable, ExitCode::auth,        ExitCode::privileges,
                                      ExitCode::verify_failed, ExitCode::copy_failed, ExitCode::interrupted,
                                      ExitCode::local_io,     ExitCode::nothing_to_resume, ExitCode::tls};
// A copy from one server to another besides: an occupied target, a target that is the source.
constexpr ExitCodeSet kServerCopyCodes =
    kServerRunCodes | ExitCodeSet{ExitCode::target_not_empty, ExitCode::same_server};

// Registers the subcommand of `parent` that `codes` declares (named by its last word), with
// its --help footer from the declaration and its options as `define(cmd, options)` adds
// them; it runs `run(options)`.
template <typename Options, typename Run, typename Define>
Command add_command(CLI::App& parent, const CommandExitCodes& codes, Run run, const std::string& description,
                    Define define) {
  auto options = std::make_shared<Options>();
  std::string_view path = codes.command;
  auto* cmd = parent.add_subcommand(std::string(path.substr(path.rfind(' ') + 1)), description);
  define(cmd, *options);
  cmd->footer(exit_codes_footer(codes.codes));
  return {cmd, [options, run] { return run(*options); }};
}

// A connection string option: "env:NAME" stands for the value of the environment variable
// NAME, so that one with its password (from a Kubernetes Secret) never is in argv.
template <typename T>
CLI::Option* add_connection(CLI::App* cmd, const std::string& name, T& value, const std::string& help) {
  return cmd->add_option(name, value, help + " (or env:NAME: the value of that environment variable)")
      ->transform([](const std::string& text) {
        if (text.rfind("env:", 0) != 0) return text;
        const char* v = std::getenv(text.substr(4).c_str());
        if (!v || !*v) throw CLI::ValidationError("the environment variable " + text.substr(4) + " is not set");
        return std::string(v);
      });
}

inline void add_jobs(CLI::App* cmd, int& jobs) {
  cmd->add_option("-j,--jobs", jobs, "Parallel workers; default: the number of CPUs")->check(CLI::Range(1, 256));
}
// Adds the options every long run takes: --jobs, --report and --progress-interval; with a
// `resume_help` (what a resumed run keeps), --resume and --state-dir too.
inline void add_run_options(CLI::App* cmd, engine::RunOptions& run, const std::string& resume_help = "") {
  add_jobs(cmd, run.jobs);
  cmd->add_option("--report", run.report_path, "Write the summary as JSON to this file");
  cmd->add_option_function<double>(
         "--progress-interval",
         [&run](double seconds) { run.progress_interval = std::chrono::milliseconds(static_cast<long>(seconds * 1000)); },
         "Seconds between progress lines when stdout is not a terminal (default 10)")
      ->check(CLI::PositiveNumber);
  if (resume_help.empty()) return;
  cmd->add_flag("--resume", run.resume, resume_help);
  // The state's kind as the engine names it: "pg-copy", "backup-create", "migrate".
  const CLI::App* parent = cmd->get_parent();
  std::string kind = parent && parent->get_parent() ? parent->get_name() + "-" + cmd->get_name() : cmd->get_name();
  cmd->add_option("--state-dir", run.state_dir,
                  "Where the resume state is kept; default: ~/.local/state/decant/" + kind + "-<id>");
}
// Adds --state-on-target, --resume-run, --source-name, --forget-run and --report-lines (after
// add_run_options): for a copy
// that a Kubernetes Job runs, whose pod's disk does not outlive it and whose log is its only
// way back to the CLI.
inline void add_state_on_target(CLI::App* cmd, engine::RunOptions& run) {
  auto* on_target = cmd->add_flag("--state-on-target", run.state_on_target,
                                  "Keep the resume state on the target server (a database decant_state: dropped once the "
                                  "copy verified, or with --resume-run one line saying so) rather than in --state-dir: it "
                                  "outlives this machine or pod");
  on_target->excludes(cmd->get_option("--state-dir"));
  cmd->add_option("--resume-run", run.resume_run,
                  "Resume the run named so when the state holds it, else start it anew under that name: for a copy "
                  "that its own replacement repeats with the same arguments (a Kubernetes Job's next pod)")
      ->excludes(cmd->get_option("--resume"));
  cmd->add_option("--source-name", run.source_name,
                  "Name the source so in the state and the report, whatever its address (migrate's Jobs: the pod they "
                  "read): a run is known by its ends");
  cmd->add_flag("--forget-run", run.forget_run,
                "Copy nothing: drop the state on the target when it records the --resume-run run complete, else leave "
                "it (what decant migrate runs once the release points at the targets)")
      ->needs(on_target)
      ->needs(cmd->get_option("--resume-run"));
  cmd->add_flag("--report-lines", run.report_lines,
                "Also write the JSON report to standard output, as lines 'decant-report I/N ...' that decant migrate "
                "puts together from a Job's log");
}
// Adds --extension-update NAME (repeatable): extensions created at the target's default
// version rather than the source's.
inline void add_extension_update(CLI::App* cmd, std::set<std::string>& names) {
  cmd->add_option("--extension-update", names,
                  "Create this extension (repeatable) at the target's default version instead of the source's; "
                  "without it, a target that lacks the source's version is refused before anything is written");
}
Runner add_pg_copy(CLI::App& pg);
Runner add_mongo_copy(CLI::App& mongo);
Runner add_mongo_dump(CLI::App& mongo);
Runner add_mongo_restore(CLI::App& mongo);
Runner add_plan(CLI::App& app);
Runner add_probe(CLI::App& app);
// The options plan and migrate share (cluster, targets, checks).
void add_plan_options(CLI::App* cmd, migrate::PlanOptions& options);
Runner add_migrate(CLI::App& app);
Runner add_backup(CLI::App& app);
// --repo and its S3 options (--s3-endpoint, --s3-region, --s3-addressing); with a prefix
// ("backup-": --backup-repo, --backup-s3-...) for a command whose backup is optional.
void add_repository_options(CLI::App* cmd, backup::RepositoryOptions& repo, const std::string& prefix,
                            const std::string& repo_help);
Runner add_upgrade_check(CLI::App& app);
}  // namespace decant::cli
