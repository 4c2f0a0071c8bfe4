#pragma once
// What one source database holds that decant moves itself (pg_dump/pg_restore create
// the rest): table data, sequence values, large objects, and the indexes and
// constraints it builds per table as soon as that table's data is in.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pg/connection.hpp"
#include "pg/large_objects.hpp"

namespace decant::pg {

struct TableInfo {
  uint32_t oid = 0;
  std::string display;    // schema.name, unquoted, for people
  std::string qualified;  // "schema"."name", quoted, for SQL
  std::vector<std::string> columns;  // quoted, sorted by name: stored columns only
  bool binary_ok = true;             // every column has a portable binary form
  bool unlogged = false;
  std::optional<std::string> filter;  // an extension configuration table's WHERE
  // An extension's configuration table: the extension's own script created it, with
  // foreign keys among such tables already in place, so it is loaded in FK order and
  // emptied with DELETE rather than TRUNCATE.
  bool extension_config = false;
  std::vector<uint32_t> references;  // oids of tables its foreign keys point to
  uint64_t bytes = 0;                 // on-disk size, for scheduling and the ETA

  std::string column_list() const;  // "(a, b)" or "" for a table without columns
  // SELECT/COPY text that reads exactly the rows decant copies.
  std::string copy_out_sql(bool binary) const;
  std::string copy_in_sql(bool binary, bool freeze) const;
};

// A statement that takes an exclusive lock on its table, run after all of the table's
// index builds (so that two of them never wait on each other).
struct FinishStep {
  std::string sql;
  std::string constraint;  // when set: the constraint it adds, skipped if it exists (resume)
  std::string tablespace;  // default_tablespace for it ("" for the database's default)
};

// One index or index-backed constraint, built by decant right after its table's data.
struct IndexBuild {
  uint32_t toc_oid = 0;  // the oid pg_dump's TOC names it by (index or constraint)
  uint32_t table_oid = 0;
  std::string table;       // "schema"."table"
  std::string display;     // schema.index
  std::string qualified;   // "schema"."index", to test whether it exists
  std::string tablespace;  // the index's tablespace; "" for the database's default
  // CREATE [UNIQUE] INDEX: a SHARE lock, so a table's index builds run in parallel.
  std::optional<std::string> create_index;
  std::vector<FinishStep> finish;  // constraint, CLUSTER ON, REPLICA IDENTITY, statistics
};

struct SequenceInfo {
  std::string display;
  std::string qualified;
};

struct ExtensionInfo {
  std::string name;
  std::string version;
  std::string schema;
};

struct DatabaseCatalog {
  std::vector<TableInfo> tables;  // largest first
  std::vector<IndexBuild> indexes;
  std::vector<SequenceInfo> sequences;
  std::vector<LargeObjectInfo> large_objects;
};

// Reads the catalog in the connection's current snapshot. Throws Error(privileges)
// when the source login cannot read a table.
DatabaseCatalog read_catalog(Connection& source);

// Extension configuration tables, each after the tables its foreign keys reference.
std::vector<const TableInfo*> extension_tables_in_fk_order(const std::vector<TableInfo>& tables);

// Sets the session so that text values round-trip exactly and identically on both ends.
void set_portable_session(Connection& conn, const std::string& encoding);

}  // namespace decant::pg
