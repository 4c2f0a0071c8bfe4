// Telling the source and the target apart by what each server says about itself.
#include <gtest/gtest.h>

#include "mongo/client.hpp"

namespace decant::mongo {
namespace {

// hello and serverStatus replies as FerretDB 1.24 gives them (no topologyVersion; a
// serverStatus with the host name only, pid, uptimeMillis and localTime).
ServerIdentity ferretdb(int64_t pid, int64_t local_time_ms, int64_t uptime_ms, const std::string& host = "vm") {
  Bson hello = Bson::from_json(R"({"ismaster": true, "maxWireVersion": 21, "ok": 1.0})");
  Bson status = Bson::from_json(R"({"host": ")" + host + R"(", "pid": {"$numberLong": ")" + std::to_string(pid) +
                                R"("}, "uptimeMillis": {"$numberLong": ")" + std::to_string(uptime_ms) +
                                R"("}, "localTime": {"$date": {"$numberLong": ")" + std::to_string(local_time_ms) +
                                R"("}}, "process": "ferretdb", "ok": 1.0})");
  return server_identity(hello.get(), status.get());
}

// hello as a MongoDB 4.4+ replica set member answers it (serverStatus refused: the login
// lacks clusterMonitor).
ServerIdentity mongodb_member(const std::string& process_id, const std::string& set_name,
                              const std::vector<std::string>& hosts) {
  std::string list;
  for (const auto& h : hosts) list += (list.empty() ? "\"" : ", \"") + h + "\"";
  Bson hello = Bson::from_json(R"({"topologyVersion": {"processId": {"$oid": ")" + process_id +
                               R"("}, "counter": {"$numberLong": "6"}}, "hosts": [)" + list + R"(], "setName": ")" +
                               set_name + R"(", "isWritablePrimary": true, "me": ")" + hosts.front() +
                               R"(", "ok": 1.0})");
  return server_identity(hello.get(), nullptr);
}

TEST(SameServer, FerretDbReachedTwiceIsOneServer) {
  // Two replies a moment apart: the same process start, within milliseconds.
  auto a = ferretdb(4242, 1700000000500, 2208);
  auto b = ferretdb(4242, 1700000000731, 2439);
  EXPECT_EQ(a.started_ms, 1700000000500 - 2208);
  ASSERT_TRUE(same_server(a, b).has_value());
  EXPECT_NE(same_server(a, b)->find("process 4242"), std::string::npos) << *same_server(a, b);
}

TEST(SameServer, TwoFerretDbsOnOneMachineAreTwoServers) {
  EXPECT_FALSE(same_server(ferretdb(4242, 1700000000500, 2208), ferretdb(4243, 1700000000500, 2208)));
  // The same pid again on another machine, or after a restart.
  EXPECT_FALSE(same_server(ferretdb(1, 1700000000500, 2208, "pod-a"), ferretdb(1, 1700000000500, 2208, "pod-b")));
  EXPECT_FALSE(same_server(ferretdb(1, 1700000000500, 2208), ferretdb(1, 1700000600500, 2208)));
}

TEST(SameServer, MongoDbProcessIdsDecide) {
  auto a = mongodb_member("6336ad2c9eb652f8d666d62f", "rs0", {"mongodb-0.mongodb-headless:27017"});
  auto b = mongodb_member("6336ad2c9eb652f8d666d62f", "rs0", {"mongodb-0.mongodb-headless:27017"});
  ASSERT_TRUE(same_server(a, b).has_value());
  EXPECT_NE(same_server(a, b)->find("6336ad2c9eb652f8d666d62f"), std::string::npos);
  auto other = mongodb_member("7446ad2c9eb652f8d666d630", "external", {"mongo.example.com:27017"});
  EXPECT_FALSE(same_server(a, other));
}

TEST(SameServer, AMemberOfTheSourcesReplicaSetIsRefused) {
  // Reached through a port-forward to another pod: another process, the same set.
  auto primary = mongodb_member("6336ad2c9eb652f8d666d62f", "rs0",
                                {"mongodb-0.mongodb-headless:27017", "mongodb-1.mongodb-headless:27017"});
  auto secondary = mongodb_member("6336ad2c9eb652f8d666d999", "rs0",
                                  {"MONGODB-1.mongodb-headless:27017", "mongodb-0.mongodb-headless:27017"});
  ASSERT_TRUE(same_server(primary, secondary).has_value());
  EXPECT_NE(same_server(primary, secondary)->find("member of the source's replica set rs0"), std::string::npos);
  // A set of the same (default) name elsewhere is another deployment.
  auto elsewhere = mongodb_member("6336ad2c9eb652f8d666d777", "rs0", {"mongo.example.com:27017"});
  EXPECT_FALSE(same_server(primary, elsewhere));
  // The same hosts under another set name cannot be the same set.
  auto renamed = mongodb_member("6336ad2c9eb652f8d666d778", "rs1", {"mongodb-0.mongodb-headless:27017"});
  EXPECT_FALSE(same_server(primary, renamed));
}

TEST(SameServer, NothingToTellByIsNotTheSameServer) {
  Bson hello = Bson::from_json(R"({"ismaster": true, "ok": 1.0})");
  EXPECT_FALSE(same_server(server_identity(hello.get(), nullptr), server_identity(hello.get(), nullptr)));
}

}  // namespace
}  // namespace decant::mongo
