#include "cli/app.hpp"

#include <fmt/core.h>
#include <cstdlib>
#include <unistd.h>

#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "k8s/decant_job.hpp"
#include "text/redact.hpp"
#include "process/signals.hpp"
#include "decant/version.hpp"
#include "mongo/client.hpp"

namespace decant::cli {

const CommandExitCodes kExitCodesExitCodes{"exit-codes", {}};

std::span<const CommandExitCodes> command_exit_codes() {
  static const CommandExitCodes* const kAll[] = {
      &kPgCopyExitCodes,        &kMongoCopyExitCodes,        &kMongoDumpExitCodes,     &kMongoRestoreExitCodes,
      &kPlanExitCodes,          &kMigrateExitCodes,          &kBackupCreateExitCodes,  &kBackupListExitCodes,
      &kBackupVerifyExitCodes,  &kBackupRestoreExitCodes,    &kBackupPruneExitCodes,   &kBackupRotateKeysExitCodes,
      &kBackupExportExitCodes,  &kBackupScheduleExitCodes,   &kUpgradeCheckExitCodes,  &kExitCodesExitCodes};
  static const std::vector<CommandExitCodes> all = [] {
    std::vector<CommandExitCodes> out;
    for (const auto* c : kAll) out.push_back(*c);
    return out;
  }();
  return all;
}

const CommandExitCodes* command_exit_codes(std::string_view command) {
  for (const auto& c : command_exit_codes())
    if (c.command == command) return &c;
  return nullptr;
}

int run(int argc, char** argv) {
  // Parse copies, and scrub the originals before anything else: `ps` reads our argv
  // memory, and the driver's set-up below takes milliseconds.
  std::vector<std::string> copies(argv, argv + argc);
  scrub_passwords(argc, argv);
  start_child_guard();  // while this is the only thread
  mongo::init_driver();
  install_signal_handlers();
  CLI::App app{"decant: move self-hosted platform databases to external servers, fast and verified"};
  app.set_version_flag("--version", std::string("decant ") + kVersion);
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log each step in detail");
  auto* pg = app.add_subcommand("pg", "PostgreSQL commands");
  pg->require_subcommand(1);
  Runner pg_copy = add_pg_copy(*pg);
  auto* mongo = app.add_subcommand("mongo", "MongoDB commands");
  mongo->require_subcommand(1);
  Runner mongo_copy = add_mongo_copy(*mongo);
  Runner mongo_dump = add_mongo_dump(*mongo);
  Runner mongo_restore = add_mongo_restore(*mongo);
  Runner plan = add_plan(app);
  Runner probe = add_probe(app);
  Runner migrate = add_migrate(app);
  Runner backup = add_backup(app);
  Runner upgrade_check = add_upgrade_check(app);
  auto* codes = app.add_subcommand("exit-codes", "List decant's exit codes: what each means, what to do, which commands "
                                                 "raise it");
  bool markdown = false, json = false;
  auto* as_markdown = codes->add_flag("--markdown", markdown, "As docs/exit-codes.md (which is this output)");
  auto* as_json = codes->add_flag("--json", json, "As JSON, with each command's codes");
  as_markdown->excludes(as_json);
  codes->footer(exit_codes_footer(kExitCodesExitCodes.codes));

  std::vector<char*> copy_ptrs;
  for (auto& c : copies) copy_ptrs.push_back(c.data());
  try {
    app.parse(argc, copy_ptrs.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::usage);
  }
  log::set_verbose(verbose);

  // The final line is printed by this thread or, when a stop outlasts its grace period,
  // by the signal watcher, never both.
  auto finish = [](int code, const std::string& line) {
    if (!claim_exit()) for (;;) pause();
    std::fflush(stdout);
    if (!line.empty()) fmt::print(stderr, "{}\n", line);
    return code;
  };
  try {
    // In a pod that decant's CLI started: an image of another version does nothing at all.
    if (const char* want = std::getenv(k8s::kExpectVersionVariable); want && *want && std::string_view(want) != kVersion)
      throw Error(ExitCode::missing_tool,
                  fmt::format("this image is decant {}, the CLI that started it is decant {}", kVersion, want),
                  fmt::format("give --image an image of decant {}", want));
    int code = static_cast<int>(ExitCode::usage);
    if (pg->got_subcommand("copy")) code = pg_copy();
    else if (mongo->got_subcommand("copy")) code = mongo_copy();
    else if (mongo->got_subcommand("dump")) code = mongo_dump();
    else if (mongo->got_subcommand("restore")) code = mongo_restore();
    else if (app.got_subcommand("plan")) code = plan();
    else if (app.got_subcommand("probe")) code = probe();
    else if (app.got_subcommand("migrate")) code = migrate();
    else if (app.got_subcommand("backup")) code = backup();
    else if (app.got_subcommand("upgrade-check")) code = upgrade_check();
    else if (codes->parsed()) {
      auto all = command_exit_codes();
      fmt::print("{}", markdown ? exit_codes_markdown(all) : json ? exit_codes_json(all) : exit_codes_text(all));
      code = 0;
    }
    return finish(code, "");
  } catch (const Error& e) {
    return finish(static_cast<int>(e.code()), "decant: error: " + e.one_line());
  } catch (const std::exception& e) {
    return finish(static_cast<int>(ExitCode::internal), std::string("decant: internal error: ") + e.what() +
                                                            "; please report it");
  }
}

}  // namespace decant::cli
