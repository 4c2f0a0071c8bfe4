#pragma once
// The source data set every pg copy test starts from, and an oracle that compares two
// servers independently of decant's own verification: per-table row counts and
// content hashes computed in SQL, sequences, large objects, pg_dump --schema-only and
// pg_dumpall --globals-only output.
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

}  // namespace decant::test
