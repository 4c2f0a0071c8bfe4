#include "backup/pg_records.hpp"

#include "common/error.hpp"
#include "text/json_optional.hpp"

namespace decant::pg {
// The manifest's field names are the members' own, in both directions. A field written
// later than the first manifests (the identity's) may be missing: it reads as empty.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Roles::Role, name, attributes, connection_limit, password, valid_until, comment)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Roles::Membership, role, member, admin, inherit, set)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Roles::Setting, role, database, values)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Roles, passwords, roles, memberships, settings)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DatabaseInfo::RoleSetting, role, values)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(DatabaseInfo, name, owner, encoding, collate, ctype, locale_provider, icu_locale,
                                   icu_rules, connection_limit, default_acl, grants, settings, role_settings, comment,
                                   is_template)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(TableInfo, oid, display, qualified, columns, extension_config, filter, references,
                                   bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ServerIdentity, system_identifier, data_directory, port, started)
}  // namespace decant::pg

namespace decant::backup::pg_records {
using nlohmann::json;

json roles_json(const pg::Roles& r) { return r; }
pg::Roles roles_from_json(const json& j) { return j.get<pg::Roles>(); }
json database_json(const pg::DatabaseInfo& d) { return d; }
pg::DatabaseInfo database_from_json(const json& j) { return j.get<pg::DatabaseInfo>(); }
json table_json(const pg::TableInfo& t) { return t; }
pg::TableInfo table_from_json(const json& j) { return j.get<pg::TableInfo>(); }
json identity_json(const pg::ServerIdentity& id) { return id; }
pg::ServerIdentity identity_from_json(const json& j) { return j.get<pg::ServerIdentity>(); }

[[noreturn]] void bad_manifest(const std::string& what) {
  throw Error(ExitCode::backup_manifest, "the manifest's PostgreSQL part is not valid: " + what,
              "restore another backup (decant backup list)");
}

}  // namespace decant::backup::pg_records
