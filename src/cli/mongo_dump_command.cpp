#include <memory>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "mongo/dump_restore.hpp"

namespace decant::cli {

// A dump writes files, so it has no target to find occupied.
const CommandExitCodes kMongoDumpExitCodes{
    "mongo dump",
    {ExitCode::unreachable, ExitCode::auth, ExitCode::privileges, ExitCode::verify_failed, ExitCode::copy_failed,
     ExitCode::interrupted, ExitCode::local_io, ExitCode::nothing_to_resume, ExitCode::tls}};
const CommandExitCodes kMongoRestoreExitCodes{
    "mongo restore",
    {ExitCode::unreachable, ExitCode::auth, ExitCode::privileges, ExitCode::target_not_empty, ExitCode::verify_failed,
     ExitCode::copy_failed, ExitCode::interrupted, ExitCode::local_io, ExitCode::nothing_to_resume, ExitCode::tls}};

Runner add_mongo_dump(CLI::App& mongo) {
  auto options = std::make_shared<mongo::DumpOptions>();
  auto* cmd = mongo.add_subcommand("dump", "Write databases in the mongodump directory layout "
                                           "(DB/COLL.bson + DB/COLL.metadata.json), verified against the files");
  cmd->add_option("--source", options->source, "MongoDB connection string of the source")->required();
  cmd->add_option("--out", options->out_dir, "Directory to write (created if needed)")->required();
  cmd->add_flag("--gzip", options->gzip, "Compress the files with gzip (.bson.gz, .metadata.json.gz), as mongodump --gzip");
  cmd->add_option("--db", options->databases, "Dump only this database (repeatable); default: all but admin, local, config");
  add_run_options(cmd, options->run);
  add_resume_options(cmd, options->run, "mongo-dump",
                  "Continue an interrupted dump: files already written are checked again, not rewritten");
  cmd->footer(exit_codes_footer(kMongoDumpExitCodes.codes));
  return [options] { return mongo::dump(*options); };
}

Runner add_mongo_restore(CLI::App& mongo) {
  auto options = std::make_shared<mongo::RestoreOptions>();
  auto* cmd = mongo.add_subcommand("restore", "Restore a mongodump directory (written by mongodump or decant), "
                                              "verified against the files");
  cmd->add_option("--dir", options->dir,
                  "The dump directory (one subdirectory per database), or one database's directory")
      ->required();
  cmd->add_option("--target", options->target, "MongoDB connection string of the target")->required();
  cmd->add_flag("--drop", options->drop, "Drop target collections first (as mongorestore --drop)");
  cmd->add_option("--db", options->db,
                  "For a whole dump: restore only this database of it; for one database's directory: the target "
                  "database (default: the directory's name)");
  add_run_options(cmd, options->run);
  add_resume_options(cmd, options->run, "mongo-restore",
                  "Continue an interrupted restore: finished collections are checked again, not restored again");
  cmd->footer(exit_codes_footer(kMongoRestoreExitCodes.codes));
  return [options] { return mongo::restore(*options); };
}

}  // namespace decant::cli
