#pragma once
// A libpq connection string or URI, parsed by libpq itself so that every form libpq
// accepts works, and rebuilt per database. PG* variables and ~/.pgpass still apply
// because unset keywords are left to libpq.
#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace decant::pg {

class ConnInfo {
 public:
  // Throws Error(usage) on a malformed string; `role` ("source"/"target") names it in errors.
  static ConnInfo parse(const std::string& text, const std::string& role);

  // The full connection string for libpq in this process (includes the password).
  std::string for_database(const std::string& dbname) const;
  // The same without the password, for a child's argv; the password goes in PGPASSWORD.
  std::string for_child(const std::string& dbname) const;
  std::optional<std::string> password() const;
  // A keyword's value as given ("host", "port", "user", "sslmode"), or nullopt.
  std::optional<std::string> param(const std::string& keyword) const;
  // The same connection string with `keyword` set to `value`.
  ConnInfo with(const std::string& keyword, const std::string& value) const;
  // Safe to show: host, port, user, database; never the password.
  std::string display() const;
  std::string display(const std::string& dbname) const;
  // The user libpq logs in as: the string's, PGUSER, or the effective OS user's name.
  std::string user() const;
  // Where libpq connects: host (else hostaddr), else PGHOST (else PGHOSTADDR); empty for
  // libpq's default Unix socket. The port: the string's, PGPORT, or 5432.
  std::string host() const;
  std::string port() const;
  // The database named in the string (or libpq's default from PGDATABASE/user).
  std::string maintenance_db() const;
  const std::string& role() const { return role_; }
  // How long a connection attempt may take: connect_timeout (or PGCONNECT_TIMEOUT) per
  // host, as libpq counts it, for every host listed.
  std::chrono::seconds connect_budget() const;

 private:
  std::string build(const std::optional<std::string>& dbname, bool with_password) const;
  std::map<std::string, std::string> params_;
  std::string role_;
};

std::string quote_conninfo_value(const std::string& value);

}  // namespace decant::pg
