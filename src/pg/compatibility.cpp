#include "pg/compatibility.hpp"

#include <fmt/format.h>

namespace decant::pg {
namespace {

std::set<std::string> setting_names(Connection& conn) {
  std::set<std::string> out;
  auto r = conn.exec("SELECT name FROM pg_catalog.pg_settings");
  for (int i = 0; i < r.rows(); ++i) out.insert(r.text(i, 0));
  return out;
}

std::string setting_name(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }

}  // namespace

std::vector<std::string> instance_incompatibilities(Connection& source, Connection& target,
                                                    const std::vector<DatabaseInfo>& databases) {
  std::vector<std::string> problems;
  int target_version = target.server_version();
  std::string target_name = fmt::format("PostgreSQL {}", target_version / 10000);
  for (const auto& db : databases) {
    if (db.locale_provider == "i" && target_version < 150000)
      problems.push_back(fmt::format("database {} uses the ICU locale provider ({}), which {} cannot give a database",
                                     db.name, db.icu_locale, target_name));
    if (db.locale_provider == "b" && target_version < 170000)
      problems.push_back(fmt::format("database {} uses the builtin locale provider ({}), new in PostgreSQL 17", db.name,
                                     db.icu_locale));
    if (!db.icu_rules.empty() && target_version < 160000)
      problems.push_back(fmt::format("database {} has ICU rules, new in PostgreSQL 16", db.name));
  }

  // Settings given with ALTER DATABASE / ALTER ROLE ... SET, by name: a name with a dot
  // is an extension's placeholder, which any server takes.
  auto known = setting_names(target);
  std::set<std::string> copied;
  for (const auto& db : databases) copied.insert(db.name);
  auto settings = source.exec(
      "SELECT coalesce(r.rolname, ''), coalesce(d.datname, ''), s.setconfig FROM pg_catalog.pg_db_role_setting s "
      "LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase");
  for (int i = 0; i < settings.rows(); ++i) {
    std::string role = settings.text(i, 0), db = settings.text(i, 1);
    if (!db.empty() && !copied.count(db)) continue;
    for (const auto& assignment : settings.text_array(i, 2)) {
      std::string name = setting_name(assignment);
      if (name.find('.') != std::string::npos || known.count(name)) continue;
      std::string where = role.empty() ? "database " + db : db.empty() ? "role " + role : "role " + role + " in database " + db;
      problems.push_back(fmt::format("{} sets {}, which {} does not know", where, name, target_name));
    }
  }

  // Before 16 a membership inherits as its member's INHERIT attribute says and always
  // allows SET ROLE: other per-membership options cannot be kept.
  if (source.server_version() >= 160000 && target_version < 160000) {
    auto r = source.exec(
        "SELECT DISTINCT r.rolname, m.rolname, a.inherit_option, a.set_option FROM pg_catalog.pg_auth_members a "
        "JOIN pg_catalog.pg_roles r ON r.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member "
        "WHERE m.rolname !~ '^pg_' AND (a.inherit_option <> m.rolinherit OR NOT a.set_option) ORDER BY 1, 2");
    for (int i = 0; i < r.rows(); ++i)
      problems.push_back(fmt::format("the membership of {} in {} has INHERIT {}, SET {} (per-membership options are "
                                     "new in PostgreSQL 16)",
                                     r.text(i, 1), r.text(i, 0), r.boolean(i, 2) ? "TRUE" : "FALSE",
                                     r.boolean(i, 3) ? "TRUE" : "FALSE"));
  }
  return problems;
}

std::vector<std::string> missing_roles(Connection& source, Connection& target) {
  std::set<std::string> existing;
  auto t = target.exec("SELECT rolname FROM pg_catalog.pg_roles");
  for (int i = 0; i < t.rows(); ++i) existing.insert(t.text(i, 0));
  std::vector<std::string> missing;
  auto s = source.exec("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_' ORDER BY 1");
  for (int i = 0; i < s.rows(); ++i)
    if (!existing.count(s.text(i, 0))) missing.push_back(s.text(i, 0));
  return missing;
}

}  // namespace decant::pg
