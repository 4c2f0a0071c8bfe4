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
#include <string>
#include <vector>

#include "backup/archive_item.hpp"
#include "backup/mongo_part.hpp"

namespace decant::backup {

class PgBackup {
 public:
  // Connects, reads the roles and which databases to back up (all that accept connections
  // but the templates, or `databases`), and finds pg_dump.
  PgBackup(const std::string& uri, const std::vector<std::string>& databases, const std::optional<std::string>& pg_bin);
  ~PgBackup();
  std::string display() const;
  nlohmann::json source_description() const;
  // Takes each database's snapshot, schema and catalog, then returns one task per item.
  Tasks tasks(const CreateContext& ctx, engine::ItemLifecycle& lifecycle, engine::ProgressBoard& progress);
  // The manifest's items, once every task has finished.
  std::vector<ItemEntry> entries(const engine::ResumeState& state) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class PgRestore {
 public:
  PgRestore(const std::string& uri, const Manifest& manifest, const std::optional<std::string>& pg_bin);
  ~PgRestore();
  std::string display() const;
  // Refuses a target that is the backup's source when `refuse_source` (a scratch restore),
  // and target databases that hold anything unless `clean`.
  void check_target(bool clean, bool refuse_source);
  // Applies the roles and creates the databases with their pre-data schema, then returns
  // one task per table and large-object set; `after` sets the sequences, restores the
  // post-data and checks roles and sequences.
  Tasks tasks(const RestoreContext& ctx, bool clean);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Writes the PostgreSQL part as pg_dump's plain format, for psql: DIR/globals.sql (the
// roles), DIR/databases.sql (CREATE DATABASE with encoding and locale) and DIR/DB.sql per
// database (pg_restore's SQL of the pre-data, a COPY block per table, the sequences'
// values, the post-data). Each table's rows are checked against the manifest as written.
// Large objects are left out (and reported so).
void export_pg_sql(const Manifest& manifest, const std::string& out_dir, const RestoreContext& ctx,
                   const std::optional<std::string>& pg_bin);

}  // namespace decant::backup
