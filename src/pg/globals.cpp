#include "pg/globals.hpp"
#include "pg/target_journal.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/error.hpp"
#include "common/log.hpp"

namespace decant::pg {
namespace {

// Settings whose value is a list that pg_dumpall writes unquoted (GUC_LIST_QUOTE).
const std::set<std::string> kListSettings = {"search_path", "temp_tablespaces", "session_preload_libraries",
                                             "local_preload_libraries", "shared_preload_libraries",
                                             "unix_socket_directories"};

// Attributes that only a superuser can grant.
struct Attribute {
  const char* column;
  const char* keyword;
  bool superuser_only;
};
const Attribute kAttributes[] = {
    {"rolsuper", "SUPERUSER", true},       {"rolinherit", "INHERIT", false},    {"rolcreaterole", "CREATEROLE", false},
    {"rolcreatedb", "CREATEDB", false},    {"rolcanlogin", "LOGIN", false},     {"rolreplication", "REPLICATION", true},
    {"rolbypassrls", "BYPASSRLS", true},
};

bool can_read_authid(Connection& conn) {
  return conn.exec("SELECT pg_catalog.has_table_privilege('pg_catalog.pg_authid', 'SELECT')").boolean(0, 0);
}

std::string roles_sql(bool with_passwords) {
  return fmt::format(
      "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, "
      "rolbypassrls, rolconnlimit, {}, rolvaliduntil, pg_catalog.shobj_description(oid, 'pg_authid') "
      "FROM pg_catalog.{} WHERE rolname !~ '^pg_' ORDER BY rolname",
      with_passwords ? "rolpassword" : "NULL::text", with_passwords ? "pg_authid" : "pg_roles");
}

// Memberships with, from PostgreSQL 16, their own INHERIT and SET options (before 16 a
// membership inherits as its member's rolinherit says, and always allows SET ROLE).
std::string memberships_sql(const Connection& conn) {
  return fmt::format(R"SQL(
SELECT DISTINCT r.rolname, m.rolname, a.admin_option, {}, {}, m.rolinherit
FROM pg_catalog.pg_auth_members a
JOIN pg_catalog.pg_roles r ON r.oid = a.roleid
JOIN pg_catalog.pg_roles m ON m.oid = a.member
WHERE m.rolname !~ '^pg_'
ORDER BY 1, 2
)SQL",
                     conn.server_version() >= 160000 ? "a.inherit_option" : "m.rolinherit",
                     conn.server_version() >= 160000 ? "a.set_option" : "true");
}

constexpr const char* kRoleSettingsSql = R"SQL(
SELECT r.rolname, d.datname, s.setconfig
FROM pg_catalog.pg_db_role_setting s
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
ORDER BY 1, 2
)SQL";

}  // namespace

Login current_login(Connection& conn) {
  auto r = conn.exec("SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_catalog.pg_roles "
                     "WHERE rolname = current_user");
  return Login{r.text(0, 0), r.boolean(0, 1), r.boolean(0, 2), r.boolean(0, 3)};
}

std::string set_clause(Connection& conn, const std::string& setting) {
  auto eq = setting.find('=');
  std::string name = setting.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : setting.substr(eq + 1);
  if (kListSettings.count(name)) return fmt::format("SET {} TO {}", conn.quote_ident(name), value);
  return fmt::format("SET {} TO {}", conn.quote_ident(name), conn.quote_literal(value));
}

Roles read_roles(Connection& conn) {
  Roles out;
  out.passwords = can_read_authid(conn);
  auto roles = conn.exec(roles_sql(out.passwords));
  for (int i = 0; i < roles.rows(); ++i) {
    Roles::Role r;
    r.name = roles.text(i, 0);
    for (size_t a = 0; a < r.attributes.size(); ++a) r.attributes[a] = roles.boolean(i, static_cast<int>(a) + 1);
    r.connection_limit = roles.text(i, 8);
    if (!roles.is_null(i, 9)) r.password = roles.text(i, 9);
    if (!roles.is_null(i, 10)) r.valid_until = roles.text(i, 10);
    if (!roles.is_null(i, 11)) r.comment = roles.text(i, 11);
    out.roles.push_back(std::move(r));
  }
  auto members = conn.exec(memberships_sql(conn));
  for (int i = 0; i < members.rows(); ++i)
    out.memberships.push_back(
        {members.text(i, 0), members.text(i, 1), members.boolean(i, 2), members.boolean(i, 3), members.boolean(i, 4)});
  auto settings = conn.exec(kRoleSettingsSql);
  for (int i = 0; i < settings.rows(); ++i) {
    if (settings.is_null(i, 0)) continue;  // a database's own settings: with the database
    out.settings.push_back({settings.text(i, 0),
                            settings.is_null(i, 1) ? std::nullopt : std::optional<std::string>(settings.text(i, 1)),
                            settings.text_array(i, 2)});
  }
  return out;
}

