#include "pg/extensions.hpp"

#include <fmt/format.h>

#include "engine/report.hpp"

namespace decant::pg {

std::vector<ExtensionInfo> read_extensions(Connection& conn) {
  std::vector<ExtensionInfo> out;
  auto r = conn.exec(
      "SELECT e.extname, e.extversion, n.nspname FROM pg_catalog.pg_extension e "
      "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY 1");
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2)});
  return out;
}

std::map<std::string, OfferedExtension> offered_extensions(Connection& server) {
  std::map<std::string, OfferedExtension> out;
  auto r = server.exec(
      "SELECT v.name, v.version, a.default_version FROM pg_catalog.pg_available_extension_versions v "
      "JOIN pg_catalog.pg_available_extensions a ON a.name = v.name");
  for (int i = 0; i < r.rows(); ++i) {
    auto& o = out[r.text(i, 0)];
    o.versions.insert(r.text(i, 1));
    o.default_version = r.text(i, 2);
  }
  return out;
}

std::string offered_text(const OfferedExtension& offered) {
  std::vector<std::string> parts;
  for (const auto& v : offered.versions) parts.push_back(v == offered.default_version ? v + " (default)" : v);
  return fmt::format("{}", fmt::join(parts, ", "));
}

ExtensionVersions plan_extension_versions(const std::string& db, const std::vector<ExtensionInfo>& used,
                                          const std::map<std::string, OfferedExtension>& offered,
                                          const std::set<std::string>& update) {
  ExtensionVersions out;
  out.source = used;
  for (const auto& ext : used) {
    auto it = offered.find(ext.name);
    if (it == offered.end()) {
      out.problems.push_back(fmt::format("database {} uses the extension {} {}, which the target server does not have "
                                         "installed",
                                         db, ext.name, ext.version));
      continue;
    }
    const auto& o = it->second;
    if (update.count(ext.name)) {
      out.create_at[ext.name] = o.default_version;
      if (o.default_version != ext.version)
        out.updated.push_back(fmt::format("database {}: extension {} created at the target's default {} instead of the "
                                          "source's {} (--extension-update)",
                                          db, ext.name, o.default_version, ext.version));
    } else if (o.versions.count(ext.version)) {
      out.create_at[ext.name] = ext.version;
    } else {
      out.problems.push_back(fmt::format("database {} uses the extension {} {}, which the target offers only at {}", db,
                                         ext.name, ext.version, offered_text(o)));
    }
  }
  return out;
}

namespace {

// An SQL identifier at the start of `text` as pg_dump writes it (plain, or in double
// quotes with "" for a quote): its name, and how many characters it took.
std::pair<std::string, size_t> identifier_at(std::string_view text) {
  if (text.empty()) return {"", 0};
  if (text[0] != '"') {
    size_t end = text.find_first_of(" ;");
    return {std::string(text.substr(0, end)), end == std::string_view::npos ? text.size() : end};
  }
  std::string name;
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] != '"') {
      name += text[i];
    } else if (i + 1 < text.size() && text[i + 1] == '"') {
      name += '"';
      ++i;
    } else {
      return {name, i + 1};
    }
  }
  return {"", 0};  // unterminated: not pg_dump's
}

std::string quoted_literal(const std::string& value) {
  std::string out = "'";
  for (char c : value) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string with_extension_version(std::string_view line, const std::map<std::string, std::string>& versions) {
  constexpr std::string_view kCreate = "CREATE EXTENSION IF NOT EXISTS ";
  if (line.rfind(kCreate, 0) != 0 || line.back() != ';') return std::string(line);
  auto [name, length] = identifier_at(line.substr(kCreate.size()));
  auto it = versions.find(name);
  if (length == 0 || it == versions.end()) return std::string(line);
  return std::string(line.substr(0, line.size() - 1)) + " VERSION " + quoted_literal(it->second) + ";";
}

void verify_extensions(const ExtensionVersions& planned, Connection& target_db, const std::string& db,
                       engine::Report& report) {
  std::map<std::string, std::pair<std::string, std::string>> expected, actual;
  for (const auto& e : planned.source) {
    auto created = planned.create_at.find(e.name);
    expected[e.name] = {created == planned.create_at.end() ? e.version : created->second, e.schema};
  }
  for (const auto& e : read_extensions(target_db)) actual[e.name] = {e.version, e.schema};
  std::vector<std::string> differ;
  for (const auto& [name, want] : expected) {
    auto it = actual.find(name);
    if (it == actual.end())
      differ.push_back(name + " missing");
    else if (it->second != want)
      differ.push_back(fmt::format("{} {} in schema {} (expected {} in {})", name, it->second.first, it->second.second,
                                   want.first, want.second));
  }
  for (const auto& [name, got] : actual)
    if (!expected.count(name)) differ.push_back(name + " " + got.first + " not on the source");
  report.add_check("database " + db + " extensions", differ.empty(), fmt::format("{}", fmt::join(differ, "; ")));
}

}  // namespace decant::pg
