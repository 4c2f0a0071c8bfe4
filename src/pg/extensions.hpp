#pragma once
// Every extension keeps its version. pg_dump writes `CREATE EXTENSION IF NOT EXISTS x WITH
// SCHEMA s;` without a version, so a plain restore creates the target's default version:
// pg_partman 4.5 became 4.7 or 5.x, and an extension's configuration table could gain a
// column, while every row still matched. decant creates each extension at the source's
// version (`... VERSION 'v'`), refuses before anything is written a target that does not
// offer it, and updates to the target's default only where the operator asks for it
// (--extension-update NAME). The verification compares names, versions and schemas.
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pg/catalog.hpp"
#include "pg/connection.hpp"

namespace decant::engine {
class Report;
}

namespace decant::pg {

// The extensions of the database `conn` is connected to, but plpgsql (every database has it).
std::vector<ExtensionInfo> read_extensions(Connection& conn);

// What a server offers of one extension (pg_available_extension_versions): every version
// CREATE EXTENSION can reach, and the default.
struct OfferedExtension {
  std::string default_version;
  std::set<std::string> versions;
};
std::map<std::string, OfferedExtension> offered_extensions(Connection& server);
// "1.0, 2.0 (default)"
std::string offered_text(const OfferedExtension& offered);

// The versions a database's extensions are created at on the target, and why any cannot be.
struct ExtensionVersions {
  std::vector<ExtensionInfo> source;             // as the source has them
  std::map<std::string, std::string> create_at;  // extension -> version for CREATE EXTENSION
  std::vector<std::string> problems;             // one line each: what the target lacks
  std::vector<std::string> updated;              // one line each: what --extension-update changed
};
ExtensionVersions plan_extension_versions(const std::string& db, const std::vector<ExtensionInfo>& used,
                                          const std::map<std::string, OfferedExtension>& offered,
                                          const std::set<std::string>& update);

// pg_dump's "CREATE EXTENSION IF NOT EXISTS x WITH SCHEMA s;" with " VERSION 'v'" for an
// extension of `versions`; any other line as it is.
std::string with_extension_version(std::string_view line, const std::map<std::string, std::string>& versions);

// Compares the extensions (name, version, schema) of database `db` on the target, which
// `target_db` is connected to, with the source's, each at the version it was created at.
void verify_extensions(const ExtensionVersions& planned, Connection& target_db, const std::string& db,
                       engine::Report& report);

}  // namespace decant::pg