RolesOutcome apply_roles(const Roles& source, Connection& target, const Login& target_login) {
  RolesOutcome outcome;
  auto& left_out = outcome.left_out;
  if (!source.passwords)
    left_out.push_back("role password hashes: the source login cannot read pg_authid (connect as a superuser)");
  std::set<std::string> existing;
  {
    auto r = target.exec("SELECT rolname FROM pg_catalog.pg_roles");
    for (int i = 0; i < r.rows(); ++i) existing.insert(r.text(i, 0));
  }
  std::set<std::string> copied;

  // Runs one statement; on a target login that is not a superuser, a privilege error
  // leaves that item out instead of failing the copy.
  // `role` is the role whose verification the item excuses when it is left out.
  auto apply = [&](const std::string& sql, const std::string& item, const std::string& role) {
    try {
      target.exec(sql);
    } catch (const Error& e) {
      if (target_login.superuser || e.code() != ExitCode::privileges) throw;
      left_out.push_back(item + " (" + e.what() + ")");
      outcome.excused.insert(role);
    }
  };

  for (const auto& role : source.roles) {
    const std::string& name = role.name;
    if (name == target_login.name) {
      left_out.push_back("role " + name + ": it is the target login itself, left as it is");
      continue;
    }
    std::string q = target.quote_ident(name);
    if (!existing.count(name)) apply("CREATE ROLE " + q, "role " + name, name);
    std::string attrs;
    for (size_t a = 0; a < std::size(kAttributes); ++a) {
      bool on = role.attributes[a];
      if (kAttributes[a].superuser_only && !target_login.superuser) {
        if (on) left_out.push_back(fmt::format("role {}: {}", name, kAttributes[a].keyword));
        continue;
      }
      attrs += fmt::format(" {}{}", on ? "" : "NO", kAttributes[a].keyword);
    }
    attrs += " CONNECTION LIMIT " + role.connection_limit;
    if (role.password) attrs += " PASSWORD " + target.quote_literal(*role.password);
    if (role.valid_until) attrs += " VALID UNTIL " + target.quote_literal(*role.valid_until);
    apply("ALTER ROLE " + q + " WITH" + attrs, "role " + name + " attributes", name);
    if (role.comment)
      apply("COMMENT ON ROLE " + q + " IS " + target.quote_literal(*role.comment), "role " + name + " comment", name);
    copied.insert(name);
  }

  for (const auto& m : source.memberships) {
    if (m.role == m.member) continue;
    std::string options;
    if (target.server_version() >= 160000) {
      // Explicit, so that a membership keeps its own options whatever the member's default.
      options = fmt::format(" WITH ADMIN {}, INHERIT {}, SET {}", m.admin ? "TRUE" : "FALSE",
                            m.inherit ? "TRUE" : "FALSE", m.set ? "TRUE" : "FALSE");
    } else if (m.admin) {
      options = " WITH ADMIN OPTION";  // older targets: the rest follows the member (checked beforehand)
    }
    apply(fmt::format("GRANT {} TO {}{}", target.quote_ident(m.role), target.quote_ident(m.member), options),
          "membership of " + m.member + " in " + m.role, m.member);
  }

  for (const auto& setting : source.settings) {
    if (setting.database || !copied.count(setting.role)) continue;  // database settings come with the database
    for (const auto& v : setting.values)
      apply("ALTER ROLE " + target.quote_ident(setting.role) + " " + set_clause(target, v),
            "role " + setting.role + " setting " + v, setting.role);
  }
  if (!target_login.superuser) {
    // A login that is not a superuser can give ownership only to roles it is a member of.
    for (const auto& role : copied) {
      auto r = target.exec_params(
          "SELECT rolsuper, pg_catalog.pg_has_role(current_user, oid, 'MEMBER') FROM pg_catalog.pg_roles "
          "WHERE rolname = $1",
          {role});
      if (r.rows() == 1 && !r.boolean(0, 0) && !r.boolean(0, 1))
        apply("GRANT " + target.quote_ident(role) + " TO " + target.quote_ident(target_login.name),
              "membership of " + target_login.name + " in " + role, target_login.name);
    }
    auto r = target.exec(
        "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user "
        "AND NOT pg_catalog.pg_has_role(current_user, oid, 'MEMBER')");
    for (int i = 0; i < r.rows(); ++i) outcome.unassumable.insert(r.text(i, 0));
  }
  log::info("roles: {} copied{}", copied.size(),
            left_out.empty() ? "" : fmt::format(", {} item(s) left out", left_out.size()));
  return outcome;
}

