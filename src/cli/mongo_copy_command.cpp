#include "cli/commands.hpp"
#include "common/error.hpp"
#include "mongo/instance_copy.hpp"

namespace decant::cli {

const CommandExitCodes kMongoCopyExitCodes{"mongo copy", kServerCopyCodes};

Runner add_mongo_copy(CLI::App& mongo) {
  auto define = [](CLI::App* cmd, mongo::CopyOptions& options) {
    add_connection(cmd, "--source", options.source,
                   "MongoDB connection string of the source (authSource, authMechanism, tls, tlsCAFile, "
                   "tlsInsecure, replica sets)")
        ->required();
    add_connection(cmd, "--target", options.target, "MongoDB connection string of the target")->required();
    cmd->add_option("--db", options.databases,
                    "Copy only this database (repeatable); default: all but admin, local, config");
    cmd->add_flag("--drop", options.drop, "Drop target collections first (as mongorestore --drop)");
    add_run_options(cmd, options.run,
                    "Continue an interrupted copy: finished collections are not copied again");
    add_state_on_target(cmd, options.run);
  };
  const char* description = "Copy MongoDB databases from one server to another: collections, views, documents and indexes, in parallel, verified";
  return add_command<mongo::CopyOptions>(mongo, kMongoCopyExitCodes, mongo::copy_instance, description, define).run;
}

}  // namespace decant::cli
