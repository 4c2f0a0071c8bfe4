#include <memory>

#include "cli/commands.hpp"
#include "pg/instance_copy.hpp"

namespace decant::cli {

Runner add_pg_copy(CLI::App& pg) {
  auto options = std::make_shared<pg::CopyOptions>();
  auto* cmd = pg.add_subcommand("copy", "Copy a whole PostgreSQL instance (roles, databases, schema, data) "
                                        "from one server to another, in parallel, verified");
  cmd->add_option("--source", options->source,
                  "libpq URI or key=value string of the source server's maintenance database "
                  "(PG* variables and ~/.pgpass apply)")
      ->required();
  cmd->add_option("--target", options->target, "libpq URI or key=value string of the target server's maintenance database")
      ->required();
  cmd->add_option("--dbname", options->databases, "Copy only this database (repeatable); default: all non-template ones");
  cmd->add_option("-j,--jobs", options->jobs, "Parallel workers; default: the number of CPUs")->check(CLI::Range(1, 256));
  cmd->add_flag("--clean", options->clean, "Drop and recreate target databases that already hold objects");
  cmd->add_flag("--resume", options->resume, "Continue an interrupted copy: finished tables are not copied again");
  cmd->add_option("--report", options->report_path, "Write the summary as JSON to this file");
  cmd->add_option("--state-dir", options->state_dir,
                  "Where the resume state is kept; default: ~/.local/state/decant/pg-copy-<id>");
  cmd->add_option("--pg-bin", options->pg_bin, "Directory holding the pg_dump and pg_restore to use");
  auto interval = add_progress_interval(cmd);
  cmd->footer(
      "Exit codes: 0 copied and verified; 2 usage or malformed URI; 3 server unreachable; 4 authentication "
      "failed;\n5 pg_dump/pg_restore missing or too old; 6 insufficient privileges; 7 target not empty (nothing "
      "changed);\n8 verification found differences; 9 a server rejected a statement; 10 interrupted (use --resume); "
      "\n11 local I/O error (state directory, report, disk full); 12 nothing to resume; 13 TLS failure; 1 internal error.");
  return [options, interval] {
    options->progress_interval = interval();
    return pg::copy_instance(*options);
  };
}

}  // namespace decant::cli
