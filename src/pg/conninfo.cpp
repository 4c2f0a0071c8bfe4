#include "pg/conninfo.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "common/error.hpp"
#include "common/c_handle.hpp"

namespace decant::pg {
namespace {

std::string elide_quoted(const std::string& message) {
  std::string out;
  bool quoted = false;
  for (char c : message) {
    if (c == '"') {
      out += quoted ? "\"" : "\"...";
      quoted = !quoted;
    } else if (!quoted) {
      out += c;
    }
  }
  return out;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
}  // namespace

std::string quote_conninfo_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

ConnInfo ConnInfo::parse(const std::string& text, const std::string& role) {
  char* err_raw = nullptr;
  CHandle<PQconninfoOption, PQconninfoFree> opts(PQconninfoParse(text.c_str(), &err_raw));
  CHandle<char, PQfreemem> err(err_raw);
  if (!opts) {
    // libpq's message can quote the offending part of the input, which may be the whole
    // URI or the password: show the message with every quoted part elided.
    std::string msg = elide_quoted(err ? err.get() : "out of memory");
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw Error(ExitCode::usage, "the --" + role + " connection string is malformed: " + msg,
                "give a libpq URI (postgresql://user@host:5432/postgres) or key=value string");
  }
  ConnInfo info;
  info.role_ = role;
  for (auto* o = opts.get(); o->keyword; ++o)
    if (o->val && *o->val) info.params_[o->keyword] = o->val;
  // A dead host must not hang the command: bound the connect time unless the user did.
  if (!info.params_.count("connect_timeout") && !std::getenv("PGCONNECT_TIMEOUT"))
    info.params_["connect_timeout"] = "10";
  if (!info.params_.count("application_name")) info.params_["application_name"] = "decant";
  return info;
}

ConnInfo ConnInfo::with(const std::string& keyword, const std::string& value) const {
  ConnInfo out = *this;
  out.params_[keyword] = value;
  return out;
}

std::string ConnInfo::build(const std::optional<std::string>& dbname, bool with_password) const {
  std::string out;
  for (const auto& [k, v] : params_) {
    if (k == "dbname" && dbname) continue;
    // Secrets never go into a child's argv: the password travels in PGPASSWORD; an
    // sslpassword (client key passphrase) has no such channel and is left out.
    if ((k == "password" || k == "sslpassword") && !with_password) continue;
    if (!out.empty()) out += ' ';
    out += k + "=" + quote_conninfo_value(v);
  }
  if (dbname) out += (out.empty() ? "" : " ") + std::string("dbname=") + quote_conninfo_value(*dbname);
  return out;
}

std::string ConnInfo::for_database(const std::string& dbname) const { return build(dbname, true); }
std::string ConnInfo::for_child(const std::string& dbname) const { return build(dbname, false); }

std::optional<std::string> ConnInfo::password() const { return param("password"); }

std::optional<std::string> ConnInfo::param(const std::string& keyword) const {
  auto it = params_.find(keyword);
  if (it == params_.end()) return std::nullopt;
  return it->second;
}

namespace {

// libpq's default user: the name of the effective user id (not getlogin(), which is the
// terminal's login, another user under sudo and none under cron or CI).
std::string os_user_name() {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return "";
  return found->pw_name;
}

}  // namespace

std::string ConnInfo::user() const {
  auto it = params_.find("user");
  return it != params_.end() ? it->second : env_or("PGUSER", os_user_name());
}

std::string ConnInfo::host() const {
  for (const char* keyword : {"host", "hostaddr"})
    if (auto it = params_.find(keyword); it != params_.end() && !it->second.empty()) return it->second;
  return env_or("PGHOST", env_or("PGHOSTADDR", ""));
}

std::string ConnInfo::port() const {
  auto it = params_.find("port");
  return it != params_.end() && !it->second.empty() ? it->second : env_or("PGPORT", "5432");
}

std::string ConnInfo::maintenance_db() const {
  auto it = params_.find("dbname");
  if (it != params_.end()) return it->second;
  auto name = user();
  return env_or("PGDATABASE", name.empty() ? "postgres" : name);
}

std::string ConnInfo::display(const std::string& dbname) const {
  std::string where = host();
  return user() + "@" + (where.empty() ? "localhost" : where) + ":" + port() + "/" + dbname;
}

std::chrono::seconds ConnInfo::connect_budget() const {
  auto it = params_.find("connect_timeout");
  std::string text = it != params_.end() ? it->second : env_or("PGCONNECT_TIMEOUT", "10");
  long per_host = std::strtol(text.c_str(), nullptr, 10);
  if (per_host <= 0) per_host = 3600;  // libpq: 0 waits indefinitely; stay bounded
  per_host = std::max(per_host, 2L);   // libpq's minimum
  auto hosts = params_.count("host") ? params_.at("host") : params_.count("hostaddr") ? params_.at("hostaddr") : "";
  long count = 1 + static_cast<long>(std::count(hosts.begin(), hosts.end(), ','));
  return std::chrono::seconds(per_host * count);
}

std::string ConnInfo::display() const { return display(maintenance_db()); }

}  // namespace decant::pg
