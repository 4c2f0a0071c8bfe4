#include <memory>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "mongo/instance_copy.hpp"

namespace decant::cli {

const CommandExitCodes kMongoCopyExitCodes{
    "mongo copy",
    {ExitCode::unreachable, ExitCode::auth, ExitCode::privileges, ExitCode::target_not_empty, ExitCode::verify_failed,
     ExitCode::copy_failed, ExitCode::interrupted, ExitCode::local_io, ExitCode::nothing_to_resume, ExitCode::tls,
     ExitCode::same_server}};

Runner add_mongo_copy(CLI::App& mongo) {
  auto options = std::make_shared<mongo::CopyOptions>();
  auto* cmd = mongo.add_subcommand("copy", "Copy MongoDB databases from one server to another: collections, views, "
                                           "documents and indexes, in parallel, verified");
  cmd->add_option("--source", options->source,
                  "MongoDB connection string of the source (authSource, authMechanism, tls, tlsCAFile, tlsInsecure, "
                  "replica sets)")
      ->required();
  cmd->add_option("--target", options->target, "MongoDB connection string of the target")->required();
  cmd->add_option("--db", options->databases, "Copy only this database (repeatable); default: all but admin, local, config");
  cmd->add_flag("--drop", options->drop, "Drop target collections first (as mongorestore --drop)");
  add_run_options(cmd, options->run);
  add_resume_options(cmd, options->run, "mongo-copy", "Continue an interrupted copy: finished collections are not copied again");
  cmd->footer(exit_codes_footer(kMongoCopyExitCodes.codes));
  return [options] { return mongo::copy_instance(*options); };
}

}  // namespace decant::cli
