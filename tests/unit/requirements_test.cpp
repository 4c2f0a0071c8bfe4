#include <gtest/gtest.h>

#include "migrate/requirements.hpp"

namespace decant::migrate {
namespace {

TEST(Requirements, EachChartVersionPicksItsOwnRow) {
  EXPECT_EQ(requirements_for_chart("circleci-server-4.1.10").row->releases, "4.0-4.7");
  EXPECT_EQ(requirements_for_chart("circleci-server-4.8.0-standin").row->releases, "4.8");
  EXPECT_EQ(requirements_for_chart("circleci-server-4.9.5").row->releases, "4.9");
  auto r = requirements_for_chart("circleci-server-4.10.0");
  EXPECT_EQ(r.row->releases, "4.10");
  EXPECT_TRUE(r.known);
  EXPECT_EQ(r.version, "4.10.0");
  EXPECT_EQ(requirements_for_chart("4.9.1").row->releases, "4.9");
}

TEST(Requirements, AnUnknownVersionGetsTheNewestRowAndSaysSo) {
  for (const char* chart : {"circleci-server-4.11.0", "circleci-server-5.0.0", "circleci-server", ""}) {
    auto r = requirements_for_chart(chart);
    EXPECT_FALSE(r.known) << chart;
    EXPECT_EQ(r.row, &requirements_table().back()) << chart;
  }
}

const ServerRequirements& row(const char* chart) { return *requirements_for_chart(chart).row; }

PgTargetFacts good_pg() {
  PgTargetFacts f;
  f.major = 12;
  f.tls_protocol = "TLSv1.3";
  f.partman_offered = {"4.5.1", "5.2.4"};
  f.partman_default = "5.2.4";
  f.partman_on_source = {"circle: 4.5.1"};
  return f;
}

int blockers(const RequirementFindings& f) {
  int n = 0;
  for (const auto& i : f.issues) n += i.blocker;
  return n;
}

TEST(Requirements, A410TargetAsCircleCiNeedsItPasses) {
  auto f = check_postgresql_target(row("4.10.0"), good_pg(), false);
  EXPECT_TRUE(f.issues.empty()) << f.issues[0].what;
  ASSERT_EQ(f.passed.size(), 3u);
  EXPECT_EQ(f.passed[2], "the PostgreSQL target can install pg_partman 4.5.1 (CircleCI Server 4.10 requires pg_partman "
                         "4.5.x (5.x is not supported)); the source has circle: 4.5.1");
}

TEST(Requirements, AnUnsupportedMajorBlocksUnlessAllowed) {
  auto facts = good_pg();
  facts.major = 15;
  auto f = check_postgresql_target(row("4.10.0"), facts, false);
  ASSERT_EQ(blockers(f), 1);
  EXPECT_EQ(f.issues[0].what, "the PostgreSQL target runs PostgreSQL 15, which CircleCI Server 4.10 does not support "
                              "(12-14 (tested: 12))");
  EXPECT_NE(f.issues[0].todo.find("--allow-unsupported-target"), std::string::npos);
  auto allowed = check_postgresql_target(row("4.10.0"), facts, true);
  ASSERT_EQ(allowed.issues.size(), 1u);
  EXPECT_FALSE(allowed.issues[0].blocker);
  // 4.1's docs: "12.1 or higher".
  EXPECT_TRUE(check_postgresql_target(row("4.1.0"), facts, false).issues.empty());
}

TEST(Requirements, TlsBelowOnePointThreeOrNoneBlocksWhereRequired) {
  auto facts = good_pg();
  facts.tls_protocol = "TLSv1.2";
  auto f = check_postgresql_target(row("4.9.0"), facts, false);
  ASSERT_EQ(blockers(f), 1);
  EXPECT_NE(f.issues[0].what.find("negotiates TLS 1.2"), std::string::npos);
  EXPECT_NE(f.issues[0].todo.find("ssl_min_protocol_version = 'TLSv1.3'"), std::string::npos);
  facts.tls_protocol.reset();
  facts.tls_error = "server does not support SSL, but SSL was required";
  f = check_postgresql_target(row("4.9.0"), facts, false);
  ASSERT_EQ(blockers(f), 1);
  EXPECT_NE(f.issues[0].what.find("accepts no TLS connection (server does not support SSL"), std::string::npos);
  EXPECT_NE(f.issues[0].todo.find("ssl_cert_file"), std::string::npos);
  EXPECT_TRUE(check_postgresql_target(row("4.8.0"), facts, false).issues.empty()) << "4.8 says nothing of TLS";
}

TEST(Requirements, PgPartmanOfTheRequiredSeriesMustBeInstallable) {
  auto facts = good_pg();
  facts.partman_offered = {"5.2.4"};
  auto f = check_postgresql_target(row("4.10.0"), facts, false);
  ASSERT_EQ(blockers(f), 1);
  EXPECT_EQ(f.issues[0].what, "the PostgreSQL target cannot install pg_partman 4.5.x (it offers 5.2.4 (default)); "
                              "CircleCI Server 4.10 requires pg_partman 4.5.x (5.x is not supported)");
  facts.partman_offered.clear();
  EXPECT_EQ(blockers(check_postgresql_target(row("4.10.0"), facts, false)), 1);
  facts = good_pg();
  facts.partman_update_requested = true;
  EXPECT_EQ(blockers(check_postgresql_target(row("4.10.0"), facts, false)), 1) << "the update would take 5.2.4";
  facts = good_pg();
  facts.partman_on_source = {"circle: 4.7.2"};
  auto warned = check_postgresql_target(row("4.10.0"), facts, false);
  ASSERT_EQ(warned.issues.size(), 1u);
  EXPECT_FALSE(warned.issues[0].blocker);
}

TEST(Requirements, MongoDbVersionAndFeatureCompatibility) {
  EXPECT_TRUE(check_mongodb_target(row("4.10.0"), {"7.0.42", "7.0"}).issues.empty());
  auto old = check_mongodb_target(row("4.10.0"), {"4.4.29", "4.4"});
  EXPECT_EQ(blockers(old), 2);
  EXPECT_EQ(old.issues[0].what, "the MongoDB target runs 4.4.29, and CircleCI Server 4.10 requires MongoDB 7.0 or newer");
  auto fcv = check_mongodb_target(row("4.10.0"), {"7.0.15", "6.0"});
  ASSERT_EQ(blockers(fcv), 1);
  EXPECT_NE(fcv.issues[0].todo.find("setFeatureCompatibilityVersion: \"7.0\", confirm: true"), std::string::npos);
  auto behind = check_mongodb_target(row("4.9.0"), {"7.0.15", "6.0"});
  ASSERT_EQ(behind.issues.size(), 1u);
  EXPECT_FALSE(behind.issues[0].blocker);
  auto newer = check_mongodb_target(row("4.8.0"), {"7.0.15", "7.0"});
  ASSERT_EQ(newer.issues.size(), 1u);
  EXPECT_FALSE(newer.issues[0].blocker) << "newer than documented: a warning";
  EXPECT_TRUE(check_mongodb_target(row("4.8.0"), {"3.6.22", "3.6"}).issues.empty());
}

}  // namespace
}  // namespace decant::migrate