namespace {
// One comparable line per role: what decant copied, masked where it left something out.
std::map<std::string, std::string> role_fingerprints(const Roles& roles, bool passwords, const Login& target_login,
                                                     bool mask_superuser_only, const std::set<std::string>& databases) {
  std::map<std::string, std::string> out;
  for (const auto& role : roles.roles) {
    if (role.name == target_login.name) continue;
    std::string fp;
    for (size_t a = 0; a < std::size(kAttributes); ++a) {
      if (kAttributes[a].superuser_only && mask_superuser_only) continue;
      fp += fmt::format("{}={} ", kAttributes[a].keyword, role.attributes[a] ? "t" : "f");
    }
    fp += "connlimit=" + role.connection_limit;
    if (passwords) fp += " password=" + role.password.value_or("none");
    fp += " valid_until=" + role.valid_until.value_or("none");
    out[role.name] = fp;
  }
  for (const auto& m : roles.memberships) {
    auto it = out.find(m.member);
    // inherit/set: as each server applies them (before 16: the member's rolinherit, SET allowed).
    if (it != out.end())
      it->second += fmt::format(" member_of={}{}{}{}", m.role, m.admin ? "*" : "", m.inherit ? "+inherit" : "",
                                m.set ? "+set" : "");
  }
  for (const auto& setting : roles.settings) {
    auto it = out.find(setting.role);
    if (it == out.end()) continue;
    std::string db = setting.database.value_or("*");
    if (db != "*" && !databases.count(db)) continue;
    for (const auto& v : setting.values) it->second += " set[" + db + "]:" + v;
  }
  return out;
}
}  // namespace

void verify_roles(const Roles& source, Connection& target, const Login& target_login,
                  const std::set<std::string>& excused, const std::set<std::string>& databases,
                  engine::Report& report) {
  Roles held = read_roles(target);
  bool passwords = source.passwords && held.passwords;
  bool mask = !target_login.superuser;
  auto src = role_fingerprints(source, passwords, target_login, mask, databases);
  auto tgt = role_fingerprints(held, passwords, target_login, mask, databases);
  std::vector<std::string> differ;
  for (const auto& [name, fp] : src) {
    auto it = tgt.find(name);
    if (excused.count(name)) continue;
    if (it == tgt.end())
      differ.push_back(name + " is missing");
    else if (it->second != fp)
      differ.push_back(name);
  }
  report.add_check(fmt::format("roles ({})", src.size()), differ.empty(),
                   differ.empty() ? "" : "differ: " + fmt::format("{}", fmt::join(differ, ", ")));
}

// Objects in the connection's database beyond what a new database has (plpgsql).
bool database_is_empty(Connection& conn) {
  auto r = conn.exec(
      "SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
      "          AND n.nspname !~ '^pg_temp') "
      "     + (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
      "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')) "
      "     + (SELECT count(*) FROM pg_catalog.pg_namespace n WHERE n.nspname NOT IN "
      "        ('pg_catalog', 'information_schema', 'public') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp') "
      "     + (SELECT count(*) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
      "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typrelid = 0 AND t.typelem = 0) "
      "     + (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata) "
      "     + (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql')");
  return r.int64(0, 0) == 0;
}

void drop_database(Connection& admin, const std::string& name) {
  // A template cannot be dropped. Other sessions (ours included) are ended first:
  // PostgreSQL 13+ does it with FORCE, 12 needs pg_terminate_backend.
  admin.exec("ALTER DATABASE " + admin.quote_ident(name) + " IS_TEMPLATE false");
  if (admin.server_version() >= 130000) {
    admin.exec("DROP DATABASE " + admin.quote_ident(name) + " WITH (FORCE)");
    return;
  }
  admin.exec("ALTER DATABASE " + admin.quote_ident(name) + " ALLOW_CONNECTIONS false");
  admin.exec_params("SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
                    {name});
  admin.exec("DROP DATABASE " + admin.quote_ident(name));
}

