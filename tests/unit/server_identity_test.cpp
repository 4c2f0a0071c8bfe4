#include "pg/server_identity.hpp"

#include <gtest/gtest.h>

namespace decant::pg {
namespace {

ServerIdentity server(std::string sysid, std::optional<std::string> dir, std::string port, std::string started) {
  ServerIdentity id;
  id.system_identifier = std::move(sysid);
  id.data_directory = std::move(dir);
  id.port = std::move(port);
  id.started = std::move(started);
  return id;
}

TEST(SameServer, EverythingEqualIsTheSameServer) {
  auto a = server("7714", "/var/lib/postgresql/data", "5432", "2026-11-30 16:52:38.123456");
  EXPECT_TRUE(same_server(a, a));
}

TEST(SameServer, AReplicaOrAnotherClusterIsNot) {
  auto a = server("7714", "/var/lib/postgresql/data", "5432", "2026-11-30 16:52:38.123456");
  // A physical replica: same system identifier, started at another time.
  EXPECT_FALSE(same_server(a, server("7714", "/var/lib/postgresql/data", "5432", "2026-11-30 17:00:00.000001")));
  // Another cluster on the same host, or another port.
  EXPECT_FALSE(same_server(a, server("8800", "/var/lib/postgresql/data", "5432", "2026-11-30 16:52:38.123456")));
  EXPECT_FALSE(same_server(a, server("7714", "/srv/other", "5432", "2026-11-30 16:52:38.123456")));
  EXPECT_FALSE(same_server(a, server("7714", "/var/lib/postgresql/data", "5433", "2026-11-30 16:52:38.123456")));
}

TEST(SameServer, AnUnreadableDataDirectoryDecidesNothing) {
  // A login without pg_read_all_settings cannot see it: the rest still tells.
  auto a = server("7714", std::nullopt, "5432", "2026-11-30 16:52:38.123456");
  auto b = server("7714", "/var/lib/postgresql/data", "5432", "2026-11-30 16:52:38.123456");
  EXPECT_TRUE(same_server(a, b));
  EXPECT_FALSE(same_server(a, server("7714", std::nullopt, "5432", "2026-11-30 16:52:38.123457")));
}

}  // namespace
}  // namespace decant::pg
