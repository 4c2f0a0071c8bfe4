#include "pg_fixture.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <functional>
#include <sstream>
#include <vector>
#include <stdexcept>

#include "process/process.hpp"

namespace decant::test {

namespace {

constexpr const char* kRolesSql = R"SQL(
CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw' CREATEDB CONNECTION LIMIT 10 VALID UNTIL '2030-01-01 00:00:00+00';
CREATE ROLE readers NOLOGIN;
CREATE ROLE app_reader LOGIN NOINHERIT IN ROLE readers;
CREATE ROLE "Quoted Role" LOGIN;
CREATE ROLE power_user SUPERUSER REPLICATION BYPASSRLS LOGIN;
GRANT readers TO app_owner WITH ADMIN OPTION;
ALTER ROLE app_reader SET statement_timeout = '5s';
ALTER ROLE app_reader SET search_path = app, public;
COMMENT ON ROLE readers IS 'read-only access';
-- [16+]
CREATE ROLE auditor LOGIN;
GRANT readers TO auditor WITH INHERIT FALSE, SET FALSE;
-- [/16+]
)SQL";

constexpr const char* kDatabasePropertiesSql = R"SQL(
REVOKE CONNECT ON DATABASE app FROM PUBLIC;
GRANT CONNECT ON DATABASE app TO readers;
GRANT CREATE ON DATABASE app TO app_reader WITH GRANT OPTION;
ALTER DATABASE app SET timezone = 'Europe/Paris';
ALTER DATABASE app SET DateStyle = 'SQL, DMY';
ALTER DATABASE app SET IntervalStyle = 'sql_standard';
ALTER DATABASE app SET extra_float_digits = 0;
ALTER DATABASE app SET bytea_output = 'escape';
ALTER ROLE app_owner IN DATABASE app SET work_mem = '8MB';
COMMENT ON DATABASE app IS 'the application';
)SQL";

// Every common data type, with the awkward values: NaN and infinities, zero bytes,
// NULLs inside arrays, non-ASCII text, empty strings.
constexpr const char* kAppSql = R"SQL(
-- [partman]
CREATE SCHEMA partman;
CREATE EXTENSION pg_partman SCHEMA partman;
-- [/partman]
-- Contrib extensions, in columns and indexes (pgcrypto gives PostgreSQL 12 its gen_random_uuid()).
CREATE EXTENSION hstore;
CREATE EXTENSION citext;
CREATE EXTENSION pg_trgm;
CREATE EXTENSION pgcrypto;
CREATE SCHEMA "Mixed Case";
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy ☺');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TYPE pair AS (a integer, b text);

