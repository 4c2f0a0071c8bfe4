#include <memory>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "pg/instance_copy.hpp"

namespace decant::cli {

const CommandExitCodes kPgCopyExitCodes{
    "pg copy",
    {ExitCode::unreachable, ExitCode::auth, ExitCode::missing_tool, ExitCode::privileges, ExitCode::target_not_empty,
     ExitCode::verify_failed, ExitCode::copy_failed, ExitCode::interrupted, ExitCode::local_io,
     ExitCode::nothing_to_resume, ExitCode::tls, ExitCode::same_server}};

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
  cmd->add_flag("--clean", options->clean, "Drop and recreate target databases that already hold objects");
  cmd->add_option("--pg-bin", options->pg_bin, "Directory holding the pg_dump and pg_restore to use");
  add_extension_update(cmd, options->extension_update);
  add_run_options(cmd, options->run);
  add_resume_options(cmd, options->run, "pg-copy", "Continue an interrupted copy: finished tables are not copied again");
  cmd->footer(exit_codes_footer(kPgCopyExitCodes.codes));
  return [options] { return pg::copy_instance(*options); };
}

}  // namespace decant::cli
