#include "migrate/values.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "test_support.hpp"

namespace decant::migrate {
namespace {

// The release gets what the operator's target URI says, never decant's own driver
// options (its timeouts and appname are for decant's connections only).
TEST(ExternalValues, MongoOptionsAreTheTargetUrisOwn) {
  auto only_auth = external_values(std::nullopt, "mongodb://app:pw@db.example:27017/?authSource=admin", "s");
  EXPECT_EQ(only_auth["mongodb"]["options"], "");
  EXPECT_EQ(only_auth["mongodb"]["auth"]["database"], "admin");
  EXPECT_EQ(only_auth["mongodb"]["hosts"], "db.example:27017");

  auto with_options = external_values(
      std::nullopt, "mongodb://app:pw@a:1,b:2/?replicaSet=rs0&connectTimeoutMS=3000&tls=true&authSource=admin", "s");
  // The driver spells option names in lower case; MongoDB's drivers read them in any case.
  std::string options = with_options["mongodb"]["options"];
  EXPECT_EQ(options, "replicaset=rs0&connecttimeoutms=3000");
  EXPECT_EQ(options.find("appname"), std::string::npos) << options;
  EXPECT_EQ(options.find("serverselectiontimeoutms"), std::string::npos) << options;
  EXPECT_EQ(with_options["mongodb"]["ssl"], true);
  // No password anywhere in the values: it is in the Secret.
  EXPECT_EQ(with_options.dump().find("pw"), std::string::npos);
}

// The application's PostgreSQL host is the target's own address: never a default, a socket
// directory or a list (the chart takes one host).
TEST(ExternalValues, ThePostgresqlHostIsTheTargetsOneAddress) {
  using test::ScopedEnv;
  ScopedEnv host("PGHOST", std::nullopt), hostaddr("PGHOSTADDR", std::nullopt), port("PGPORT", std::nullopt);
  EXPECT_EQ(external_values("host=db.example port=6432 user=circle", std::nullopt, "s")["postgresql"]["postgresqlHost"],
            "db.example");
  EXPECT_EQ(external_values("hostaddr=10.1.2.3 user=circle", std::nullopt, "s")["postgresql"]["postgresqlHost"],
            "10.1.2.3");
  EXPECT_EQ(external_values("postgresql://circle@db.example:6432/postgres", std::nullopt, "s")["postgresql"]["postgresqlPort"],
            6432);
  for (const char* unusable : {"user=circle dbname=postgres", "host=/var/run/postgresql user=circle",
                               "host=a.example,b.example user=circle", "host=db.example port=5432,5433",
                               "host=db.example port=99999"}) {
    SCOPED_TRACE(unusable);
    try {
      external_values(unusable, std::nullopt, "s");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::usage);
      EXPECT_NE(std::string(e.what()).find("--pg-target"), std::string::npos) << e.what();
    }
  }
  // As libpq takes them: from PGHOST and PGPORT when the string has none.
  ScopedEnv env_host("PGHOST", "db.internal"), env_port("PGPORT", "6543");
  auto from_env = external_values("user=circle dbname=postgres", std::nullopt, "s")["postgresql"];
  EXPECT_EQ(from_env["postgresqlHost"], "db.internal");
  EXPECT_EQ(from_env["postgresqlPort"], 6543);
}

// The chart takes a host list (mongodb://HOSTS/?OPTIONS): a DNS seed list URI has none to give.
TEST(ExternalValues, AMongodbSrvTargetIsRefusedForItsHostList) {
  try {
    external_values(std::nullopt, "mongodb+srv://app:pw@cluster0.example.net/?authSource=admin", "s");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::usage);
    EXPECT_NE(std::string(e.what()).find("mongodb+srv"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("pw"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace decant::migrate