CREATE TABLE all_types (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint, num numeric, num_scale numeric(12, 4), f4 real, f8 double precision,
  flag boolean, t text, vc varchar(10), ch char(3), raw bytea, d date, ts timestamp, tstz timestamptz,
  iv interval, tm time, tmtz timetz, u uuid, js json, jb jsonb, x xml, ip inet, net cidr, mac macaddr,
  bits varbit, arr_i integer[], arr_t text[], arr_2d integer[][], r int4range, tsr tstzrange,
  m mood, m_arr mood[], dp positive_int, pr pair, pr_arr pair[], cash money, pt point,
  tsv tsvector, o oid, rc regclass,
  upper_t text GENERATED ALWAYS AS (upper(t)) STORED
);
INSERT INTO all_types (i2, i4, i8, num, num_scale, f4, f8, flag, t, vc, ch, raw, d, ts, tstz, iv, tm, tmtz, u, js,
                       jb, x, ip, net, mac, bits, arr_i, arr_t, arr_2d, r, tsr, m, m_arr, dp, pr, pr_arr, cash,
                       pt, tsv, o, rc) VALUES
  (-32768, -2147483648, -9223372036854775808, 'NaN', 0.0001, 'NaN', 'NaN', true, 'Zoë 日本語 🚀', '', 'ab',
   '\x00ff00'::bytea, 'infinity', '-infinity', 'infinity', '-178000000 years', '24:00:00', '00:00:00+1459',
   '00000000-0000-0000-0000-000000000000', '{"a": [1, 2.50, null]}', '{"z": 1, "a": {"nested": [true, "x"]}}',
   '<a b="c">text &amp; more</a>', '::1', '10.0.0.0/8', '08:00:2b:01:02:03', B'1010', '{1,NULL,3}',
   '{"quote\"d","comma,s",NULL,""}', '{{1,2},{3,4}}', '[1,10)', '[2024-01-01 00:00+00,infinity)',
   'happy ☺', '{sad,"happy ☺"}', 1, ROW(1, 'x y'), ARRAY[ROW(2, 'z')::pair, NULL],
   '-92233720368547758.08', '(1.5,-2)', 'fat:1 cat:2', 4294967295, 'pg_class'),
  (32767, 2147483647, 9223372036854775807, 'NaN', -99999999.9999, 'Infinity', '-Infinity', false,
   E'line\nbreak\ttab\\backslash', 'ten chars!', 'xyz', ''::bytea, '-infinity', 'infinity', '-infinity',
   '1 day -00:00:01', '00:00:00.000001', '23:59:59.999999-1459', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null',
   '[]', NULL, '2001:db8::ff00:42:8329/64', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', B'', '{}', '{}', '{}', 'empty',
   '(,)', 'sad', '{}', 2147483647, ROW(NULL, NULL), '{}', '0', '(0,0)', '', 0, 'pg_type'),
  (0, 0, 0, 'NaN', 0, '-0', '-0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL),
  (1, 1, 1, 3.14159265358979323846264338327950288419716939937510, 1.5, 3.4028235e+38, 1.7976931348623157e+308,
   true, repeat('long text ', 5000), 'a', 'a', decode(repeat('00ff', 40000), 'hex'), '2024-02-29',
   '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012+05:30', '1 year 2 mons 3 days 04:05:06.789', '12:00',
   '12:00+02', gen_random_uuid(), '{"big": 12345678901234567890}', '{"big": 12345678901234567890.5}',
   '<x/>', '192.168.1.1/24', '192.168.0.0/16', '00:00:00:00:00:00', B'1111000011110000', '{-1}', '{"ü"}',
   '{{NULL,2}}', '[-5,5]', '[2000-01-01 00:00+00,2000-01-02 00:00+00]', 'ok', '{ok,ok}', 42,
   ROW(-1, ''), '{"(3,\"a,b\")"}', '1234.56', '(1e300,-1e-300)', 'a:1A b:2B', 1, 'all_types');
INSERT INTO all_types (i4, t, num, f8, jb, raw, tstz, arr_i, m, dp)
SELECT g, 'row ' || g || ' ñ', g / 7.0, g * 1.1, jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)),
       decode(md5(g::text), 'hex') || '\x00'::bytea, '2024-01-01 00:00+00'::timestamptz + g * interval '1 minute',
       ARRAY[g, g + 1], (ARRAY['sad', 'ok', 'happy ☺'])[1 + g % 3]::mood, 1 + g
FROM generate_series(1, 20000) g;
CREATE INDEX all_types_tstz ON all_types (tstz DESC NULLS LAST);
CREATE INDEX all_types_jb ON all_types USING gin (jb jsonb_path_ops);
CREATE INDEX all_types_lower ON all_types (lower(t)) WHERE i4 > 100;
ALTER INDEX all_types_lower ALTER COLUMN 1 SET STATISTICS 500;
CLUSTER all_types USING all_types_tstz;
ALTER TABLE all_types ADD COLUMN dropped_later text DEFAULT 'x';
ALTER TABLE all_types DROP COLUMN dropped_later;
COMMENT ON COLUMN all_types.t IS 'free text';

-- Identifiers that need quoting.
CREATE TABLE "Mixed Case"."Order Items" (id serial PRIMARY KEY, "Qty" integer NOT NULL, "select" text, "from" date,
                                          "ünïcode" text);
