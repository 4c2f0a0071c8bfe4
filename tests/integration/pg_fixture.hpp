#pragma once
// The source data set every pg copy test starts from, and an oracle that compares two
// servers independently of decant's own verification: per-table row counts and
// content hashes computed in SQL, sequences, large objects, pg_dump --schema-only and
// pg_dumpall --globals-only output.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "pg_server.hpp"

namespace decant::test {

// Roles, databases `app` (every kind of object and data type the source's major has),
// `other`, `latin`, `icu_db` (15+), `builtin_db` (17+), templates, and with `with_bulk`
// `bulk` (many mid-sized tables, for interruption tests).
void load_source_data(const PgServer& source, bool with_bulk = true);

// "table -> count:hash" for every user table in `db`, computed in SQL on the server.
std::map<std::string, std::string> table_fingerprints(const PgServer& server, const std::string& db);
std::map<std::string, std::string> sequence_values(const PgServer& server, const std::string& db);
std::map<std::string, std::string> large_objects(const PgServer& server, const std::string& db);
// pg_dump --schema-only, by the client of `client_bin` (default: one that reads the server).
std::string schema_dump(const PgServer& server, const std::string& db, const std::string& client_bin = "");
std::string globals_dump(const PgServer& server);

// decant's environment with the 17 client tools first in PATH, as an operator's machine
// with postgresql-client-17 has them.
std::map<std::string, std::string> env_with_client_17();

// The schema of `db` as the 17 client's pg_dump writes it for any server, without what
// names the server's version or varies between majors' printing: comparable across majors.
std::string comparable_schema(const PgServer& server, const std::string& db);
// `diff -u` of two texts (written into `dir`), for a failure message that shows only what differs.
std::string text_diff(const std::string& a, const std::string& b, const std::filesystem::path& dir);

// CircleCI Server's database shape: tables partitioned by day, in a database `db` made for
// it. About `partitions` partitions in all, over: app.ev, range by day, its partitions in
// schema `events` (not the parent's) and a default partition; app.orders, by list of
// region, each region sub-partitioned by hash; app.customers, by hash, which app.orders and
// the plain table app.invoices reference by foreign key; with `partman` (the pg_partman
// version the server offers, 4.x or 5.x), app.partman_events, daily partitions made by
// pg_partman's create_parent (its part_config row and template table included). A few
// rows in every partition.
struct PartitionedShape {
  int partitions = 1000;
  std::string partman;
};
void load_partitioned_database(const PgServer& server, const std::string& db, const PartitionedShape& shape);
// Every partition of `db` with its parent and bound, one line each, sorted.
std::string partition_tree(const PgServer& server, const std::string& db);

}  // namespace decant::test
