#include "cli/commands.hpp"
#include "common/error.hpp"
#include "migrate/migration.hpp"

namespace decant::cli {

const CommandExitCodes kMigrateExitCodes{
    "migrate", kServerCopyCodes | ExitCodeSet{ExitCode::missing_tool, ExitCode::cluster_mismatch, ExitCode::cluster_failed,
                                              ExitCode::repository, ExitCode::unsupported_target}};

namespace {

void define_migrate(CLI::App* cmd, migrate::MigrateOptions& options) {
  add_plan_options(cmd, options.plan);
  cmd->add_option("--chart", options.chart,
                  "Chart reference for `helm upgrade` (a repository chart, a directory or a .tgz); without it, "
                  "the command is printed and the run stops at a resumable point");
  cmd->add_option("--values-out", options.values_out, "Write the values overlay here; default: in the state directory");
  cmd->add_option("--secret-name", options.secret_name, "Secret that holds the external credentials")
      ->capture_default_str();
  cmd->add_option("--wait-timeout", options.wait_seconds,
                  "Seconds to wait for the pods to go, and for the upgraded release to be ready")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_flag("--dry-run", options.dry_run, "Run the preflight and print every command it would run; change nothing");
  add_run_options(cmd, options.run, "Continue an interrupted migration after its last finished phase");
  cmd->add_flag("--rollback", options.rollback,
                "Put the release back as recorded (helm rollback, replicas, decant's Secret removed)");
  cmd->add_flag("!--no-auto-rollback", options.auto_rollback,
                "Keep the application scaled down when the migration fails before the upgrade");
  auto& b = options.backup;
  add_repository_options(cmd, b.repo, "backup-",
                         "Before anything is changed, back the internal databases up here (backup create --reason "
                         "pre-upgrade): a directory or s3://BUCKET/PREFIX");
  cmd->add_option("--backup-recipient", b.recipients.recipients, "An age public key the backup is encrypted to; repeatable");
  cmd->add_option("--backup-recipients-file", b.recipients.recipient_files, "A file of age public keys; repeatable")
      ->check(CLI::ExistingFile);
}

int run_migrate(migrate::MigrateOptions& options) {
  if (!options.backup.repo.url.empty() && options.backup.recipients.recipients.empty() &&
      options.backup.recipients.recipient_files.empty())
    throw Error(ExitCode::usage, "--backup-repo without a recipient", "give --backup-recipient age1... (or a file)");
  options.backup.run.jobs = options.run.jobs;
  return migrate::migrate(options);
}

}  // namespace

Runner add_migrate(CLI::App& app) {
  return add_command<migrate::MigrateOptions>(
             app, kMigrateExitCodes, run_migrate,
             "Move CircleCI Server's internal PostgreSQL and MongoDB to external servers: preflight, scale the "
             "application down, copy and verify, point the release at the targets with helm upgrade, wait until "
             "it is back; resumable, with --rollback",
             define_migrate)
      .run;
}

}  // namespace decant::cli