INSERT INTO "Mixed Case"."Order Items" ("Qty", "select", "from", "ünïcode")
SELECT g, 'sel ' || g, DATE '2024-01-01' + g, 'ü' || g FROM generate_series(1, 500) g;
CREATE UNIQUE INDEX "Order Items Qty" ON "Mixed Case"."Order Items" ("Qty");
ALTER TABLE "Mixed Case"."Order Items" REPLICA IDENTITY USING INDEX "Order Items Qty";

-- Inheritance whose child orders its columns differently from the parent.
CREATE TABLE vehicle (id integer PRIMARY KEY, name text NOT NULL, wheels integer, made date);
CREATE TABLE car (made date, doors integer, wheels integer, name text NOT NULL, id integer PRIMARY KEY);
ALTER TABLE car INHERIT vehicle;
INSERT INTO vehicle SELECT g, 'vehicle ' || g, g % 5, DATE '2000-01-01' + g FROM generate_series(1, 300) g;
INSERT INTO car (made, doors, wheels, name, id) SELECT DATE '2010-01-01' + g, 2 + g % 3, 4, 'car ' || g, 1000 + g
FROM generate_series(1, 300) g;

-- A declarative partition created on its own, with its own column order, then attached.
CREATE TABLE measurement (city integer NOT NULL, logdate date NOT NULL, peak integer, note text,
                          PRIMARY KEY (city, logdate)) PARTITION BY RANGE (logdate);
CREATE TABLE measurement_2024 (note text, peak integer, logdate date NOT NULL, city integer NOT NULL);
ALTER TABLE measurement ATTACH PARTITION measurement_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurement_2025 PARTITION OF measurement FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE INDEX measurement_peak ON measurement (peak);
INSERT INTO measurement SELECT g % 50, DATE '2024-01-01' + (g % 700), g, 'n' || g FROM generate_series(1, 30000) g
ON CONFLICT DO NOTHING;

-- [partman]
-- pg_partman: a managed table, with its configuration in partman.part_config.
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at);
SELECT partman.create_parent('public.events', 'at', 'native', 'monthly', p_premake := 2,
                             p_start_partition := '2026-01-01');
INSERT INTO events SELECT g, TIMESTAMPTZ '2026-01-01 00:00+00' + (g % 96) * interval '1 day', 'event ' || g
FROM generate_series(1, 5000) g;
UPDATE partman.part_config SET retention = '30 days', retention_keep_table = false WHERE parent_table = 'public.events';
-- [/partman]

-- [14+]
-- numeric infinities (14+)
UPDATE all_types SET num = 'Infinity' WHERE i2 = 32767;
UPDATE all_types SET num = '-Infinity' WHERE i2 = 0;
CREATE TABLE multiranges (id integer PRIMARY KEY, mr int4multirange, dmr datemultirange);
INSERT INTO multiranges VALUES (1, '{[1,3),[5,9)}', '{[2024-01-01,2024-02-01)}'), (2, '{}', NULL), (3, NULL, '{}');
-- [/14+]

CREATE TABLE ext_types (id integer PRIMARY KEY, h hstore, c citext UNIQUE, t text, hash bytea);
INSERT INTO ext_types SELECT g, hstore(ARRAY['k', 'n'], ARRAY['v' || g, g::text]), 'Mixed' || g, 'trigram text ' || g,
                             digest('value ' || g, 'sha256')
FROM generate_series(1, 2000) g;
CREATE INDEX ext_types_trgm ON ext_types USING gin (t gin_trgm_ops);
CREATE INDEX ext_types_h ON ext_types USING gist (h);

-- Hash partitions under a list partition: sub-partitioning.
CREATE TABLE orders (id integer NOT NULL, region text NOT NULL, amount numeric) PARTITION BY LIST (region);
CREATE TABLE orders_eu PARTITION OF orders FOR VALUES IN ('eu') PARTITION BY HASH (id);
CREATE TABLE orders_eu_0 PARTITION OF orders_eu FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE orders_eu_1 PARTITION OF orders_eu FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE orders_us PARTITION OF orders FOR VALUES IN ('us');
INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN 'us' ELSE 'eu' END, g * 1.25 FROM generate_series(1, 3000) g;
CREATE INDEX orders_id ON orders (id);

