#include "migrate/values.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace decant::migrate
