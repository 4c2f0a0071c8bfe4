// `backup restore`: a backup's parts into servers, each item verified against the manifest.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/keys.hpp"
#include "backup/manifest.hpp"
#include "backup/repository.hpp"
#include "backup/restore_parts.hpp"
#include "engine/run_frame.hpp"

namespace decant::backup {
using nlohmann::json;

int restore(const RestoreOptions& options) {
  engine::RunSettings settings{"backup restore", "backup-restore", "the same --repo, --id and --pg/--mongo", options.run};
  std::string to = display_of(options.pg, options.mongo);
  return run_on_backup(settings, options.repo, options.id, to, [&](engine::RunFrame& frame, BackupAt& backup) {
    Repository& repo = *backup.repo;
    const IndexEntry& entry = backup.entry;
    auto keys = read_keys(options.keys);
    Manifest manifest = load_manifest(repo, entry.id, keys);
    restore_parts(manifest, repo, keys,
                  {options.mongo, options.pg, options.pg_bin, options.extension_update, options.drop, options.clean,
                   false},
                  frame);
    return frame.conclude("restore of backup " + entry.id + " complete and verified", "run the same command with --drop");
  });
}

}  // namespace decant::backup