-- A check added NOT VALID over rows that break it: it must stay NOT VALID, the rows copied.
CREATE TABLE legacy (id integer PRIMARY KEY, qty integer);
INSERT INTO legacy VALUES (1, -5), (2, 7);
ALTER TABLE legacy ADD CONSTRAINT legacy_qty_positive CHECK (qty > 0) NOT VALID;

-- Row-level security that would hide rows from an ordinary login, forced on the owner too.
CREATE TABLE secrets (id integer PRIMARY KEY, owner_name text, secret text);
INSERT INTO secrets SELECT g, 'user' || (g % 3), 'secret ' || g FROM generate_series(1, 300) g;
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY secrets_own ON secrets USING (owner_name = current_user);

-- A rule that redirects inserts.
CREATE TABLE audit_log (id serial PRIMARY KEY, note text);
CREATE VIEW audit_notes AS SELECT note FROM audit_log;
CREATE RULE audit_notes_insert AS ON INSERT TO audit_notes DO INSTEAD INSERT INTO audit_log (note) VALUES (NEW.note);
INSERT INTO audit_notes VALUES ('through the rule');

CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v jsonb);
INSERT INTO cache SELECT 'k' || g, jsonb_build_object('v', g) FROM generate_series(1, 1000) g;

CREATE TABLE nocols ();
INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES; INSERT INTO nocols DEFAULT VALUES;

CREATE TABLE bookings (id integer PRIMARY KEY, room integer, during tstzrange,
                       EXCLUDE USING gist (during WITH &&),
                       CONSTRAINT bookings_room_unique UNIQUE (room, id) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO bookings SELECT g, g % 10, tstzrange(TIMESTAMPTZ '2024-01-01 00:00+00' + g * interval '1 hour',
                                                 TIMESTAMPTZ '2024-01-01 00:00+00' + (g + 1) * interval '1 hour')
FROM generate_series(1, 200) g;

CREATE TABLE line_items (id serial PRIMARY KEY, vehicle_id integer REFERENCES vehicle (id), booking integer
                         REFERENCES bookings (id) ON DELETE CASCADE, qty positive_int);
INSERT INTO line_items (vehicle_id, booking, qty) SELECT 1 + g % 300, 1 + g % 200, 1 + g FROM generate_series(1, 2000) g;

CREATE SEQUENCE invoice_numbers START 1000 INCREMENT 7;
SELECT setval('invoice_numbers', 4242, false);
CREATE SEQUENCE used_sequence;
SELECT nextval('used_sequence') FROM generate_series(1, 17);

CREATE VIEW recent_builds AS SELECT id, t FROM all_types WHERE id > 10;
CREATE MATERIALIZED VIEW type_counts AS SELECT m, count(*) AS n FROM all_types GROUP BY m;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.qty := NEW.qty; RETURN NEW; END $$;
CREATE TRIGGER line_items_touch BEFORE UPDATE ON line_items FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE cache ENABLE ROW LEVEL SECURITY;
CREATE POLICY cache_read ON cache FOR SELECT TO readers USING (true);
GRANT SELECT ON ALL TABLES IN SCHEMA public TO readers;
GRANT USAGE ON SCHEMA "Mixed Case" TO readers;
ALTER TABLE line_items OWNER TO app_owner;

-- Two unique constraints and a primary key on one table: their builds run in parallel.
CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, handle text NOT NULL,
                       CONSTRAINT accounts_handle_key UNIQUE (handle));
INSERT INTO accounts SELECT g, 'user' || g || '@example.com', 'h' || g FROM generate_series(1, 5000) g;
CLUSTER accounts USING accounts_email_key;

