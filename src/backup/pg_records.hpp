#pragma once
// What the PostgreSQL part of a backup records of the server, as the manifest keeps it
// (roles, databases, tables, the server's identity) and read back, and what its create,
// restore and export share.
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "pg/catalog.hpp"
#include "pg/connection.hpp"
#include "pg/globals.hpp"
#include "pg/server_identity.hpp"

namespace decant::backup::pg_records {

nlohmann::json roles_json(const pg::Roles& r);
pg::Roles roles_from_json(const nlohmann::json& j);
nlohmann::json database_json(const pg::DatabaseInfo& d);
pg::DatabaseInfo database_from_json(const nlohmann::json& j);
nlohmann::json table_json(const pg::TableInfo& t);
pg::TableInfo table_from_json(const nlohmann::json& j);
nlohmann::json identity_json(const pg::ServerIdentity& id);
pg::ServerIdentity identity_from_json(const nlohmann::json& j);

// Throws Error(backup_manifest): the manifest's PostgreSQL part says `what` wrong.
[[noreturn]] void bad_manifest(const std::string& what);

// Each worker's session per database, opened on first use: a worker keeps one per database
// it works in, so that thousands of tables cost no connection each.
class SessionCache {
 public:
  pg::Connection& get(int worker, const std::string& db, const std::function<pg::Connection()>& open) {
    std::lock_guard lock(mutex_);
    auto& conn = sessions_[{worker, db}];
    if (!conn.is_open()) conn = open();
    return conn;
  }
  void clear() {
    std::lock_guard lock(mutex_);
    sessions_.clear();
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<int, std::string>, pg::Connection> sessions_;
};

}  // namespace decant::backup::pg_records
