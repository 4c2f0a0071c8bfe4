// The PostgreSQL part of `backup create`: one snapshot per database, its items into chunks.
#include "backup/pg_part.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "archive/bson_file.hpp"
#include "backup/chunks.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "io/memory_file.hpp"
#include "process/process.hpp"
#include "engine/run_frame.hpp"
#include "engine/item_lifecycle.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "pg/catalog.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/dump_archive.hpp"
#include "pg/extensions.hpp"
#include "pg/globals.hpp"
#include "pg/large_objects.hpp"
#include "pg/schema.hpp"
#include "pg/server_identity.hpp"
#include "pg/tools.hpp"

#include "backup/pg_records.hpp"

namespace decant::backup {
using nlohmann::json;
using namespace pg_records;

namespace {

constexpr size_t kSchemaPiece = 1u << 20;

// A string as rows of at most kSchemaPiece bytes: the schema archive through the chunks.
class PiecesSource : public engine::RowSource {
 public:
  explicit PiecesSource(std::string bytes) : bytes_(std::move(bytes)) {}
  bool next(std::string_view& row) override {
    if (at_ >= bytes_.size()) return false;
    row = std::string_view(bytes_).substr(at_, kSchemaPiece);
    at_ += row.size();
    return true;
  }

 private:
  std::string bytes_;
  size_t at_ = 0;
};

// A table's rows are COPY text lines, each ending with its only newline.
template <typename Database>
ArchiveItem table_item(const Database& db, const pg::TableInfo& table) {
  return {"pg", db.info.name, table.display, "table", table_json(table), Framing::lines};
}
}  // namespace

namespace {

struct PgBackupState {
  pg::ConnInfo info;
  pg::Connection admin;
  pg::PgTools tools;
  std::unique_ptr<pg::SchemaTransfer> schema;
  pg::Roles roles;
  json description;
  struct Database {
    pg::DatabaseInfo info;
    pg::Connection coordinator;  // holds the exported snapshot while the tasks read in it
    std::string snapshot;
    std::string schema_archive;
    pg::DatabaseCatalog catalog;
    std::vector<pg::ExtensionInfo> extensions;
    json sequences = json::array();
  };
  std::vector<std::unique_ptr<Database>> databases;
  SessionCache sessions;

  // A worker's session in the database's snapshot.
  pg::Connection& session(int worker, const Database& db) {
    return sessions.get(worker, db.info.name, [&] {
      auto conn = pg::Connection::open(info, db.info.name);
      conn.exec("SET default_transaction_read_only = on");
      pg::set_portable_session(conn, db.info.encoding);
      conn.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      conn.exec("SET TRANSACTION SNAPSHOT " + conn.quote_literal(db.snapshot));
      return conn;
    });
  }
};

class PgBackup final : public BackupSource {
 public:
  // Connects, reads the roles and which databases to back up (all that accept connections
  // but the templates, or `databases`), and finds pg_dump.
  PgBackup(const std::string& uri, const std::vector<std::string>& databases, const std::optional<std::string>& pg_bin);
  std::string display() const override { return state_.info.display(); }
  std::string engine() const override { return "pg"; }
  nlohmann::json source_description() const override { return state_.description; }
  // Takes each database's snapshot, schema and catalog, then returns one task per item.
  Tasks tasks(const CreateContext& ctx, engine::RunFrame& frame) override;
  std::vector<ItemEntry> entries(const engine::ResumeState& state) const override;