-- Names that collide once unquoted: "a.b".c and a."b.c".
CREATE SCHEMA "a.b";
CREATE SCHEMA a;
CREATE TABLE "a.b".c (v integer);
CREATE TABLE a."b.c" (v integer);
INSERT INTO "a.b".c SELECT g FROM generate_series(1, 10) g;
INSERT INTO a."b.c" SELECT -g FROM generate_series(1, 5000) g;

SELECT lo_from_bytea(0, '\x000102ff00'::bytea);
SELECT lo_from_bytea(0, ''::bytea);
SELECT lo_from_bytea(0, decode(repeat('0123456789abcdef', 200000), 'hex'));
SELECT lo_from_bytea(424242, convert_to('a large object with a chosen oid', 'UTF8'));
ALTER LARGE OBJECT 424242 OWNER TO app_owner;
COMMENT ON LARGE OBJECT 424242 IS 'an artifact';
GRANT SELECT ON LARGE OBJECT 424242 TO readers;
)SQL";

constexpr const char* kOtherSql = R"SQL(
CREATE TABLE settings (name text PRIMARY KEY, value text);
INSERT INTO settings SELECT 'name' || g, 'value ' || g FROM generate_series(1, 100) g;
)SQL";

// Many mid-sized tables: a copy takes long enough to be interrupted between tables.
constexpr const char* kBulkSql = R"SQL(
DO $$
BEGIN
  FOR i IN 1..24 LOOP
    EXECUTE format('CREATE TABLE chunk_%s (id bigint PRIMARY KEY, body text, n numeric, at timestamptz)', i);
    EXECUTE format('INSERT INTO chunk_%s SELECT g, repeat(md5(g::text), 4), g * 1.5, '
                   'TIMESTAMPTZ ''2024-01-01 00:00+00'' + g * interval ''1 second'' '
                   'FROM generate_series(1, 40000) g', i);
  END LOOP;
END $$;
)SQL";

// pg_dump 15.14+ brackets a script with \restrict/\unrestrict and a random key.
std::string without_restrict_keys(const std::string& script) {
  std::istringstream in(script);
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("\\restrict ", 0) != 0 && line.rfind("\\unrestrict ", 0) != 0) out += line + "\n";
  return out;
}

// pg_dump (like pg_dumpall | psql) recreates an inheritance child with its parent's
// columns first, so a child's physical column order can legitimately change; decant
// copies by column name. Sort the column lines of each CREATE TABLE to compare the rest.
std::string with_sorted_table_columns(const std::string& script) {
  std::istringstream in(script);
  std::string line, out;
  std::vector<std::string> columns;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (!in_table && line.rfind("CREATE ", 0) == 0 && line.find("TABLE ") != std::string::npos &&
        !line.empty() && line.back() == '(') {
      in_table = true;
      out += line + "\n";
      continue;
    }
    if (in_table && line.rfind(")", 0) == 0) {
      for (auto& c : columns)
        if (!c.empty() && c.back() == ',') c.pop_back();
      std::sort(columns.begin(), columns.end());
      for (const auto& c : columns) out += c + "\n";
      columns.clear();
      in_table = false;
    }
    if (in_table)
      columns.push_back(line);
    else
      out += line + "\n";
  }
  return out;
}

}  // namespace

// `sql` without the "-- [tag]" ... "-- [/tag]" sections whose tag `keep` refuses.
std::string with_sections(const std::string& sql, const std::function<bool(const std::string&)>& keep) {
  std::istringstream in(sql);
  std::string line, out, skipping;
  while (std::getline(in, line)) {
    if (skipping.empty() && line.rfind("-- [", 0) == 0 && line.back() == ']' && line[4] != '/') {
      std::string tag = line.substr(4, line.size() - 5);
      if (!keep(tag)) skipping = tag;
      continue;
    }
    if (line.rfind("-- [/", 0) == 0) {
      if (line == "-- [/" + skipping + "]") skipping.clear();
      continue;
    }
    if (skipping.empty()) out += line + "\n";
  }
  return out;
}

