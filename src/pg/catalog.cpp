#include "pg/catalog.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.hpp"

namespace decant::pg {

std::string TableInfo::column_list() const {
  if (columns.empty()) return "";
  std::string out = "(";
  for (size_t i = 0; i < columns.size(); ++i) out += (i ? ", " : "") + columns[i];
  return out + ")";
}

std::string TableInfo::copy_out_sql(bool binary) const {
  std::string format = binary ? " WITH (FORMAT binary)" : "";
  if (filter) {
    std::string cols;
    for (size_t i = 0; i < columns.size(); ++i) cols += (i ? ", " : "") + columns[i];
    return fmt::format("COPY (SELECT {} FROM ONLY {} {}) TO STDOUT{}", cols, qualified, *filter, format);
  }
  return fmt::format("COPY {} {} TO STDOUT{}", qualified, column_list(), format);
}

std::string TableInfo::copy_in_sql(bool binary, bool freeze) const {
  std::vector<std::string> options;
  if (binary) options.emplace_back("FORMAT binary");
  if (freeze) options.emplace_back("FREEZE true");
  std::string with;
  for (size_t i = 0; i < options.size(); ++i) with += (i ? ", " : " WITH (") + options[i];
  if (!with.empty()) with += ")";
  return fmt::format("COPY {} {} FROM STDIN{}", qualified, column_list(), with);
}

void set_portable_session(Connection& conn, const std::string& encoding) {
  // row_security = off: a policy must make COPY fail, never silently filter rows (as
  // pg_dump does). The timeouts: a role's or database's statement_timeout must not cut
  // a long COPY, nor idle_in_transaction_session_timeout the snapshot-holding session.
  conn.exec("SET DateStyle = ISO; SET IntervalStyle = postgres; SET extra_float_digits = 3; "
            "SET TimeZone = 'UTC'; SET bytea_output = hex; SET search_path = ''; SET row_security = off; "
            "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
            "SET client_encoding = " +
            conn.quote_literal(encoding));
}

namespace {

constexpr const char* kTablesSql = R"SQL(
WITH extcfg AS (
  SELECT unnest(e.extconfig) AS reloid, unnest(e.extcondition) AS cond FROM pg_catalog.pg_extension e
)
SELECT c.oid, n.nspname || '.' || c.relname, format('%I.%I', n.nspname, c.relname),
       c.relpersistence = 'u',
       pg_catalog.pg_relation_size(c.oid) + coalesce(pg_catalog.pg_relation_size(NULLIF(c.reltoastrelid, 0)), 0),
       x.cond, pg_catalog.has_table_privilege(c.oid, 'SELECT'), x.reloid IS NOT NULL,
       ARRAY(SELECT f.confrelid FROM pg_catalog.pg_constraint f
             WHERE f.conrelid = c.oid AND f.contype = 'f' AND f.confrelid <> c.oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN extcfg x ON x.reloid = c.oid
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp'
  AND (x.reloid IS NOT NULL OR NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
ORDER BY 5 DESC, 2
)SQL";

// A column can travel in binary COPY only when its binary form carries no
// server-specific oid: composite values and arrays of non-built-in types embed type
// oids, reg* types are oids themselves, and some types have no binary I/O at all.
constexpr const char* kColumnsSql = R"SQL(
SELECT a.attrelid, quote_ident(a.attname),
       (b.typsend <> 0 AND b.typreceive <> 0 AND b.typtype NOT IN ('c', 'd', 'p')
        AND NOT (b.typnamespace = 'pg_catalog'::regnamespace AND b.typname LIKE 'reg%')
        AND (b.typcategory <> 'A' OR (e.oid < 10000 AND e.typname NOT LIKE 'reg%')))
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem
WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND GENERATED_FILTER
ORDER BY a.attrelid, a.attname COLLATE "C"
)SQL";

// Indexes on plain tables, with the constraint they back. What pg_dump's TOC calls a
// CONSTRAINT entry (by constraint oid) or an INDEX entry (by index oid).
constexpr const char* kIndexesSql = R"SQL(
SELECT i.indexrelid, i.indrelid, pg_catalog.pg_get_indexdef(i.indexrelid),
       format('%I.%I', n.nspname, ic.relname), n.nspname || '.' || ic.relname,
       format('%I.%I', n.nspname, t.relname), quote_ident(ic.relname),
       con.oid, con.contype, quote_ident(con.conname), pg_catalog.pg_get_constraintdef(con.oid),
       con.condeferrable, con.condeferred, i.indisclustered, i.indisreplident,
       (SELECT string_agg(format('ALTER INDEX %I.%I ALTER COLUMN %s SET STATISTICS %s',
                                 n.nspname, ic.relname, ia.attnum, ia.attstattarget), '; ')
        FROM pg_catalog.pg_attribute ia WHERE ia.attrelid = i.indexrelid AND ia.attstattarget >= 0),
       coalesce((SELECT spcname FROM pg_catalog.pg_tablespace WHERE oid = ic.reltablespace), ''),
       con.conname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_catalog.pg_constraint con
  ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE t.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
)SQL";

constexpr const char* kSequencesSql = R"SQL(
WITH extcfg AS (SELECT unnest(e.extconfig) AS reloid FROM pg_catalog.pg_extension e)
SELECT n.nspname || '.' || c.relname, format('%I.%I', n.nspname, c.relname)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S'
  AND (c.oid IN (SELECT reloid FROM extcfg) OR NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
ORDER BY 1
)SQL";

uint32_t to_oid(const std::string& s) { return static_cast<uint32_t>(std::stoul(s)); }

std::vector<IndexBuild> read_indexes(Connection& source) {
  std::vector<IndexBuild> out;
  auto r = source.exec(kIndexesSql);
  for (int i = 0; i < r.rows(); ++i) {
    IndexBuild b;
    b.table_oid = to_oid(r.text(i, 1));
    std::string indexdef = r.text(i, 2);
    b.qualified = r.text(i, 3);
    b.display = r.text(i, 4);
    b.table = r.text(i, 5);
    std::string index_name = r.text(i, 6);
    b.tablespace = r.text(i, 16);
    if (!r.is_null(i, 7)) {
      b.toc_oid = to_oid(r.text(i, 7));
      std::string contype = r.text(i, 8), conname = r.text(i, 9);
      std::string raw_conname = r.text(i, 17);
      if (contype == "x") {
        b.finish.push_back({fmt::format("ALTER TABLE ONLY {} ADD CONSTRAINT {} {}", b.table, conname, r.text(i, 10)),
                            raw_conname, b.tablespace});
      } else {
        // The unique index first, in parallel with the table's other builds, then
        // attached as the constraint: the result of ADD CONSTRAINT without an exclusive
        // lock held for the whole build.
        b.create_index = indexdef;
        std::string deferral = r.boolean(i, 11) ? (r.boolean(i, 12) ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE")
                                                : "";
        b.finish.push_back({fmt::format("ALTER TABLE ONLY {} ADD CONSTRAINT {} {} USING INDEX {}{}", b.table, conname,
                                        contype == "p" ? "PRIMARY KEY" : "UNIQUE", index_name, deferral),
                            raw_conname, ""});
      }
    } else {
      b.toc_oid = to_oid(r.text(i, 0));
      b.create_index = indexdef;
    }
    if (r.boolean(i, 13)) b.finish.push_back({fmt::format("ALTER TABLE ONLY {} CLUSTER ON {}", b.table, index_name), "", ""});
    if (r.boolean(i, 14))
      b.finish.push_back({fmt::format("ALTER TABLE ONLY {} REPLICA IDENTITY USING INDEX {}", b.table, index_name), "", ""});
    if (!r.is_null(i, 15)) b.finish.push_back({r.text(i, 15), "", ""});
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace

DatabaseCatalog read_catalog(Connection& source) {
  DatabaseCatalog cat;
  std::map<uint32_t, size_t> by_oid;
  auto t = source.exec(kTablesSql);
  for (int i = 0; i < t.rows(); ++i) {
    TableInfo info;
    info.oid = to_oid(t.text(i, 0));
    info.display = t.text(i, 1);
    info.qualified = t.text(i, 2);
    info.unlogged = t.boolean(i, 3);
    info.bytes = static_cast<uint64_t>(t.int64(i, 4));
    if (!t.is_null(i, 5) && !t.text(i, 5).empty()) info.filter = t.text(i, 5);
    info.extension_config = t.boolean(i, 7);
    for (const auto& ref : t.text_array(i, 8)) info.references.push_back(to_oid(ref));
    if (!t.boolean(i, 6))
      throw Error(ExitCode::privileges, "the " + source.where() + " login cannot read table " + info.display,
                  "connect --source as a superuser or a login with SELECT on every table (pg_read_all_data)");
    by_oid[info.oid] = cat.tables.size();
    cat.tables.push_back(std::move(info));
  }
  // Generated columns (PostgreSQL 12+) are computed by the target, never copied.
  std::string columns_sql = kColumnsSql;
  columns_sql.replace(columns_sql.find("GENERATED_FILTER"), 16,
                      source.server_version() >= 120000 ? "a.attgenerated = ''" : "true");
  auto c = source.exec(columns_sql);
  for (int i = 0; i < c.rows(); ++i) {
    auto it = by_oid.find(to_oid(c.text(i, 0)));
    if (it == by_oid.end()) continue;
    auto& table = cat.tables[it->second];
    table.columns.push_back(c.text(i, 1));
    table.binary_ok = table.binary_ok && c.boolean(i, 2);
  }
  for (auto& b : read_indexes(source))
    if (by_oid.count(b.table_oid)) cat.indexes.push_back(std::move(b));
  auto s = source.exec(kSequencesSql);
  for (int i = 0; i < s.rows(); ++i) cat.sequences.push_back({s.text(i, 0), s.text(i, 1)});
  cat.large_objects = read_large_objects(source);
  return cat;
}

std::vector<const TableInfo*> extension_tables_in_fk_order(const std::vector<TableInfo>& tables) {
  std::vector<const TableInfo*> pending, ordered;
  for (const auto& t : tables)
    if (t.extension_config) pending.push_back(&t);
  std::set<uint32_t> placed;
  while (!pending.empty()) {
    auto ready = std::stable_partition(pending.begin(), pending.end(), [&](const TableInfo* t) {
      return std::all_of(t->references.begin(), t->references.end(), [&](uint32_t ref) {
        return placed.count(ref) || std::none_of(pending.begin(), pending.end(),
                                                 [&](const TableInfo* p) { return p->oid == ref; });
      });
    });
    if (ready == pending.begin()) ready = pending.begin() + 1;  // a cycle: take one, FKs will say
    for (auto it = pending.begin(); it != ready; ++it) {
      placed.insert((*it)->oid);
      ordered.push_back(*it);
    }
    pending.erase(pending.begin(), ready);
  }
  return ordered;
}

}  // namespace decant::pg