bool recreate_database(Connection& admin, const ConnInfo& target, const DatabaseInfo& db, bool clean,
                       const Login& login, const std::set<std::string>& unassumable,
                       std::vector<std::string>& left_out) {
  const std::string& name = db.name;
  auto exists = admin.exec_params("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {name});
  bool reuse = false;
  if (exists.rows() > 0) {
    {
      auto conn = Connection::open(target, name);
      reuse = database_is_empty(conn) && !clean;
    }
    if (!reuse) {
      log::info("dropping target database {} (--clean)", name);
      drop_database(admin, name);
    }
  }
  if (!reuse) admin.exec(create_database_sql(admin, db));
  DatabaseInfo properties = db;
  if (unassumable.count(db.owner)) {
    properties.owner = login.name;
    left_out.push_back(fmt::format("database {}: owner {} (kept as the target login {})", name, db.owner, login.name));
  }
  for (const auto& sql : database_properties_sql(admin, properties)) {
    try {
      admin.exec(sql);
    } catch (const Error& e) {
      if (login.superuser || e.code() != ExitCode::privileges) throw;
      left_out.push_back(fmt::format("database {}: {} ({})", name, sql, e.what()));
    }
  }
  return !reuse;
}

// A database's locale provider: from PostgreSQL 15 libc or ICU, from 17 also builtin
// (the column daticulocale became datlocale then); older servers have libc only.
std::string locale_columns(const Connection& conn) {
  int v = conn.server_version();
  if (v >= 170000) return "d.datlocprovider, d.datlocale, d.daticurules";
  if (v >= 160000) return "d.datlocprovider, d.daticulocale, d.daticurules";
  if (v >= 150000) return "d.datlocprovider, d.daticulocale, NULL::text";
  return "'c'::\"char\", NULL::text, NULL::text";
}

std::vector<DatabaseInfo> read_databases(Connection& source, const std::vector<std::string>& only) {
  auto r = source.exec(
      "SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba), pg_catalog.pg_encoding_to_char(d.encoding), "
      "d.datcollate, d.datctype, " + locale_columns(source) + ", d.datconnlimit, d.datacl IS NULL, "
      "pg_catalog.shobj_description(d.oid, 'pg_database'), d.datistemplate "
      "FROM pg_catalog.pg_database d WHERE d.datallowconn AND d.datname <> 'template0' AND d.datname <> " +
      source.quote_literal(kStateDatabase) + " ORDER BY d.datname");
  std::vector<DatabaseInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    DatabaseInfo db;
    db.name = r.text(i, 0);
    if (!only.empty() && std::find(only.begin(), only.end(), db.name) == only.end()) continue;
    db.owner = r.text(i, 1);
    db.encoding = r.text(i, 2);
    db.collate = r.text(i, 3);
    db.ctype = r.text(i, 4);
    db.locale_provider = r.text(i, 5);
    db.icu_locale = r.is_null(i, 6) ? "" : r.text(i, 6);
    db.icu_rules = r.is_null(i, 7) ? "" : r.text(i, 7);
    db.connection_limit = static_cast<int>(r.int64(i, 8));
    db.default_acl = r.boolean(i, 9);
    db.comment = r.is_null(i, 10) ? "" : r.text(i, 10);
    db.is_template = r.boolean(i, 11);
    out.push_back(std::move(db));
  }
  for (const auto& name : only)
    if (std::none_of(out.begin(), out.end(), [&](const DatabaseInfo& d) { return d.name == name; }))
      throw Error(ExitCode::usage, "the source has no database named " + name + " (or it does not accept connections)",
                  "check --dbname");

  for (auto& db : out) {
    if (!db.default_acl) {
      auto acl = source.exec_params(
          "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, "
          "a.privilege_type, a.is_grantable FROM pg_catalog.pg_database d, "
          "LATERAL pg_catalog.aclexplode(d.datacl) a WHERE d.datname = $1 ORDER BY 1, 2",
          {db.name});
      for (int i = 0; i < acl.rows(); ++i)
        db.grants.push_back(fmt::format("GRANT {} ON DATABASE {{db}} TO {}{}", acl.text(i, 1), acl.text(i, 0),
                                        acl.boolean(i, 2) ? " WITH GRANT OPTION" : ""));
    }
    auto settings = source.exec_params(
        "SELECT r.rolname, s.setconfig FROM pg_catalog.pg_db_role_setting s "
        "JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase "
        "LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE d.datname = $1 ORDER BY 1 NULLS FIRST",
        {db.name});
    for (int i = 0; i < settings.rows(); ++i) {
      if (settings.is_null(i, 0))
        db.settings = settings.text_array(i, 1);
      else
        db.role_settings.emplace_back(settings.text(i, 0), settings.text_array(i, 1));
    }
  }
  return out;
}