void load_source_data(const PgServer& source, bool with_bulk) {
  int major = source.major();
  // What each major can hold: pg_partman only in Debian's 15, multiranges from 14, a
  // database's ICU locale from 15, per-membership options from 16, the builtin locale
  // provider from 17.
  auto keep = [major](const std::string& tag) {
    if (tag == "partman") return major == 15;
    if (tag.size() == 3 && tag.back() == '+') return major >= std::stoi(tag.substr(0, 2));
    return true;
  };
  source.exec(with_sections(kRolesSql, keep));
  // CREATE DATABASE cannot share a transaction with other statements.
  for (const char* db : {"app OWNER app_owner", "other", "\"odd name-db\""})
    source.exec(std::string("CREATE DATABASE ") + db);
  source.exec(kDatabasePropertiesSql);
  source.exec(with_sections(kAppSql, keep), "app");
  source.exec(kOtherSql, "other");
  source.exec(kOtherSql, "odd name-db");
  if (with_bulk) {
    source.exec("CREATE DATABASE bulk");
    source.exec(kBulkSql, "bulk");
    source.exec("VACUUM ANALYZE", "bulk");
  }
  // Other encodings and locale providers: the copy must keep both, and bytes unchanged.
  source.exec("CREATE DATABASE latin WITH TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'");
  source.exec("CREATE TABLE names (n text PRIMARY KEY); INSERT INTO names VALUES ('Zoë'), ('Ångström'), ('façade')",
              "latin");
  if (major >= 15) {
    source.exec("CREATE DATABASE icu_db WITH TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' "
                "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'");
    source.exec("CREATE TABLE words (w text); INSERT INTO words VALUES ('Äpfel'), ('apfel'), ('Zebra'); "
                "CREATE INDEX words_w ON words (w)",
                "icu_db");
  }
  if (major >= 17) {
    source.exec("CREATE DATABASE builtin_db WITH TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin "
                "BUILTIN_LOCALE 'C.UTF-8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'");
    source.exec("CREATE TABLE words (w text); INSERT INTO words VALUES ('Ω'), ('ω'), ('z')", "builtin_db");
  }
  // Templates with contents: pg_dumpall copies them too.
  source.exec("CREATE DATABASE tmpl IS_TEMPLATE true");
  source.exec("CREATE TABLE template_rows (x integer); INSERT INTO template_rows VALUES (1), (2)", "tmpl");
  source.exec("CREATE TABLE in_template1 (y text); INSERT INTO in_template1 VALUES ('kept')", "template1");
}

std::map<std::string, std::string> table_fingerprints(const PgServer& server, const std::string& db) {
  // Every stored and generated column, named in sorted order, hashed per row, rows sorted.
  auto tables = server.query(R"SQL(
    SELECT format('%I.%I', n.nspname, c.relname),
           coalesce(string_agg(format('%I', a.attname), ', ' ORDER BY a.attname COLLATE "C")
                    FILTER (WHERE a.attname IS NOT NULL), '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
    GROUP BY 1 ORDER BY 1)SQL",
                             db);
  std::map<std::string, std::string> out;
  for (const auto& row : tables) {
    std::string table = *row[0], cols = *row[1];
    std::string sql = "SET TimeZone = 'UTC'; SET extra_float_digits = 3; SELECT count(*)::text || ':' || "
                      "md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM (SELECT md5(ROW(" +
                      cols + ")::text) AS h FROM ONLY " + table + ") s";
    if (cols.empty()) sql = "SELECT count(*)::text FROM ONLY " + table;
    out[table] = server.value(sql, db);
  }
  return out;
}

std::map<std::string, std::string> sequence_values(const PgServer& server, const std::string& db) {
  auto seqs = server.query(
      "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1", db);
  std::map<std::string, std::string> out;
  for (const auto& row : seqs)
    out[*row[0]] = server.value("SELECT last_value || ':' || is_called FROM " + *row[0], db);
  return out;
}

