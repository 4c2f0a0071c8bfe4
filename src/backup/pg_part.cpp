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

namespace decant::backup {
using nlohmann::json;

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

json roles_json(const pg::Roles& r) {
  json roles = json::array(), memberships = json::array(), settings = json::array();
  for (const auto& role : r.roles)
    roles.push_back({{"name", role.name},
                     {"attributes", role.attributes},
                     {"connection_limit", role.connection_limit},
                     {"password", role.password ? json(*role.password) : json(nullptr)},
                     {"valid_until", role.valid_until ? json(*role.valid_until) : json(nullptr)},
                     {"comment", role.comment ? json(*role.comment) : json(nullptr)}});
  for (const auto& m : r.memberships)
    memberships.push_back({{"role", m.role}, {"member", m.member}, {"admin", m.admin}, {"inherit", m.inherit}, {"set", m.set}});
  for (const auto& s : r.settings)
    settings.push_back({{"role", s.role}, {"database", s.database ? json(*s.database) : json(nullptr)}, {"values", s.values}});
  return {{"passwords", r.passwords}, {"roles", roles}, {"memberships", memberships}, {"settings", settings}};
}

std::optional<std::string> optional_string(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<std::string>();
}

pg::Roles roles_from_json(const json& j) {
  pg::Roles r;
  r.passwords = j.at("passwords").get<bool>();
  for (const auto& x : j.at("roles"))
    r.roles.push_back({x.at("name"), x.at("attributes").get<std::array<bool, 7>>(), x.at("connection_limit"),
                       optional_string(x, "password"), optional_string(x, "valid_until"), optional_string(x, "comment")});
  for (const auto& x : j.at("memberships"))
    r.memberships.push_back({x.at("role"), x.at("member"), x.at("admin"), x.at("inherit"), x.at("set")});
  for (const auto& x : j.at("settings"))
    r.settings.push_back({x.at("role"), optional_string(x, "database"), x.at("values").get<std::vector<std::string>>()});
  return r;
}

json database_json(const pg::DatabaseInfo& d) {
  json role_settings = json::array();
  for (const auto& [role, values] : d.role_settings) role_settings.push_back({{"role", role}, {"values", values}});
  return {{"name", d.name},         {"owner", d.owner},
          {"encoding", d.encoding}, {"collate", d.collate},
          {"ctype", d.ctype},       {"locale_provider", d.locale_provider},
          {"icu_locale", d.icu_locale}, {"icu_rules", d.icu_rules},
          {"connection_limit", d.connection_limit}, {"default_acl", d.default_acl},
          {"grants", d.grants},     {"settings", d.settings},
          {"role_settings", role_settings}, {"comment", d.comment},
          {"is_template", d.is_template}};
}

pg::DatabaseInfo database_from_json(const json& j) {
  pg::DatabaseInfo d;
  d.name = j.at("name");
  d.owner = j.at("owner");
  d.encoding = j.at("encoding");
  d.collate = j.at("collate");
  d.ctype = j.at("ctype");
  d.locale_provider = j.at("locale_provider");
  d.icu_locale = j.at("icu_locale");
  d.icu_rules = j.at("icu_rules");
  d.connection_limit = j.at("connection_limit");
  d.default_acl = j.at("default_acl");
  d.grants = j.at("grants").get<std::vector<std::string>>();
  d.settings = j.at("settings").get<std::vector<std::string>>();
  for (const auto& rs : j.at("role_settings"))
    d.role_settings.emplace_back(rs.at("role").get<std::string>(), rs.at("values").get<std::vector<std::string>>());
  d.comment = j.at("comment");
  d.is_template = j.at("is_template");
  return d;
}

json table_json(const pg::TableInfo& t) {
  return {{"oid", t.oid},
          {"display", t.display},
          {"qualified", t.qualified},
          {"columns", t.columns},
          {"extension_config", t.extension_config},
          {"filter", t.filter ? json(*t.filter) : json(nullptr)},
          {"references", t.references},
          {"bytes", t.bytes}};
}

pg::TableInfo table_from_json(const json& j) {
  pg::TableInfo t;
  t.oid = j.at("oid");
  t.display = j.at("display");
  t.qualified = j.at("qualified");
  t.columns = j.at("columns").get<std::vector<std::string>>();
  t.extension_config = j.at("extension_config");
  t.filter = optional_string(j, "filter");
  t.references = j.at("references").get<std::vector<uint32_t>>();
  t.bytes = j.at("bytes");
  return t;
}

json identity_json(const pg::ServerIdentity& id) {
  return {{"system_identifier", id.system_identifier},
          {"data_directory", id.data_directory ? json(*id.data_directory) : json(nullptr)},
          {"port", id.port},
          {"started", id.started}};
}

pg::ServerIdentity identity_from_json(const json& j) {
  pg::ServerIdentity id;
  id.system_identifier = j.value("system_identifier", "");
  id.data_directory = optional_string(j, "data_directory");
  id.port = j.value("port", "");
  id.started = j.value("started", "");
  return id;
}

// Each worker's session per database, opened on first use: a worker keeps one per database
// it works in, so that thousands of tables cost no connection each.
class SessionCache {
 public:
  pg::Connection& get(int worker, const std::string& db, const std::function<pg::Connection()>& open) {
    std::lock_guard lock(mutex_);
    auto& conn = sessions_[{worker, db}];
    if (!conn.is_open()) conn = open();
    return conn;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    sessions_.clear();
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<int, std::string>, pg::Connection> sessions_;
};

[[noreturn]] void bad_manifest(const std::string& what) {
  throw Error(ExitCode::backup_manifest, "the manifest's PostgreSQL part is not valid: " + what,
              "restore another backup (decant backup list)");
}

}  // namespace

// ---- create

namespace {
// A table's rows are COPY text lines, each ending with its only newline.
template <typename Database>
ArchiveItem table_item(const Database& db, const pg::TableInfo& table) {
  return {"pg", db.info.name, table.display, "table", table_json(table), Framing::lines};
}
}  // namespace

struct PgBackup::State {
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

PgBackup::PgBackup(const std::string& uri, const std::vector<std::string>& databases,
                   const std::optional<std::string>& pg_bin)
    : state_(std::make_unique<State>()) {
  State& st = *state_;
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

PgBackup::~PgBackup() = default;
std::string PgBackup::display() const { return state_->info.display(); }
json PgBackup::source_description() const { return state_->description; }

Tasks PgBackup::tasks(const CreateContext& ctx, engine::ItemLifecycle& lifecycle, engine::ProgressBoard& progress) {
  State& st = *state_;
  Tasks t;
  for (auto& db_ptr : st.databases) {
    auto& db = *db_ptr;
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
    t.work.push_back([&ctx, &lifecycle, db, schema_progress, key, base](int) {
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
    });
    for (const auto& table : db->catalog.tables) {
      auto* item = &progress.add(db->info.name + "." + table.display, table.bytes);
      t.work.push_back([&ctx, &lifecycle, &st, db, &table, item, key, base](int worker) {
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
      });
    }
    if (!db->catalog.large_objects.empty()) {
      auto* item = &progress.add(db->info.name + " large objects", 0);
      t.work.push_back([&ctx, &lifecycle, &st, db, item, key, base](int worker) {
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
      });
    }
  }
  t.after = [&st] {
    st.sessions.clear();
    for (auto& db : st.databases) db->coordinator = pg::Connection();
  };
  return t;
}

std::vector<ItemEntry> PgBackup::entries(const engine::ResumeState& state) const {
  const State& st = *state_;
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

// ---- restore

struct PgRestore::State {
  pg::ConnInfo info;
  pg::Connection admin;
  pg::Login login;
  pg::Roles roles;
  pg::RolesOutcome outcome;
  json source;
  std::optional<std::string> pg_bin;
  std::set<std::string> extension_update;
  std::unique_ptr<pg::SchemaTransfer> schema;
  struct Database {
    pg::DatabaseInfo info;
    json sequences;
    // The source's extensions, when the backup records them (older backups do not), and
    // the versions they are created at.
    std::optional<std::vector<pg::ExtensionInfo>> recorded_extensions;
    pg::ExtensionVersions extensions;
    const ItemEntry* schema_item = nullptr;
    std::vector<std::pair<const ItemEntry*, pg::TableInfo>> tables;
    const ItemEntry* large_objects = nullptr;
    std::vector<pg::TocEntry> toc;
    std::unique_ptr<MemoryFile> archive;
  };
  std::vector<std::unique_ptr<Database>> databases;
  SessionCache sessions;

  pg::Connection& session(int worker, const Database& db) {
    return sessions.get(worker, db.info.name, [&] {
      auto conn = pg::Connection::open(info, db.info.name);
      pg::set_portable_session(conn, db.info.encoding);
      conn.exec("SET synchronous_commit = off");  // a lost commit is caught by the read-back
      return conn;
    });
  }
};

PgRestore::PgRestore(const std::string& uri, const Manifest& manifest, const std::optional<std::string>& pg_bin,
                     const std::set<std::string>& extension_update)
    : state_(std::make_unique<State>()) {
  State& st = *state_;
  st.info = pg::ConnInfo::parse(uri, "PostgreSQL target");
  st.pg_bin = pg_bin;
  st.extension_update = extension_update;
  st.source = manifest.sources.value("pg", json::object());
  std::map<std::string, State::Database*> by_name;
  try {
    for (const auto& item : manifest.items) {
      if (item.engine != "pg") continue;
      if (item.kind == "roles") {
        st.roles = roles_from_json(item.metadata);
      } else if (item.kind == "database") {
        auto db = std::make_unique<State::Database>();
        db->info = database_from_json(item.metadata.at("info"));
        db->sequences = item.metadata.at("sequences");
        if (item.metadata.contains("extensions")) {
          db->recorded_extensions.emplace();
          for (const auto& e : item.metadata.at("extensions"))
            db->recorded_extensions->push_back({e.at("name"), e.at("version"), e.at("schema")});
        }
        by_name[db->info.name] = db.get();
        st.databases.push_back(std::move(db));
      } else {
        auto it = by_name.find(item.group);
        if (it == by_name.end()) bad_manifest("an item of an unknown database " + item.group);
        if (item.kind == "schema") it->second->schema_item = &item;
        else if (item.kind == "table") it->second->tables.emplace_back(&item, table_from_json(item.metadata));
        else if (item.kind == "large objects") it->second->large_objects = &item;
        else bad_manifest("an item of unknown kind " + item.kind);
      }
    }
  } catch (const json::exception& e) {
    bad_manifest(e.what());
  }
  for (const auto& db : st.databases)
    if (!db->schema_item) bad_manifest("the database " + db->info.name + " has no schema");
}

PgRestore::~PgRestore() = default;
std::string PgRestore::display() const { return state_->info.display(); }

void PgRestore::check_target(bool clean, bool refuse_source) {
  State& st = *state_;
  st.admin = pg::Connection::open(st.info, st.info.maintenance_db());
  st.admin.exec("SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; SET extra_float_digits = 3");
  auto target = pg::read_identity(st.admin);
  if (refuse_source && st.source.contains("identity") &&
      pg::same_server(identity_from_json(st.source["identity"]), target))
    throw Error(ExitCode::same_server,
                "the scratch server " + st.info.display() + " is the server this backup was taken from; nothing was written",
                "give a throwaway PostgreSQL server to --restore-pg");
  if (target.in_recovery)
    throw Error(ExitCode::usage, "the target " + st.info.display() + " is a standby (read-only) server",
                "give the primary");
  st.login = pg::current_login(st.admin);
  if (!st.login.superuser && !(st.login.createdb && st.login.createrole))
    throw Error(ExitCode::privileges, "the target login " + st.login.name + " is neither a superuser nor has CREATEDB and CREATEROLE",
                "connect as a superuser, or ALTER ROLE " + st.login.name + " CREATEDB CREATEROLE");
  int source_major = st.source.value("major", 0), target_major = st.admin.server_version() / 10000;
  if (target_major < source_major)
    throw Error(ExitCode::copy_failed,
                fmt::format("the backup is of PostgreSQL {}, the target runs {}: a backup restores onto the same or a "
                            "newer major version; nothing was written",
                            source_major, target_major),
                "restore into a PostgreSQL " + std::to_string(source_major) + " or newer");
  std::vector<std::string> non_empty;
  for (const auto& db : st.databases) {
    auto exists = st.admin.exec_params("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {db->info.name});
    if (exists.rows() == 0) continue;
    auto conn = pg::Connection::open(st.info, db->info.name);
    if (!pg::database_is_empty(conn)) non_empty.push_back(db->info.name);
  }
  if (!non_empty.empty() && !clean)
    throw Error(ExitCode::target_not_empty,
                fmt::format("the PostgreSQL target already has non-empty database(s): {}; nothing was changed",
                            fmt::join(non_empty, ", ")),
                "use --clean to drop and recreate them");
  std::set<std::string> target_settings;
  auto settings = st.admin.exec("SELECT name FROM pg_catalog.pg_settings");
  for (int i = 0; i < settings.rows(); ++i) target_settings.insert(settings.text(i, 0));
  int tools_major = std::max(source_major, st.source.value("dump_tool_major", 0));
  st.schema = std::make_unique<pg::SchemaTransfer>(pg::find_pg_tools(tools_major, st.pg_bin), st.info, st.info,
                                                   std::move(target_settings));
  // Every extension at the version the backup was taken with, before anything is written.
  auto offered = pg::offered_extensions(st.admin);
  std::vector<std::string> problems;
  for (auto& db : st.databases) {
    if (!db->recorded_extensions) continue;
    db->extensions = pg::plan_extension_versions(db->info.name, *db->recorded_extensions, offered, st.extension_update);
    problems.insert(problems.end(), db->extensions.problems.begin(), db->extensions.problems.end());
  }
  if (!problems.empty())
    throw Error(ExitCode::copy_failed,
                fmt::format("the target cannot create the backup's extensions as they were: {}; nothing was written",
                            fmt::join(problems, "; ")),
                "install those versions on the target server, or create the target's default version with "
                "--extension-update NAME");
}

Tasks PgRestore::tasks(const RestoreContext& ctx, bool clean) {
  State& st = *state_;
  st.outcome = pg::apply_roles(st.roles, st.admin, st.login);
  bool keep_owner = st.outcome.unassumable.empty();
  auto skip_large_object_metadata = [](const pg::TocEntry& e) { return e.is_large_object_metadata(); };
  size_t entries_per_transaction = pg::entries_per_transaction(st.admin, 1);
  for (auto& db : st.databases) {
    const std::string& name = db->info.name;
    // CREATE/DROP DATABASE from a session in another database.
    auto side = pg::Connection::open(st.info, name == "template1" ? "postgres" : "template1");
    pg::recreate_database(side, st.info, db->info, clean, st.login, st.outcome.unassumable, st.outcome.left_out);

    std::string archive;
    {
      ChunkReader reader(ctx.repo, *db->schema_item, ctx.keys);
      std::string_view piece;
      while (reader.next(piece)) archive.append(piece);
    }
    db->archive = std::make_unique<MemoryFile>("decant-schema");
    db->archive->write_all(archive);
    db->toc = st.schema->list(db->archive->path());
    st.schema->restore(name, db->archive->path(), db->toc,
                       {"pre-data", skip_large_object_metadata, keep_owner, false, "", entries_per_transaction,
                        db->extensions.create_at});
    log::info("database {}: pre-data restored", name);
  }
  for (const auto& l : st.outcome.left_out) ctx.report.add_left_out(l);
  // A dropped and recreated maintenance database ended the admin session with it.
  st.admin = pg::Connection::open(st.info, st.info.maintenance_db());

  Tasks t;
  for (auto& db_ptr : st.databases) {
    auto* db = db_ptr.get();
    // Extension configuration tables hold the extension's own rows and reference each
    // other: one task loads them, in foreign-key order; the others run in parallel.
    std::vector<pg::TableInfo> infos;
    for (const auto& [entry, info] : db->tables) infos.push_back(info);
    std::vector<const pg::TableInfo*> config_order = pg::extension_tables_in_fk_order(infos);
    auto restore_table = [&ctx, &st, db](int worker, const ItemEntry& entry, const pg::TableInfo& table,
                                         engine::ProgressItem* item) {
      auto& conn = st.session(worker, *db);
      auto spec = engine::ItemSpec{};
      spec.group = db->info.name;
      spec.name = table.display;
      spec.kind = "table";
      spec.source_side = "the backup";
      spec.resume_key = "pg/" + db->info.name + "/table/" + table.qualified;
      spec.progress = item;
      spec.prepare = [&conn, &table] {
        conn.exec("BEGIN");
        if (table.extension_config)
          conn.exec(fmt::format("DELETE FROM ONLY {} {}", table.qualified, table.filter.value_or("")));
        else
          conn.exec("TRUNCATE ONLY " + table.qualified);
      };
      spec.source = [&ctx, &entry] { return std::make_unique<ChunkReader>(ctx.repo, entry, ctx.keys); };
      spec.sink = [&conn, &table] {
        return std::make_unique<pg::CopyInSink>(conn, table.copy_in_sql(false, !table.extension_config), false);
      };
      spec.complete = [&conn] { conn.exec("COMMIT"); };
      spec.readback = [&conn, &table] { return std::make_unique<pg::CopyOutSource>(conn, table.copy_out_sql(false), false); };
      ctx.lifecycle.run(spec);
    };
    std::vector<std::pair<const ItemEntry*, const pg::TableInfo*>> config_tables;
    for (const pg::TableInfo* info : config_order)
      for (const auto& [entry, table] : db->tables)
        if (table.oid == info->oid) config_tables.emplace_back(entry, &table);
    if (!config_tables.empty())
      t.work.push_back([restore_table, config_tables, &ctx](int worker) {
        for (const auto& [entry, table] : config_tables)
          restore_table(worker, *entry, *table, &ctx.progress.add(entry->display(), entry->raw_bytes));
      });
    for (const auto& [entry_ptr, table_info] : db->tables) {
      if (table_info.extension_config) continue;
      auto* item = &ctx.progress.add(entry_ptr->display(), entry_ptr->raw_bytes);
      t.work.push_back([restore_table, entry = entry_ptr, table = &table_info, item](int worker) {
        restore_table(worker, *entry, *table, item);
      });
    }
    if (db->large_objects) {
      auto* item = &ctx.progress.add(db->info.name + " large objects", db->large_objects->raw_bytes);
      t.work.push_back([&ctx, &st, db, item](int worker) {
        auto& conn = st.session(worker, *db);
        engine::ItemSpec spec;
        spec.group = db->info.name;
        spec.name = "large objects";
        spec.kind = "large objects";
        spec.source_side = "the backup";
        spec.resume_key = "pg/" + db->info.name + "/large-objects";
        spec.progress = item;
        spec.source = [&ctx, db] { return std::make_unique<ChunkReader>(ctx.repo, *db->large_objects, ctx.keys); };
        spec.sink = [&conn] { return std::make_unique<pg::LargeObjectSink>(conn); };
        spec.readback = [&conn] { return std::make_unique<pg::LargeObjectSource>(conn, pg::read_large_objects(conn)); };
        ctx.lifecycle.run(spec);
      });
    }
  }
  t.after = [&ctx, &st, keep_owner, skip_large_object_metadata, entries_per_transaction] {
    st.sessions.clear();
    std::set<std::string> names;
    for (auto& db : st.databases) {
      names.insert(db->info.name);
      auto conn = pg::Connection::open(st.info, db->info.name);
      std::vector<std::string> differ;
      for (const auto& s : db->sequences) {
        conn.exec(fmt::format("SELECT pg_catalog.setval({}::regclass, {}, {})",
                              conn.quote_literal(s.at("qualified").get<std::string>()), s.at("value").get<std::string>(),
                              s.at("is_called").get<bool>() ? "true" : "false"));
        auto now = conn.exec("SELECT last_value::text, is_called FROM " + s.at("qualified").get<std::string>());
        if (now.text(0, 0) != s.at("value").get<std::string>() || now.boolean(0, 1) != s.at("is_called").get<bool>())
          differ.push_back(s.at("display").get<std::string>());
      }
      engine::ItemReport r;
      r.name = "sequences";
      r.kind = "sequences";
      r.rows = db->sequences.size();
      r.verified = differ.empty();
      if (!r.verified) r.problem = fmt::format("values differ: {}", fmt::join(differ, ", "));
      ctx.report.add_item(db->info.name, r);
      log::info("database {}: restoring the post-data (indexes, constraints, triggers, ...)", db->info.name);
      st.schema->restore(db->info.name, db->archive->path(), db->toc,
                         {"post-data", skip_large_object_metadata, keep_owner, false, "", entries_per_transaction,
                          db->extensions.create_at});
      db->archive.reset();
      if (db->recorded_extensions) {
        pg::verify_extensions(db->extensions, conn, db->info.name, ctx.report);
        for (const auto& note : db->extensions.updated) ctx.report.add_note(note);
      } else {
        ctx.report.add_note("database " + db->info.name + ": the backup does not record its extensions' versions (an "
                            "older decant made it): each was created at the target's default version");
      }
    }
    pg::verify_roles(st.roles, st.admin, st.login, st.outcome.excused, names, ctx.report);
  };
  return t;
}

namespace {

std::string sql_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
// The archive sets standard_conforming_strings on before any of these run.
std::string sql_literal(std::string_view value) {
  std::string out = "'";
  for (char c : value) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// The roles as pg_dumpall --globals-only writes them.
std::string roles_sql(const pg::Roles& roles) {
  static const char* keywords[] = {"SUPERUSER", "INHERIT", "CREATEROLE", "CREATEDB", "LOGIN", "REPLICATION", "BYPASSRLS"};
  std::string out = "-- Roles, as decant backed them up\n";
  for (const auto& r : roles.roles) {
    out += "CREATE ROLE " + sql_ident(r.name) + ";\nALTER ROLE " + sql_ident(r.name) + " WITH";
    for (size_t a = 0; a < r.attributes.size(); ++a) out += std::string(r.attributes[a] ? " " : " NO") + keywords[a];
    out += " CONNECTION LIMIT " + r.connection_limit;
    if (r.password) out += " PASSWORD " + sql_literal(*r.password);
    if (r.valid_until) out += " VALID UNTIL " + sql_literal(*r.valid_until);
    out += ";\n";
    if (r.comment) out += "COMMENT ON ROLE " + sql_ident(r.name) + " IS " + sql_literal(*r.comment) + ";\n";
  }
  for (const auto& m : roles.memberships)
    if (m.role != m.member)
      out += "GRANT " + sql_ident(m.role) + " TO " + sql_ident(m.member) + (m.admin ? " WITH ADMIN OPTION" : "") + ";\n";
  for (const auto& s : roles.settings)
    for (const auto& v : s.values) {
      auto eq = v.find('=');
      out += "ALTER ROLE " + sql_ident(s.role) + (s.database ? " IN DATABASE " + sql_ident(*s.database) : "") + " SET " +
             sql_ident(v.substr(0, eq)) + " TO " + sql_literal(eq == std::string::npos ? "" : v.substr(eq + 1)) + ";\n";
    }
  return out;
}

// Reads an item through the chunks (which check its rows against the manifest at their
// end), hands each row to `row`, and reports it verified.
void export_item(const RestoreContext& ctx, const ItemEntry& item, const std::string& name,
                 const std::function<void(std::string_view)>& row) {
  auto started = std::chrono::steady_clock::now();
  ChunkReader reader(ctx.repo, item, ctx.keys);
  std::string_view r;
  uint64_t rows = 0;
  while (reader.next(r)) {
    row(r);
    ++rows;
  }
  auto report = engine::ItemReport::verified_item(name, item.kind);
  report.rows = rows;
  report.bytes = item.raw_bytes;
  report.seconds = engine::seconds_since(started);
  report.source_digest = report.target_digest = item.digest;
  ctx.report.add_item(item.group, report);
}

// The entries pg_dump writes for the data section, made from the backup's items.
struct DataEntries {
  pg::DumpArchive& archive;
  int next_id;
  std::vector<pg::ArchiveEntry> entries;

  pg::ArchiveEntry& add(std::string desc, std::string tag) {
    pg::ArchiveEntry e;
    e.dump_id = ++next_id;
    e.desc = std::move(desc);
    e.tag = std::move(tag);
    e.section = pg::ArchiveSection::data;
    entries.push_back(std::move(e));
    return entries.back();
  }
  // The data of the object `created` (its schema entry, when the archive has one): named,
  // owned and ordered after it as pg_dump does; otherwise named `fallback`.
  pg::ArchiveEntry& add_data_of(std::string desc, const pg::ArchiveEntry* created, std::string fallback) {
    auto& e = add(std::move(desc), created ? created->tag : std::move(fallback));
    if (created) {
      e.namespace_name = created->namespace_name;
      e.owner = created->owner;
      e.dependencies = {created->dump_id};
    }
    return e;
  }
};

// The export's files are written as the mongodump layout's are (archive's file sink: a
// temporary name, synced, renamed into place); the bytes are COPY text and large objects.
void export_table(const RestoreContext& ctx, const ItemEntry& item, DataEntries& data, const std::filesystem::path& dir) {
  pg::TableInfo table = table_from_json(item.metadata);
  const pg::ArchiveEntry* created = data.archive.find("TABLE", std::to_string(table.oid));
  auto& e = data.add_data_of("TABLE DATA", created, table.display);
  e.has_data = true;
  e.oid = std::to_string(table.oid);
  e.copy_stmt = "COPY " + table.qualified + " " + table.column_list() + " FROM stdin;\n";
  e.file = std::to_string(e.dump_id) + ".dat";
  archive::FileSink file(dir / e.file, false);
  export_item(ctx, item, table.display, [&](std::string_view row) { file.write(row); });
  file.write("\\.\n\n\n");
  file.finish();
}

void export_sequences(const json& sequences, DataEntries& data) {
  for (const auto& s : sequences) {
    std::string display = s.at("display").get<std::string>();
    const pg::ArchiveEntry* created = nullptr;
    for (const auto& entry : data.archive.entries)
      if (entry.desc == "SEQUENCE" && entry.namespace_name.value_or("") + "." + entry.tag == display) created = &entry;
    auto& e = data.add_data_of("SEQUENCE SET", created, display);
    e.defn = fmt::format("SELECT pg_catalog.setval({}, {}, {});\n", sql_literal(s.at("qualified").get<std::string>()),
                         s.at("value").get<std::string>(), s.at("is_called").get<bool>() ? "true" : "false");
  }
}

// Each object's contents as blob_OID.dat and their list as the BLOBS entry's file. Up to
// archive 1.15 the schema archive already creates the objects and sets their owners,
// privileges and comments (pre-data); from 1.16 (pg_dump 17) that is data, so it is
// added here from the backup's own metadata records.
void export_large_objects(const RestoreContext& ctx, const ItemEntry& item, DataEntries& data,
                          const std::filesystem::path& dir) {
  bool metadata_is_data = data.archive.minor >= 16;
  std::string list;
  std::map<std::string, std::vector<uint32_t>> objects_of_owner;
  struct Settings {
    uint32_t oid;
    pg::LargeObjectStatements sql;
    bool commented;
  };
  std::vector<Settings> settings;
  std::optional<archive::FileSink> current;
  export_item(ctx, item, "large objects", [&](std::string_view row) {
    auto record = pg::parse_large_object_record(row);
    if (record.type == 'D') {
      current->write(record.bytes);
      return;
    }
    if (current) current->finish();
    std::string name = fmt::format("blob_{}.dat", record.oid);
    current.emplace(dir / name, false);
    list += fmt::format("{} {}\n", record.oid, name);
    if (metadata_is_data) {
      json meta = json::parse(record.bytes);
      objects_of_owner[meta.at("owner").get<std::string>()].push_back(record.oid);
      settings.push_back({record.oid, pg::large_object_statements(record.oid, meta, sql_ident, sql_literal),
                          !meta.at("comment").is_null()});
    }
  });
  if (current) current->finish();

  std::vector<int> metadata_ids;
  for (const auto& [owner, oids] : objects_of_owner) {
    auto& m = data.add("BLOB METADATA", std::to_string(oids.front()));
    m.table_oid = "2613";  // pg_largeobject_metadata
    m.oid = std::to_string(oids.front());
    m.defn = fmt::format("{}\n", fmt::join(oids, "\n"));  // pg_restore 17 creates each and sets the owner
    m.drop_stmt = "-- dummy";
    m.owner = owner;
    metadata_ids.push_back(m.dump_id);
  }
  auto add_setting = [&](const char* desc, uint32_t oid, const std::string& sql) {
    auto& e = data.add(desc, fmt::format("LARGE OBJECT {}", oid));
    e.section = pg::ArchiveSection::none;
    e.defn = sql;
    e.dependencies = metadata_ids;
  };
  for (const auto& s : settings) {
    if (!s.sql.privileges.empty()) add_setting("ACL", s.oid, s.sql.privileges);
    if (s.commented) add_setting("COMMENT", s.oid, s.sql.comment);
  }
  auto& blobs = data.add("BLOBS", "BLOBS");
  blobs.has_data = true;
  blobs.dependencies = metadata_ids;
  // pg_restore up to 16 reads this one name; 17 the entry's.
  blobs.file = metadata_is_data ? fmt::format("blobs_{}.toc", blobs.dump_id) : "blobs.toc";
  archive::write_text_file(dir / blobs.file, list, false);
}

}  // namespace

void export_pg_dump(const Manifest& manifest, const std::string& out_dir, const RestoreContext& ctx) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw Error(ExitCode::local_io, "cannot create " + out_dir + ": " + ec.message(), "check --out");
  std::map<std::string, std::vector<const ItemEntry*>> items_of;
  for (const auto& item : manifest.items) {
    if (item.engine != "pg") continue;
    if (item.kind == "roles")
      archive::write_text_file(fs::path(out_dir) / "globals.sql", roles_sql(roles_from_json(item.metadata)), false);
    else
      items_of[item.group].push_back(&item);
  }
  for (const auto& [db, items] : items_of) {
    if (db.empty() || db.find('/') != std::string::npos || db == "." || db == "..")
      bad_manifest("a database name that is not a file name: " + db);
    const ItemEntry* database = nullptr;
    const ItemEntry* schema = nullptr;
    for (const auto* i : items) {
      if (i->kind == "database") database = i;
      if (i->kind == "schema") schema = i;
    }
    if (!database || !schema) bad_manifest("the database " + db + " has no properties or no schema");
    std::string schema_bytes;
    export_item(ctx, *schema, "schema", [&](std::string_view piece) { schema_bytes.append(piece); });
    pg::DumpArchive archive = pg::read_custom_archive(schema_bytes);

    fs::path dir = fs::path(out_dir) / db;
    fs::create_directories(dir, ec);
    if (ec) throw Error(ExitCode::local_io, "cannot create " + dir.string() + ": " + ec.message(), "check --out");
    DataEntries data{archive, archive.max_dump_id(), {}};
    for (const auto* i : items) {
      if (i->kind == "table") export_table(ctx, *i, data, dir);
      if (i->kind == "large objects") export_large_objects(ctx, *i, data, dir);
    }
    export_sequences(database->metadata.at("sequences"), data);

    // pg_dump's order: the data between the pre-data and the post-data.
    auto first_post = std::find_if(archive.entries.begin(), archive.entries.end(), [](const pg::ArchiveEntry& e) {
      return e.section == pg::ArchiveSection::post_data;
    });
    archive.entries.insert(first_post, data.entries.begin(), data.entries.end());
    archive::write_text_file(dir / "toc.dat", pg::directory_toc(archive), false);
  }
}

}  // namespace decant::backup
