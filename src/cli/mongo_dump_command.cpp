#include "cli/commands.hpp"
#include "common/error.hpp"
#include "mongo/dump_restore.hpp"

namespace decant::cli {

// A dump writes files, so it has no target to find occupied.
const CommandExitCodes kMongoDumpExitCodes{"mongo dump", kServerRunCodes};
const CommandExitCodes kMongoRestoreExitCodes{"mongo restore",
                                              kServerRunCodes | ExitCodeSet{ExitCode::target_not_empty}};

Runner add_mongo_dump(CLI::App& mongo) {
  auto define = [](CLI::App* cmd, mongo::DumpOptions& options) {
    add_connection(cmd, "--source", options.source, "MongoDB connection string of the source")->required();
    cmd->add_option("--out", options.out_dir, "Directory to write (created if needed)")->required();
    cmd->add_flag("--gzip", options.gzip,
                  "Compress the files with gzip (.bson.gz, .metadata.json.gz), as mongodump --gzip");
    cmd->add_option("--db", options.databases,
                    "Dump only this database (repeatable); default: all but admin, local, config");
    add_run_options(cmd, options.run,
                    "Continue an interrupted dump: files already written are checked again, not rewritten");
  };
  const char* description = "Write databases in the mongodump directory layout (DB/COLL.bson + DB/COLL.metadata.json), verified against the files";
  return add_command<mongo::DumpOptions>(mongo, kMongoDumpExitCodes, mongo::dump, description, define).run;
}

Runner add_mongo_restore(CLI::App& mongo) {
  auto define = [](CLI::App* cmd, mongo::RestoreOptions& options) {
    cmd->add_option("--dir", options.dir, "The dump directory (one subdirectory per database), or one database's directory")
        ->required();
    add_connection(cmd, "--target", options.target, "MongoDB connection string of the target")->required();
    cmd->add_flag("--drop", options.drop, "Drop target collections first (as mongorestore --drop)");
    cmd->add_option("--db", options.db,
                    "For a whole dump: restore only this database of it; for one database's directory: the target "
                    "database (default: the directory's name)");
    add_run_options(cmd, options.run,
                    "Continue an interrupted restore: finished collections are checked again, not restored again");
  };
  const char* description = "Restore a mongodump directory (written by mongodump or decant), verified against the files";
  return add_command<mongo::RestoreOptions>(mongo, kMongoRestoreExitCodes, mongo::restore, description, define).run;
}

}  // namespace decant::cli