std::map<std::string, std::string> large_objects(const PgServer& server, const std::string& db) {
  std::map<std::string, std::string> out;
  for (const auto& row : server.query(
           "SELECT oid::text, md5(lo_get(oid)) || ':' || pg_get_userbyid(lomowner) FROM pg_largeobject_metadata", db))
    out[*row[0]] = *row[1];
  return out;
}

std::string schema_dump(const PgServer& server, const std::string& db, const std::string& client_bin) {
  auto r = run_process(
      {{(client_bin.empty() ? client_bin_dir(server.major()) : client_bin) + "/pg_dump", "--schema-only", "--dbname=" + server.conninfo(db)}, {{"PGTZ", "UTC"}}, {}});
  if (r.exit_status != 0) throw std::runtime_error("pg_dump failed: " + r.errors);
  return with_sorted_table_columns(without_restrict_keys(r.output));
}

std::string globals_dump(const PgServer& server) {
  auto r = run_process(
      {{client_bin_dir(server.major()) + "/pg_dumpall", "--globals-only", "--dbname=" + server.conninfo()}, {{"PGTZ", "UTC"}}, {}});
  if (r.exit_status != 0) throw std::runtime_error("pg_dumpall failed: " + r.errors);
  return without_restrict_keys(r.output);
}

std::map<std::string, std::string> env_with_client_17() {
  const char* path = std::getenv("PATH");
  return {{"PATH", pg_cache_dir() + "/17-client/bin:" + std::string(path ? path : "")}};
}

std::string comparable_schema(const PgServer& server, const std::string& db) {
  std::istringstream in(schema_dump(server, db, pg_cache_dir() + "/17-client/bin"));
  std::string line, out;
  bool in_view = false;
  while (std::getline(in, line)) {
    if (line.rfind("-- Dumped from database version", 0) == 0) continue;
    // PostgreSQL 16 prints a view's columns without their table's name when there is no
    // doubt ("SELECT id" for "SELECT t.id"): compare view bodies without such prefixes.
    if (line.rfind("CREATE VIEW ", 0) == 0 || line.rfind("CREATE MATERIALIZED VIEW ", 0) == 0) in_view = true;
    if (in_view) line = std::regex_replace(line, std::regex(R"(\b(?!public\b)[a-z_][a-z0-9_]*\.(?=[a-z_]))"), "");
    if (in_view && line.find(';') != std::string::npos) in_view = false;
    // Debian's 15.20 server gives every new column an attribute option of its own.
    if (line.find(" SET (pg_attver=") != std::string::npos) continue;
    out += line + "\n";
  }
  return out;
}

std::string text_diff(const std::string& a, const std::string& b, const std::filesystem::path& dir) {
  std::ofstream(dir / "a.sql") << a;
  std::ofstream(dir / "b.sql") << b;
  return run_process({{"diff", "-u", (dir / "a.sql").string(), (dir / "b.sql").string()}}).output;
}

