#include "backup/pg_records.hpp"

#include <array>
#include <vector>

#include "common/error.hpp"

namespace decant::backup::pg_records {
using nlohmann::json;

json roles_json(const pg::Roles& r) {
  json roles = json::array(), memberships = json::array(), settings = json::array();
  for (const auto& role : r.roles)
    roles.push_back({{"name", role.name},
                     {"attributes", role.attributes},
                     {"connection_limit", role.connection_limit},
                     {"password", role.password ? json(*role.password) : json(nullptr)},
                     {"valid_until", role.valid_until ? json(*role.valid_until) : json(nullptr)},
                     {"comment", role.comment ? json(*role.comment) : json(nullptr)}});
  for (const auto& m : r.memberships)
    memberships.push_back({{"role", m.role}, {"member", m.member}, {"admin", m.admin}, {"inherit", m.inherit}, {"set", m.set}});
  for (const auto& s : r.settings)
    settings.push_back({{"role", s.role}, {"database", s.database ? json(*s.database) : json(nullptr)}, {"values", s.values}});
  return {{"passwords", r.passwords}, {"roles", roles}, {"memberships", memberships}, {"settings", settings}};
}

namespace {

std::optional<std::string> optional_string(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<std::string>();
}

}  // namespace

pg::Roles roles_from_json(const json& j) {
  pg::Roles r;
  r.passwords = j.at("passwords").get<bool>();
  for (const auto& x : j.at("roles"))
    r.roles.push_back({x.at("name"), x.at("attributes").get<std::array<bool, 7>>(), x.at("connection_limit"),
                       optional_string(x, "password"), optional_string(x, "valid_until"), optional_string(x, "comment")});
  for (const auto& x : j.at("memberships"))
    r.memberships.push_back({x.at("role"), x.at("member"), x.at("admin"), x.at("inherit"), x.at("set")});
  for (const auto& x : j.at("settings"))
    r.settings.push_back({x.at("role"), optional_string(x, "database"), x.at("values").get<std::vector<std::string>>()});
  return r;
}

json database_json(const pg::DatabaseInfo& d) {
  json role_settings = json::array();
  for (const auto& [role, values] : d.role_settings) role_settings.push_back({{"role", role}, {"values", values}});
  return {{"name", d.name},         {"owner", d.owner},
          {"encoding", d.encoding}, {"collate", d.collate},
          {"ctype", d.ctype},       {"locale_provider", d.locale_provider},
          {"icu_locale", d.icu_locale}, {"icu_rules", d.icu_rules},
          {"connection_limit", d.connection_limit}, {"default_acl", d.default_acl},
          {"grants", d.grants},     {"settings", d.settings},
          {"role_settings", role_settings}, {"comment", d.comment},
          {"is_template", d.is_template}};
}

pg::DatabaseInfo database_from_json(const json& j) {
  pg::DatabaseInfo d;
  d.name = j.at("name");
  d.owner = j.at("owner");
  d.encoding = j.at("encoding");
  d.collate = j.at("collate");
  d.ctype = j.at("ctype");
  d.locale_provider = j.at("locale_provider");
  d.icu_locale = j.at("icu_locale");
  d.icu_rules = j.at("icu_rules");
  d.connection_limit = j.at("connection_limit");
  d.default_acl = j.at("default_acl");
  d.grants = j.at("grants").get<std::vector<std::string>>();
  d.settings = j.at("settings").get<std::vector<std::string>>();
  for (const auto& rs : j.at("role_settings"))
    d.role_settings.emplace_back(rs.at("role").get<std::string>(), rs.at("values").get<std::vector<std::string>>());
  d.comment = j.at("comment");
  d.is_template = j.at("is_template");
  return d;
}

json table_json(const pg::TableInfo& t) {
  return {{"oid", t.oid},
          {"display", t.display},
          {"qualified", t.qualified},
          {"columns", t.columns},
          {"extension_config", t.extension_config},
          {"filter", t.filter ? json(*t.filter) : json(nullptr)},
          {"references", t.references},
          {"bytes", t.bytes}};
}

pg::TableInfo table_from_json(const json& j) {
  pg::TableInfo t;
  t.oid = j.at("oid");
  t.display = j.at("display");
  t.qualified = j.at("qualified");
  t.columns = j.at("columns").get<std::vector<std::string>>();
  t.extension_config = j.at("extension_config");
  t.filter = optional_string(j, "filter");
  t.references = j.at("references").get<std::vector<uint32_t>>();
  t.bytes = j.at("bytes");
  return t;
}

json identity_json(const pg::ServerIdentity& id) {
  return {{"system_identifier", id.system_identifier},
          {"data_directory", id.data_directory ? json(*id.data_directory) : json(nullptr)},
          {"port", id.port},
          {"started", id.started}};
}

pg::ServerIdentity identity_from_json(const json& j) {
  pg::ServerIdentity id;
  id.system_identifier = j.value("system_identifier", "");
  id.data_directory = optional_string(j, "data_directory");
  id.port = j.value("port", "");
  id.started = j.value("started", "");
  return id;
}

[[noreturn]] void bad_manifest(const std::string& what) {
  throw Error(ExitCode::backup_manifest, "the manifest's PostgreSQL part is not valid: " + what,
              "restore another backup (decant backup list)");
}

}  // namespace decant::backup::pg_records
