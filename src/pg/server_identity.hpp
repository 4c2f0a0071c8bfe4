#pragma once
// Which PostgreSQL server a connection reached, told by the server itself, not by its
// address: `localhost` and `127.0.0.1`, a second port-forward or a DNS alias all reach
// the same cluster. A copy whose target is its source would drop the source's databases.
#include <optional>
#include <string>

#include "pg/connection.hpp"

namespace decant::pg {

struct ServerIdentity {
  std::string system_identifier;  // pg_control_system(): shared by a cluster and its physical replicas
  std::optional<std::string> data_directory;  // needs superuser or pg_read_all_settings
  std::string port;                           // the port the server listens on, not the one dialled
  std::string started;                        // pg_postmaster_start_time(), to the microsecond
  bool in_recovery = false;

  std::string describe() const;
};

ServerIdentity read_identity(Connection& conn);
// The same running server: same cluster, data directory (when both could read it), port
// and start time.
bool same_server(const ServerIdentity& a, const ServerIdentity& b);

}  // namespace decant::pg
