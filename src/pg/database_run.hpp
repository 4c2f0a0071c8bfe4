#pragma once
// One database's copy as the phases of `pg copy` share it: its snapshot, catalog, schema
// dump and index builds.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pg/catalog.hpp"
#include "pg/connection.hpp"
#include "pg/dump_archive.hpp"
#include "pg/schema.hpp"
#include "pg/extensions.hpp"
#include "pg/globals.hpp"
#include "pg/index_builds.hpp"

namespace decant::pg {

// Everything about one database's copy that outlives a single task.
struct DatabaseRun {
  DatabaseInfo info;
  Connection coordinator;  // holds the exported snapshot open until the data is in
  std::string snapshot;
  DatabaseCatalog catalog;
  std::filesystem::path schema_file;
  std::vector<TocEntry> toc;
  // Per table: its builds, and how many CREATE INDEX are still running; the last one
  // to finish queues the table's finish step.
  struct TableBuilds {
    std::vector<const IndexBuild*> builds;
    std::atomic<int> pending{0};
  };
  std::map<uint32_t, TableBuilds> builds_by_table;
  std::set<uint32_t> built_oids;  // TOC oids decant builds itself
  bool keep_owners = true;        // false: some owner is a role the target login cannot act as
  ExtensionVersions extensions;   // the versions its extensions are created at on the target
  std::chrono::steady_clock::time_point started;
};

// The database's key in the resume state: "<database>/<what>".
inline std::string run_key(const DatabaseRun& db, const std::string& what) { return db.info.name + "/" + what; }

}  // namespace decant::pg
