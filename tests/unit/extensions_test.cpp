#include <gtest/gtest.h>

#include "pg/extensions.hpp"

namespace decant::pg {
namespace {

TEST(WithExtensionVersion, PgDumpsCreateExtensionGetsTheVersion) {
  std::map<std::string, std::string> versions{{"pg_partman", "4.5.1"}, {"my ext", "1.0"}, {"q\"x", "2'0"}};
  EXPECT_EQ(with_extension_version("CREATE EXTENSION IF NOT EXISTS pg_partman WITH SCHEMA partman;", versions),
            "CREATE EXTENSION IF NOT EXISTS pg_partman WITH SCHEMA partman VERSION '4.5.1';");
  EXPECT_EQ(with_extension_version("CREATE EXTENSION IF NOT EXISTS \"my ext\" WITH SCHEMA public;", versions),
            "CREATE EXTENSION IF NOT EXISTS \"my ext\" WITH SCHEMA public VERSION '1.0';");
  EXPECT_EQ(with_extension_version("CREATE EXTENSION IF NOT EXISTS \"q\"\"x\" WITH SCHEMA s;", versions),
            "CREATE EXTENSION IF NOT EXISTS \"q\"\"x\" WITH SCHEMA s VERSION '2''0';");
}

TEST(WithExtensionVersion, OtherLinesAndOtherExtensionsAreLeftAlone) {
  std::map<std::string, std::string> versions{{"pg_partman", "4.5.1"}};
  for (const char* line : {"CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;",
                           "COMMENT ON EXTENSION pg_partman IS 'CREATE EXTENSION IF NOT EXISTS pg_partman';",
                           "-- Name: pg_partman; Type: EXTENSION; Schema: -; Owner: -",
                           "CREATE EXTENSION IF NOT EXISTS pg_partmanx WITH SCHEMA partman;",
                           "CREATE EXTENSION IF NOT EXISTS \"pg_partman WITH SCHEMA partman;", ""})
    EXPECT_EQ(with_extension_version(line, versions), line);
}

std::map<std::string, OfferedExtension> offered() {
  return {{"decant_probe", {"2.0", {"1.0", "2.0"}}}, {"only_two", {"2.0", {"2.0"}}}};
}

TEST(PlanExtensionVersions, TheSourcesVersionWhereTheTargetOffersIt) {
  auto plan = plan_extension_versions("app", {{"decant_probe", "1.0", "public"}}, offered(), {});
  EXPECT_TRUE(plan.problems.empty());
  EXPECT_EQ(plan.create_at.at("decant_probe"), "1.0");
  EXPECT_TRUE(plan.updated.empty());
}

TEST(PlanExtensionVersions, AVersionTheTargetLacksIsAProblemNamingWhatItOffers) {
  auto plan = plan_extension_versions("app", {{"only_two", "1.0", "public"}, {"absent", "3", "public"}}, offered(), {});
  ASSERT_EQ(plan.problems.size(), 2u);
  EXPECT_EQ(plan.problems[0], "database app uses the extension only_two 1.0, which the target offers only at 2.0 "
                              "(default)");
  EXPECT_NE(plan.problems[1].find("absent 3, which the target server does not have installed"), std::string::npos);
  EXPECT_TRUE(plan.create_at.empty());
}

TEST(PlanExtensionVersions, UpdateOnRequestTakesTheTargetsDefaultAndSaysSo) {
  auto plan = plan_extension_versions("app", {{"only_two", "1.0", "public"}}, offered(), {"only_two"});
  EXPECT_TRUE(plan.problems.empty());
  EXPECT_EQ(plan.create_at.at("only_two"), "2.0");
  ASSERT_EQ(plan.updated.size(), 1u);
  EXPECT_NE(plan.updated[0].find("only_two created at the target's default 2.0 instead of the source's 1.0"),
            std::string::npos);
}

}  // namespace
}  // namespace decant::pg
