// `backup export`: a backup in its engines' own formats, each file checked against the manifest.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/keys.hpp"
#include "backup/manifest.hpp"
#include "backup/mongo_part.hpp"
#include "backup/parts.hpp"
#include "backup/pg_part.hpp"
#include "backup/repository.hpp"
#include "common/error.hpp"
#include "engine/run_frame.hpp"

namespace decant::backup {
using nlohmann::json;

int export_backup(const ExportOptions& options) {
  engine::RunSettings settings{"backup export", "backup-export", "the same --repo, --id and --out", options.run};
  return run_on_backup(settings, options.repo, options.id, options.out_dir, [&](engine::RunFrame& frame, BackupAt& backup) {
    Repository& repo = *backup.repo;
    const IndexEntry& entry = backup.entry;
    auto keys = read_keys(options.keys);
    Manifest manifest = load_manifest(repo, entry.id, keys);
    std::vector<const ItemEntry*> items;
    bool has_pg = false;
    for (const auto& i : manifest.items) {
      if (i.engine == "mongo") items.push_back(&i);
      if (i.engine == "pg") has_pg = true;
    }
    bool as_pg = options.format == "pg_dump";
    if (as_pg ? !has_pg : items.empty())
      throw Error(ExitCode::usage,
                  "backup " + entry.id + " has no " + (as_pg ? "PostgreSQL" : "MongoDB") + " part to export",
                  "give another --id or --format");
    frame.start_writing();
    GroupSpans spans;
    RestoreContext ctx = restore_context(repo, keys, frame, spans);
    if (as_pg)
      export_pg_dump(manifest, options.out_dir, ctx);
    else
      run_tasks(frame, "exporting", export_mongodump(items, options.out_dir, ctx), spans);
    return frame.conclude("backup " + entry.id + " exported to " + options.out_dir +
                              (as_pg ? " (psql -f globals.sql, then pg_restore -C -d postgres DB/ per database)"
                                     : " (mongodump layout)") +
                              " and verified",
                          "export again into an empty directory");
  });
}

}  // namespace decant::backup