void load_partitioned_database(const PgServer& server, const std::string& db, const PartitionedShape& shape) {
  server.exec("CREATE DATABASE " + db);
  int quarter = std::max(1, shape.partitions / 4);
  server.exec(
      "CREATE SCHEMA app; CREATE SCHEMA events; "
      "CREATE TABLE app.customers (id bigint PRIMARY KEY, name text NOT NULL) PARTITION BY HASH (id); "
      "CREATE TABLE app.invoices (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES app.customers (id), "
      "total numeric(12, 2)); "
      "CREATE TABLE app.ev (id bigint NOT NULL, at date NOT NULL, kind text, payload jsonb) PARTITION BY RANGE (at); "
      "COMMENT ON TABLE app.ev IS 'events, a partition a day'; "
      "CREATE TABLE events.ev_default PARTITION OF app.ev DEFAULT; "
      "CREATE TABLE app.orders (id bigint NOT NULL, region text NOT NULL, customer_id bigint REFERENCES app.customers (id), "
      "amount numeric, PRIMARY KEY (region, id)) PARTITION BY LIST (region); "
      "CREATE INDEX ON app.ev (at, kind)",
      db);
  for (int i = 0; i < 8; ++i)
    server.exec(fmt::format("CREATE TABLE app.customers_{0} PARTITION OF app.customers FOR VALUES WITH (MODULUS 8, "
                            "REMAINDER {0})",
                            i),
                db);
  // In batches: thousands of CREATE TABLE in one transaction exhaust the lock table.
  std::string batch;
  auto flush = [&](bool force) {
    if (batch.empty() || (!force && batch.size() < 40000)) return;
    server.exec(batch, db);
    batch.clear();
  };
  for (int day = 0; day < 2 * quarter; ++day) {
    batch += fmt::format("CREATE TABLE events.ev_p{0} PARTITION OF app.ev FOR VALUES FROM ('2024-01-01'::date + {0}) "
                         "TO ('2024-01-01'::date + {1});\n",
                         day, day + 1);
    flush(false);
  }
  int regions = std::max(1, quarter / 4);
  for (int r = 0; r < regions; ++r) {
    batch += fmt::format("CREATE TABLE app.orders_r{0} PARTITION OF app.orders FOR VALUES IN ('r{0}') "
                         "PARTITION BY HASH (id);\n",
                         r);
    for (int h = 0; h < 4; ++h)
      batch += fmt::format("CREATE TABLE app.orders_r{0}_h{1} PARTITION OF app.orders_r{0} FOR VALUES WITH "
                           "(MODULUS 4, REMAINDER {1});\n",
                           r, h);
    flush(false);
  }
  flush(true);
  server.exec(fmt::format(
                  "INSERT INTO app.customers SELECT g, 'customer ' || g FROM generate_series(1, 500) g; "
                  "INSERT INTO app.invoices SELECT g, 1 + g % 500, g * 1.25 FROM generate_series(1, 2000) g; "
                  "INSERT INTO app.ev SELECT g, '2024-01-01'::date + (g % {0}), 'k' || (g % 7), "
                  "jsonb_build_object('n', g) FROM generate_series(1, {1}) g; "
                  "INSERT INTO app.ev VALUES (0, '1999-12-31', 'default', NULL); "
                  "INSERT INTO app.orders SELECT g, 'r' || (g % {2}), 1 + g % 500, g FROM generate_series(1, {3}) g; "
                  "ANALYZE",
                  2 * quarter + 30, 6 * quarter, regions, 12 * regions),
              db);
  if (shape.partman.empty()) return;
  // What pg_partman makes: partitions from the start through four days ahead of today, a
  // default partition, a template table and its part_config row.
  bool v4 = shape.partman[0] == '4';
  server.exec("CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '" + shape.partman + "'; "
              "CREATE TABLE app.partman_events (id bigint NOT NULL, created_at timestamptz NOT NULL, body text) "
              "PARTITION BY RANGE (created_at)",
              db);
  server.exec(fmt::format("SELECT partman.create_parent(p_parent_table := 'app.partman_events', p_control := "
                          "'created_at', {}, p_premake := 4, p_start_partition := "
                          "(current_date - {})::text)",
                          v4 ? "p_type := 'native', p_interval := 'daily'" : "p_interval := '1 day'",
                          std::max(1, quarter - 5)),
              db);
  server.exec(fmt::format("INSERT INTO app.partman_events SELECT g, current_date - (g % {}), 'b' || g "
                          "FROM generate_series(1, {}) g",
                          std::max(1, quarter - 5), 3 * quarter),
              db);
}

std::string partition_tree(const PgServer& server, const std::string& db) {
  std::string out;
  for (const auto& row : server.query("SELECT format('%s -> %s %s', c.oid::regclass, i.inhparent::regclass, "
                                      "pg_get_expr(c.relpartbound, c.oid)) FROM pg_inherits i JOIN pg_class c ON "
                                      "c.oid = i.inhrelid WHERE c.relispartition ORDER BY 1",
                                      db))
    out += *row[0] + "\n";
  return out;
}

}  // namespace decant::test
