// The PostgreSQL part of a restore: the copy's target half, its rows from the chunks.
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

#include "backup/pg_records.hpp"

namespace decant::backup {
using nlohmann::json;
using namespace pg_records;

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
  // How the schema is restored: set by restore_pre_data().
  bool keep_owner = true;
  size_t entries_per_transaction = 1;

  void restore_pre_data(const RestoreContext& ctx, bool clean);
  void add_table_tasks(const RestoreContext& ctx, Database* db, Tasks& t);
  void restore_post_data(const RestoreContext& ctx);
  pg::SectionRestore schema_section(const Database& db, const char* section) const;

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

namespace {
// Large objects' metadata is restored from the backup's own records, with their data.
bool is_large_object_metadata(const pg::TocEntry& e) { return e.is_large_object_metadata(); }
}  // namespace

pg::SectionRestore PgRestore::State::schema_section(const Database& db, const char* section) const {
  return {section, is_large_object_metadata, keep_owner, false, "", entries_per_transaction, db.extensions.create_at};
}

// The roles, then each database created with its pre-data.
void PgRestore::State::restore_pre_data(const RestoreContext& ctx, bool clean) {
  outcome = pg::apply_roles(roles, admin, login);
  keep_owner = outcome.unassumable.empty();
  entries_per_transaction = pg::entries_per_transaction(admin, 1);
  for (auto& db : databases) {
    const std::string& name = db->info.name;
    ctx.spans.mark(name);
    // CREATE/DROP DATABASE from a session in another database.
    auto side = pg::Connection::open(info, name == "template1" ? "postgres" : "template1");
    pg::recreate_database(side, info, db->info, clean, login, outcome.unassumable, outcome.left_out);

    std::string bytes;
    {
      ChunkReader reader(ctx.repo, *db->schema_item, ctx.keys);
      std::string_view piece;
      while (reader.next(piece)) bytes.append(piece);
    }
    db->archive = std::make_unique<MemoryFile>("decant-schema");
    db->archive->write_all(bytes);
    db->toc = schema->list(db->archive->path());
    schema->restore(name, db->archive->path(), db->toc, schema_section(*db, "pre-data"));
    log::info("database {}: pre-data restored", name);
  }
  for (const auto& l : outcome.left_out) ctx.report.add_left_out(l);
  // A dropped and recreated maintenance database ended the admin session with it.
  admin = pg::Connection::open(info, info.maintenance_db());
}

// One task per table and one for the large objects; extension configuration tables hold
// the extension's own rows and reference each other: one task loads them, in foreign-key
// order.
void PgRestore::State::add_table_tasks(const RestoreContext& ctx, Database* db, Tasks& t) {
  std::vector<pg::TableInfo> infos;
  for (const auto& [entry, table_info] : db->tables) infos.push_back(table_info);
  std::vector<const pg::TableInfo*> config_order = pg::extension_tables_in_fk_order(infos);
  auto restore_table = [&ctx, this, db](int worker, const ItemEntry& entry, const pg::TableInfo& table,
                                        engine::ProgressItem* item) {
    auto& conn = session(worker, *db);
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
  for (const pg::TableInfo* config : config_order)
    for (const auto& [entry, table] : db->tables)
      if (table.oid == config->oid) config_tables.emplace_back(entry, &table);
  if (!config_tables.empty())
    t.work.push_back({db->info.name, [restore_table, config_tables, &ctx](int worker) {
      for (const auto& [entry, table] : config_tables)
        restore_table(worker, *entry, *table, &ctx.progress.add(entry->display(), entry->raw_bytes));
    }});
  for (const auto& [entry_ptr, table_info] : db->tables) {
    if (table_info.extension_config) continue;
    auto* item = &ctx.progress.add(entry_ptr->display(), entry_ptr->raw_bytes);
    t.work.push_back({db->info.name, [restore_table, entry = entry_ptr, table = &table_info, item](int worker) {
      restore_table(worker, *entry, *table, item);
    }});
  }
  if (!db->large_objects) return;
  auto* item = &ctx.progress.add(db->info.name + " large objects", db->large_objects->raw_bytes);
  t.work.push_back({db->info.name, [&ctx, this, db, item](int worker) {
    auto& conn = session(worker, *db);
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
  }});
}

namespace {

// Sets the sequences' values and reads them back.
engine::ItemReport restore_sequences(pg::Connection& conn, const json& sequences) {
  std::vector<std::string> differ;
  for (const auto& s : sequences) {
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
  r.rows = sequences.size();
  r.verified = differ.empty();
  if (!r.verified) r.problem = fmt::format("values differ: {}", fmt::join(differ, ", "));
  return r;
}

}  // namespace

// Once the rows are in: the sequences, the post-data, then the checks of extensions and roles.
void PgRestore::State::restore_post_data(const RestoreContext& ctx) {
  sessions.clear();
  std::set<std::string> names;
  for (auto& db : databases) {
    names.insert(db->info.name);
    auto conn = pg::Connection::open(info, db->info.name);
    ctx.report.add_item(db->info.name, restore_sequences(conn, db->sequences));
    log::info("database {}: restoring the post-data (indexes, constraints, triggers, ...)", db->info.name);
    schema->restore(db->info.name, db->archive->path(), db->toc, schema_section(*db, "post-data"));
    db->archive.reset();
    if (db->recorded_extensions) {
      pg::verify_extensions(db->extensions, conn, db->info.name, ctx.report);
      for (const auto& note : db->extensions.updated) ctx.report.add_note(note);
    } else {
      ctx.report.add_note("database " + db->info.name + ": the backup does not record its extensions' versions (an "
                          "older decant made it): each was created at the target's default version");
    }
    ctx.spans.mark(db->info.name);
  }
  pg::verify_roles(roles, admin, login, outcome.excused, names, ctx.report);
}

Tasks PgRestore::tasks(const RestoreContext& ctx, bool clean) {
  State& st = *state_;
  st.restore_pre_data(ctx, clean);
  Tasks t;
  for (auto& db : st.databases) st.add_table_tasks(ctx, db.get(), t);
  t.after = [&ctx, &st] { st.restore_post_data(ctx); };
  return t;
}

}  // namespace decant::backup
