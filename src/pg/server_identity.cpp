#include "pg/server_identity.hpp"

#include <fmt/format.h>

namespace decant::pg {

ServerIdentity read_identity(Connection& conn) {
  auto r = conn.exec(
      "SELECT (SELECT system_identifier::text FROM pg_catalog.pg_control_system()), "
      "CASE WHEN pg_catalog.pg_has_role('pg_read_all_settings', 'MEMBER') "
      "     THEN pg_catalog.current_setting('data_directory') END, "
      "pg_catalog.current_setting('port'), "
      "to_char(pg_catalog.pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
      "pg_catalog.pg_is_in_recovery()");
  ServerIdentity id;
  id.system_identifier = r.text(0, 0);
  if (!r.is_null(0, 1)) id.data_directory = r.text(0, 1);
  id.port = r.text(0, 2);
  id.started = r.text(0, 3);
  id.in_recovery = r.boolean(0, 4);
  return id;
}

bool same_server(const ServerIdentity& a, const ServerIdentity& b) {
  if (a.system_identifier != b.system_identifier || a.port != b.port || a.started != b.started) return false;
  return !a.data_directory || !b.data_directory || *a.data_directory == *b.data_directory;
}

std::string ServerIdentity::describe() const {
  return fmt::format("cluster {}{}, port {}, running since {} UTC", system_identifier,
                     data_directory ? ", data directory " + *data_directory : std::string(), port, started);
}

}  // namespace decant::pg