std::string create_database_sql(Connection& target, const DatabaseInfo& db) {
  std::string sql = fmt::format("CREATE DATABASE {} WITH TEMPLATE = template0 ENCODING = {}", target.quote_ident(db.name),
                                target.quote_literal(db.encoding));
  if (db.locale_provider == "i") {
    sql += " LOCALE_PROVIDER = icu ICU_LOCALE = " + target.quote_literal(db.icu_locale);
    if (!db.icu_rules.empty()) sql += " ICU_RULES = " + target.quote_literal(db.icu_rules);
  } else if (db.locale_provider == "b") {
    sql += " LOCALE_PROVIDER = builtin BUILTIN_LOCALE = " + target.quote_literal(db.icu_locale);
  } else if (target.server_version() >= 150000) {
    sql += " LOCALE_PROVIDER = libc";
  }
  sql += fmt::format(" LC_COLLATE = {} LC_CTYPE = {}", target.quote_literal(db.collate), target.quote_literal(db.ctype));
  return sql;
}

std::vector<std::string> database_properties_sql(Connection& target, const DatabaseInfo& db) {
  std::string q = target.quote_ident(db.name);
  std::vector<std::string> out;
  out.push_back(fmt::format("ALTER DATABASE {} OWNER TO {}", q, target.quote_ident(db.owner)));
  out.push_back(fmt::format("ALTER DATABASE {} CONNECTION LIMIT = {}", q, db.connection_limit));
  out.push_back(fmt::format("ALTER DATABASE {} IS_TEMPLATE {}", q, db.is_template ? "true" : "false"));
  if (!db.default_acl) {
    out.push_back(fmt::format("REVOKE ALL ON DATABASE {} FROM PUBLIC", q));
    out.push_back(fmt::format("REVOKE ALL ON DATABASE {} FROM {}", q, target.quote_ident(db.owner)));
    for (auto g : db.grants) {
      g.replace(g.find("{db}"), 4, q);
      out.push_back(g);
    }
  }
  out.push_back(fmt::format("ALTER DATABASE {} RESET ALL", q));
  for (const auto& s : db.settings) out.push_back(fmt::format("ALTER DATABASE {} {}", q, set_clause(target, s)));
  for (const auto& [role, settings] : db.role_settings)
    for (const auto& s : settings)
      out.push_back(fmt::format("ALTER ROLE {} IN DATABASE {} {}", target.quote_ident(role), q, set_clause(target, s)));
  out.push_back(fmt::format("COMMENT ON DATABASE {} IS {}", q,
                            db.comment.empty() ? std::string("NULL") : target.quote_literal(db.comment)));
  return out;
}

void verify_database_properties(Connection& source, Connection& target, const std::string& dbname,
                                bool compare_owner, engine::Report& report) {
  auto sql_for = [](const Connection& conn) {
    return "SELECT pg_catalog.pg_get_userbyid(d.datdba), pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, "
      "d.datctype, " + locale_columns(conn) + ", d.datconnlimit, "
      "coalesce((SELECT string_agg(x, ',' ORDER BY x) FROM (SELECT format('%s:%s:%s', a.grantee::regrole, "
      "a.privilege_type, a.is_grantable) AS x FROM pg_catalog.aclexplode(coalesce(d.datacl, "
      "pg_catalog.acldefault('d', d.datdba))) a) acl), ''), "
      "coalesce((SELECT string_agg(x, ';' ORDER BY x) FROM (SELECT coalesce(r.rolname, '*') || ':' || "
      "array_to_string(s.setconfig, ',') AS x FROM pg_catalog.pg_db_role_setting s "
      "LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = d.oid) st), ''), "
      "coalesce(pg_catalog.shobj_description(d.oid, 'pg_database'), ''), d.datistemplate "
      "FROM pg_catalog.pg_database d WHERE d.datname = $1";
  };
  auto a = source.exec_params(sql_for(source), {dbname});
  auto b = target.exec_params(sql_for(target), {dbname});
  const char* names[] = {"owner",     "encoding",         "collate",    "ctype",    "locale provider", "locale",
                         "icu rules", "connection limit", "privileges", "settings", "comment",         "is template"};
  std::vector<std::string> differ;
  if (b.rows() != 1) {
    differ.emplace_back("missing on the target");
  } else {
    // Privileges name the owner too: without the owner, compare them without it.
    for (int c = compare_owner ? 0 : 1; c < 12; ++c)
      if (a.text(0, c) != b.text(0, c) && (compare_owner || c != 8)) differ.emplace_back(names[c]);
  }
  report.add_check("database " + dbname + " properties", differ.empty(),
                   fmt::format("{}", fmt::join(differ, ", ")));
}

}  // namespace decant::pg