 private:
  using State = PgBackupState;
  State state_;
};

}  // namespace

PgBackup::PgBackup(const std::string& uri, const std::vector<std::string>& databases,
                   const std::optional<std::string>& pg_bin)
    : state_() {
  State& st = state_;
  st.info = pg::ConnInfo::parse(uri, "PostgreSQL source");
  st.admin = pg::Connection::open(st.info, st.info.maintenance_db());
  st.admin.exec("SET default_transaction_read_only = on; SET DateStyle = ISO; SET TimeZone = 'UTC'; "
                "SET IntervalStyle = postgres; SET extra_float_digits = 3");
  int major = st.admin.server_version() / 10000;
  st.tools = pg::find_pg_tools(major, pg_bin);
  st.schema = std::make_unique<pg::SchemaTransfer>(st.tools, st.info, st.info, std::set<std::string>{});
  st.roles = pg::read_roles(st.admin);
  for (auto& d : pg::read_databases(st.admin, databases)) {
    if (d.is_template && databases.empty()) continue;  // template1 as every server has it
    auto db = std::make_unique<State::Database>();
    db->info = std::move(d);
    st.databases.push_back(std::move(db));
  }
  auto version = st.admin.exec("SELECT pg_catalog.version()").text(0, 0);
  st.description = {{"address", st.info.display()},
                    {"version", version},
                    {"major", major},
                    {"dump_tool_major", pg::parse_major_version(st.tools.version_line)},
                    {"identity", identity_json(pg::read_identity(st.admin))}};
}

Tasks PgBackup::tasks(const CreateContext& ctx, engine::RunFrame& frame) {
  State& st = state_;
  engine::ItemLifecycle& lifecycle = frame.lifecycle();
  engine::ProgressBoard& progress = frame.progress();
  Tasks t;
  for (auto& db_ptr : st.databases) {
    auto& db = *db_ptr;
    ctx.spans.mark(db.info.name);
    db.coordinator = pg::Connection::open(st.info, db.info.name);
    db.coordinator.exec("SET default_transaction_read_only = on");
    pg::set_portable_session(db.coordinator, db.info.encoding);
    db.coordinator.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    auto point = db.coordinator.exec(
        "SELECT pg_catalog.pg_export_snapshot(), CASE WHEN pg_catalog.pg_is_in_recovery() THEN "
        "pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END::text, "
        "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
    db.snapshot = point.text(0, 0);
    // Where in the source's history the backup of this database stands.
    st.description["snapshots"][db.info.name] = {{"lsn", point.text(0, 1)}, {"time", point.text(0, 2)}};
    {
      MemoryFile file("decant-schema");
      st.schema->dump(db.info.name, db.snapshot, file.path());
      db.schema_archive = file.read_all();
    }
    db.catalog = pg::read_catalog(db.coordinator);
    db.extensions = pg::read_extensions(db.coordinator);
    for (const auto& s : db.catalog.sequences) {
      auto v = db.coordinator.exec("SELECT last_value::text, is_called FROM " + s.qualified);
      db.sequences.push_back({{"qualified", s.qualified}, {"display", s.display}, {"value", v.text(0, 0)},
                              {"is_called", v.boolean(0, 1)}});
    }
    log::info("database {}: snapshot {}, {} tables, {} sequences, {} large objects", db.info.name, db.snapshot,
              db.catalog.tables.size(), db.catalog.sequences.size(), db.catalog.large_objects.size());
  }
  // A resumed backup takes a new snapshot: the items an earlier run stored belong to
  // another point in time, so they are keyed by the snapshot and taken again.
  auto key = [](const State::Database& db, const std::string& what) { return "pg/" + db.snapshot + "/" + what; };
  auto base = [](const State::Database& db, const std::string& name, const std::string& kind, json metadata) {
    return ArchiveItem{"pg", db.info.name, name, kind, std::move(metadata)};
  };
  for (auto& db_ptr : st.databases) {
    auto* db = db_ptr.get();
    auto* schema_progress = &progress.add(db->info.name + " schema", db->schema_archive.size());
    t.work.push_back({db->info.name, [&ctx, &lifecycle, db, schema_progress, key, base](int) {
      engine::ItemSpec spec;
      spec.group = db->info.name;
      spec.name = "schema";
      spec.kind = "schema";
      spec.noun = "piece";
      spec.resume_key = key(*db, "schema");
      spec.progress = schema_progress;
      spec.source = [db] { return std::make_unique<PiecesSource>(db->schema_archive); };
      write_to_backup(spec, ctx, base(*db, "schema", "schema", json::object()));
      lifecycle.run(spec);
    }});
    for (const auto& table : db->catalog.tables) {
      auto* item = &progress.add(db->info.name + "." + table.display, table.bytes);
      t.work.push_back({db->info.name, [&ctx, &lifecycle, &st, db, &table, item, key, base](int worker) {
        engine::ItemSpec spec;
        spec.group = db->info.name;
        spec.name = table.display;
        spec.kind = "table";
        spec.resume_key = key(*db, "table/" + table.qualified);
        spec.progress = item;
        spec.source = [&st, worker, db, &table] {
          return std::make_unique<pg::CopyOutSource>(st.session(worker, *db), table.copy_out_sql(false), false);
        };
        write_to_backup(spec, ctx, table_item(*db, table));
        lifecycle.run(spec);
      }});
    }
    if (!db->catalog.large_objects.empty()) {
      auto* item = &progress.add(db->info.name + " large objects", 0);
      t.work.push_back({db->info.name, [&ctx, &lifecycle, &st, db, item, key, base](int worker) {
        engine::ItemSpec spec;
        spec.group = db->info.name;
        spec.name = "large objects";
        spec.kind = "large objects";
        spec.resume_key = key(*db, "large-objects");
        spec.progress = item;
        spec.source = [&st, worker, db] {
          return std::make_unique<pg::LargeObjectSource>(st.session(worker, *db), db->catalog.large_objects);
        };
        write_to_backup(spec, ctx, base(*db, "large objects", "large objects", json::object()));
        lifecycle.run(spec);
      }});
    }
  }
  t.after = [&st] {
    st.sessions.clear();
    for (auto& db : st.databases) db->coordinator = pg::Connection();
  };
  return t;
}

std::vector<ItemEntry> PgBackup::entries(const engine::ResumeState& state) const {
  const State& st = state_;
  std::vector<ItemEntry> out;
  out.push_back(metadata_entry({"pg", "", "roles", "roles", roles_json(st.roles)}));
  auto finished = [&](const State::Database& db, const std::string& what, ArchiveItem item) {
    auto e = finished_entry(state, "pg/" + db.snapshot + "/" + what, item);
    if (!e) throw Error(ExitCode::internal, "the item " + item.group + "." + item.name + " was not backed up");
    out.push_back(std::move(*e));
  };
  for (const auto& db : st.databases) {
    json extensions = json::array();
    for (const auto& e : db->extensions)
      extensions.push_back({{"name", e.name}, {"version", e.version}, {"schema", e.schema}});
    out.push_back(metadata_entry({"pg", db->info.name, "database", "database",
                                  {{"info", database_json(db->info)},
                                   {"sequences", db->sequences},
                                   {"extensions", extensions}}}));
    finished(*db, "schema", {"pg", db->info.name, "schema", "schema", json::object()});
    for (const auto& table : db->catalog.tables)
      finished(*db, "table/" + table.qualified, table_item(*db, table));
    if (!db->catalog.large_objects.empty())
      finished(*db, "large-objects", {"pg", db->info.name, "large objects", "large objects", json::object()});
  }
  return out;
}

std::unique_ptr<BackupSource> open_pg_backup(const std::string& uri, const std::vector<std::string>& databases,
                                             const std::optional<std::string>& pg_bin) {
  return std::make_unique<PgBackup>(uri, databases, pg_bin);
}

}  // namespace decant::backup
