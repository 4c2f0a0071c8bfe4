// The PostgreSQL part of `backup export`: pg_dump's directory format.
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
#include "archive/mongodump_layout.hpp"
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
    if (!archive::is_directory_name(db))
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
