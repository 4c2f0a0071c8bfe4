#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "backup/repository.hpp"
#include "common/error.hpp"
#include "migrate/plan.hpp"

namespace decant::cli {
// Each command registers its subcommand and returns the function that runs it.
using Runner = std::function<int()>;

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

// Adds --progress-interval SECONDS (default 10) to `cmd`; read the value when the command
// runs, as milliseconds.
inline std::function<std::chrono::milliseconds()> add_progress_interval(CLI::App* cmd) {
  auto seconds = std::make_shared<double>(10.0);
  cmd->add_option("--progress-interval", *seconds, "Seconds between progress lines when stdout is not a terminal")
      ->check(CLI::PositiveNumber);
  return [seconds] { return std::chrono::milliseconds(static_cast<long>(*seconds * 1000)); };
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
