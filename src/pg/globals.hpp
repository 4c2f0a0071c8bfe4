#pragma once
// The instance-wide objects pg_dumpall writes before the databases: roles (attributes,
// password hashes, memberships, per-role settings) and the databases themselves (owner,
// encoding, locale, privileges, settings). pg_dump covers what is inside a database.
#include <array>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/report.hpp"
#include "pg/connection.hpp"

namespace decant::pg {

struct Login {
  std::string name;
  bool superuser = false;
  bool createrole = false;
  bool createdb = false;
};
Login current_login(Connection& conn);

struct RolesOutcome {
  std::vector<std::string> left_out;
  // Roles the target login cannot act as (superusers, when it is not one): objects
  // owned by them on the source stay owned by the target login.
  std::set<std::string> unassumable;
  // Roles with an item left out, so that verification does not count it as a difference.
  std::set<std::string> excused;
};

// Every role but the pg_* ones, as pg_dumpall reads them: attributes, password hashes
// (when the login can read pg_authid), memberships with their options, per-role settings.
// A value, so that it can be applied later (a backup) as well as at once (a copy).
struct Roles {
  bool passwords = false;  // the hashes could be read
  struct Role {
    std::string name;
    // SUPERUSER, INHERIT, CREATEROLE, CREATEDB, LOGIN, REPLICATION, BYPASSRLS
    std::array<bool, 7> attributes{};
    std::string connection_limit = "-1";
    std::optional<std::string> password;     // the hash
    std::optional<std::string> valid_until;  // as text in ISO style, UTC (admin sessions)
    std::optional<std::string> comment;
  };
  struct Membership {
    std::string role, member;
    bool admin = false, inherit = false, set = true;
  };
  struct Setting {
    std::string role;
    std::optional<std::string> database;  // none: for every database
    std::vector<std::string> values;      // "name=value"
  };
  std::vector<Role> roles;
  std::vector<Membership> memberships;
  std::vector<Setting> settings;
};
Roles read_roles(Connection& conn);

// Creates or alters the roles on the target. The target login's own role is never dropped,
// recreated or altered. On a target login that is not a superuser, attributes only a
// superuser can grant are left out and reported, and the login is made a member of the
// copied roles so that it can give them ownership. Idempotent: safe to run again.
RolesOutcome apply_roles(const Roles& roles, Connection& target, const Login& target_login);
// Compares the roles on the target with `source` (per-database role settings only for the
// copied databases); adds a check to the report.
void verify_roles(const Roles& source, Connection& target, const Login& target_login,
                  const std::set<std::string>& excused, const std::set<std::string>& databases,
                  engine::Report& report);

struct DatabaseInfo {
  std::string name;
  std::string owner;
  std::string encoding;
  std::string collate;
  std::string ctype;
  std::string locale_provider;  // 'c' libc, 'i' icu, 'b' builtin (17+)
  std::string icu_locale;       // the ICU or builtin locale (datlocale from 17)
  std::string icu_rules;        // 16+
  int connection_limit = -1;
  bool default_acl = true;
  std::vector<std::string> grants;  // GRANT statements, after REVOKE ALL
  std::vector<std::string> settings;  // "name=value" from ALTER DATABASE SET
  struct RoleSetting {
    std::string role;
    std::vector<std::string> values;  // "name=value" from ALTER ROLE ... IN DATABASE ... SET
  };
  std::vector<RoleSetting> role_settings;
  std::string comment;
  bool is_template = false;
};

// Databases that accept connections (template1 and other templates too, as pg_dumpall;
// not template0), or only `only` when given.
// Throws Error(usage) for a name in `only` that the source lacks.
std::vector<DatabaseInfo> read_databases(Connection& source, const std::vector<std::string>& only);
std::string create_database_sql(Connection& target, const DatabaseInfo& db);
// Owner, privileges, settings and comment: run after the database exists.
std::vector<std::string> database_properties_sql(Connection& target, const DatabaseInfo& db);
// Compares what database_properties_sql sets, on both servers.
void verify_database_properties(Connection& source, Connection& target, const std::string& dbname,
                                bool compare_owner, engine::Report& report);

// Whether the connection's database holds nothing a new database does not (tables,
// functions, schemas, types, large objects, extensions but plpgsql).
bool database_is_empty(Connection& conn);
// Drops a database on `admin` (not connected to it), ending other sessions first.
void drop_database(Connection& admin, const std::string& name);
// Makes `db` on the target through `admin` (a session in another database): an existing
// empty one is kept unless `clean`, any other is dropped and created again. Then its
// properties are set: the owner stays `login` where that cannot act as the owner (in
// `unassumable`), and on a login that is not a superuser a property it may not set is left
// out. What was left out goes to `left_out`. Returns false when an empty one was kept.
bool recreate_database(Connection& admin, const ConnInfo& target, const DatabaseInfo& db, bool clean,
                       const Login& login, const std::set<std::string>& unassumable,
                       std::vector<std::string>& left_out);

// The columns of pg_database (as d) that say a database's locale provider, its ICU or
// builtin locale and ICU rules, for the connection's server version.
std::string locale_columns(const Connection& conn);

// "name=value" from pg_db_role_setting -> "SET name TO value", quoting as pg_dumpall does.
std::string set_clause(Connection& conn, const std::string& setting);

}  // namespace decant::pg
