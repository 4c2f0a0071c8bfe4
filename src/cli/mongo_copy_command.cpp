#include <memory>

#include "cli/commands.hpp"
#include "mongo/instance_copy.hpp"

namespace decant::cli {

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
  cmd->add_option("-j,--jobs", options->jobs, "Parallel workers; default: the number of CPUs")->check(CLI::Range(1, 256));
  cmd->add_flag("--drop", options->drop, "Drop target collections first (as mongorestore --drop)");
  cmd->add_flag("--resume", options->resume, "Continue an interrupted copy: finished collections are not copied again");
  cmd->add_option("--report", options->report_path, "Write the summary as JSON to this file");
  cmd->add_option("--state-dir", options->state_dir,
                  "Where the resume state is kept; default: ~/.local/state/decant/mongo-copy-<id>");
  auto interval = add_progress_interval(cmd);
  cmd->footer(
      "Exit codes: 0 copied and verified; 2 usage or malformed URI; 3 server unreachable; 4 authentication failed;\n"
      "6 insufficient privileges; 7 target collection not empty (nothing changed); 8 verification found differences;\n"
      "9 a server rejected a command; 10 interrupted (use --resume); 11 local I/O error; 12 nothing to resume;\n"
      "13 TLS failure; 1 internal error.");
  return [options, interval] {
    options->progress_interval = interval();
    return mongo::copy_instance(*options);
  };
}

}  // namespace decant::cli
