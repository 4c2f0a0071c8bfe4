#pragma once
// The PostgreSQL part of a backup: the roles and each database's properties and sequence
// values (metadata items), its schema (pg_dump's custom-format archive of the pre-data and
// post-data sections, as an item of 1 MiB pieces), each table's rows (COPY text, read in
// one exported snapshot per database) and its large objects. A restore is the copy's
// target half: roles, databases, pre-data, rows, large objects, sequences, post-data; each
// table and the large objects read back and compared with the manifest's digests.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/manifest.hpp"
#include "backup/parts.hpp"

namespace decant::backup {

// The PostgreSQL source of a backup being taken: connects, reads the roles and which
// databases to back up (all that accept connections but the templates, or `databases`),
// and finds pg_dump. Its tasks take each database's snapshot, schema and catalog first.
std::unique_ptr<BackupSource> open_pg_backup(const std::string& uri, const std::vector<std::string>& databases,
                                             const std::optional<std::string>& pg_bin);

class PgRestore {
 public:
  PgRestore(const std::string& uri, const Manifest& manifest, const std::optional<std::string>& pg_bin,
            const std::set<std::string>& extension_update);
  ~PgRestore();
  std::string display() const;
  // Refuses a target that is the backup's source when `refuse_source` (a scratch restore),
  // target databases that hold anything unless `clean`, and a target that does not offer
  // the extensions' versions (but those of `extension_update`).
  void check_target(bool clean, bool refuse_source);
  // Applies the roles and creates the databases with their pre-data schema, then returns
  // one task per table and large-object set; `after` sets the sequences, restores the
  // post-data and checks roles and sequences.
  Tasks tasks(const RestoreContext& ctx, bool clean);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Writes the PostgreSQL part as pg_dump writes it, for PostgreSQL's own tools:
// DIR/globals.sql (the roles, as pg_dumpall --globals-only, for psql) and DIR/DB/ per
// database, a directory-format archive (`pg_restore -C -d postgres DIR/DB`, or -j N):
// the backup's own schema archive with a TABLE DATA entry per table, the sequences'
// values and the large objects added, in the archive version of the pg_dump that made
// the backup. Every item is checked against the manifest as it is written.
void export_pg_dump(const Manifest& manifest, const std::string& out_dir, const RestoreContext& ctx);

}  // namespace decant::backup
