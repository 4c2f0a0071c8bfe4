#include "cli/commands.hpp"
#include "common/error.hpp"
#include "pg/instance_copy.hpp"

namespace decant::cli {

const CommandExitCodes kPgCopyExitCodes{"pg copy", kServerCopyCodes | ExitCodeSet{ExitCode::missing_tool}};

Runner add_pg_copy(CLI::App& pg) {
  auto define = [](CLI::App* cmd, pg::CopyOptions& options) {
    add_connection(cmd, "--source", options.source,
                   "libpq URI or key=value string of the source server's maintenance database "
                   "(PG* variables and ~/.pgpass apply)")
        ->required();
    add_connection(cmd, "--target", options.target,
                   "libpq URI or key=value string of the target server's maintenance database")
        ->required();
    cmd->add_option("--dbname", options.databases,
                    "Copy only this database (repeatable); default: all non-template ones");
    cmd->add_flag("--clean", options.clean, "Drop and recreate target databases that already hold objects");
    cmd->add_option("--pg-bin", options.pg_bin, "Directory holding the pg_dump and pg_restore to use");
    add_extension_update(cmd, options.extension_update);
    add_run_options(cmd, options.run, "Continue an interrupted copy: finished tables are not copied again");
    add_state_on_target(cmd, options.run);
  };
  const char* description = "Copy a whole PostgreSQL instance (roles, databases, schema, data) from one server to another, in parallel, verified";
  return add_command<pg::CopyOptions>(pg, kPgCopyExitCodes, pg::copy_instance, description, define).run;
}

}  // namespace decant::cli
