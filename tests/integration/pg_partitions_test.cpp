// `decant pg copy` of CircleCI Server's database shape: thousands of daily partitions
// (range, list with hash sub-partitions, default partitions, partitions in another schema
// than their parent, foreign keys to a partitioned table, pg_partman-made partitions).
// Past 64 tables the pre-data is restored by several sessions at once; every source
// major 12-17, at 80, 1,000 and 5,000 partitions.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "pg_fixture.hpp"
#include "pg_installation.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;

struct Case {
  int source, target, partitions;
  std::string partman;  // the pg_partman both servers offer ("" none; Debian's 15 has 4.7.2)
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return "From" + std::to_string(info.param.source) + "To" + std::to_string(info.param.target) + "With" +
         std::to_string(info.param.partitions) + "Partitions";
}

// The servers' installations: Debian's 15 brings its own pg_partman; the others get the bundle.
PgServer::Options server_with(int major, const std::string& partman) {
  PgServer::Options options;
  options.major = major;
  if (!partman.empty() && major != 15) options.extensions = {extension_bundle("pg_partman", partman)};
  return options;
}

class PgPartitionsTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    for (int major : {GetParam().source, GetParam().target})
      if (!server_available(major)) GTEST_SKIP() << "no PostgreSQL " << major << " (scripts/install-pg-versions.sh)";
    if (!GetParam().partman.empty() && extension_bundle("pg_partman", GetParam().partman).empty())
      GTEST_SKIP() << "no pg_partman " << GetParam().partman << " (scripts/install-pg-extensions.sh)";
    work_ = make_temp_dir("decant-partitions");
  }
  void TearDown() override {
    std::error_code ec;
    if (!work_.empty()) fs::remove_all(work_, ec);
  }
  RunResult copy(const PgServer& source, const PgServer& target, const std::string& db) {
    return run_decant({"pg", "copy", "--source", source.conninfo(), "--target", target.uri(), "--dbname", db,
                       "--state-dir", (work_ / "state").string(), "--report", (work_ / "report.json").string()},
                      env_with_client_17());
  }
  fs::path work_;
};

TEST_P(PgPartitionsTest, CopiesEveryPartitionAndVerifiesItIndependently) {
  const auto& c = GetParam();
  PgServer source(server_with(c.source, c.partman));
  load_partitioned_database(source, "circle", {.partitions = c.partitions, .partman = c.partman});
  int partitions = std::stoi(source.value("SELECT count(*) FROM pg_inherits", "circle"));
  ASSERT_GE(partitions, c.partitions) << "the shape has fewer partitions than asked";
  PgServer target(server_with(c.target, c.partman));

  auto r = copy(source, target, "circle");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verified"), std::string::npos) << r.out;

  EXPECT_EQ(partition_tree(source, "circle"), partition_tree(target, "circle"));
  EXPECT_EQ(table_fingerprints(source, "circle"), table_fingerprints(target, "circle"));
  std::string a = comparable_schema(source, "circle"), b = comparable_schema(target, "circle");
  EXPECT_TRUE(a == b) << text_diff(a, b, work_) << r.err;
  // Foreign keys to the partitioned table hold on the target.
  EXPECT_EQ(target.value("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = "
                         "'app.customers'::regclass AND conparentid = 0",
                         "circle"),
            "2");
  EXPECT_EQ(target.value("SELECT count(*) FROM app.invoices i JOIN app.customers c ON c.id = i.customer_id", "circle"),
            "2000");
  if (!c.partman.empty()) {
    const char* config = "SELECT parent_table || ' ' || control || ' ' || partition_interval || ' ' || premake "
                         "FROM partman.part_config ORDER BY 1";
    EXPECT_EQ(source.value(config, "circle"), target.value(config, "circle"));
    EXPECT_EQ(target.value("SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'", "circle"), c.partman);
    // pg_partman still manages the table on the target: its maintenance runs.
    target.exec("SELECT partman.run_maintenance('app.partman_events')", "circle");
  }
}

INSTANTIATE_TEST_SUITE_P(EverySourceMajor, PgPartitionsTest,
                         ::testing::Values(Case{12, 14, 1000, "4.5.1"}, Case{13, 13, 1000, "4.5.1"},
                                           Case{14, 14, 1000, "4.5.1"}, Case{15, 15, 1000, "4.7.2"},
                                           Case{16, 17, 1000, "5.2.4"}, Case{17, 17, 1000, "5.2.4"}),
                         case_name);
INSTANTIATE_TEST_SUITE_P(Sizes, PgPartitionsTest,
                         ::testing::Values(Case{12, 12, 80, ""}, Case{15, 15, 80, "4.7.2"},
                                           Case{12, 12, 5000, "4.5.1"}),
                         case_name);

// The case as it was reported: one table, 80 partitions made by CREATE TABLE ... PARTITION
// OF, nothing else.
TEST(PgPartitionsReported, OneTableWithEightyPartitionsCopies) {
  PgServer source, target;
  source.exec("CREATE DATABASE parts80");
  std::string sql = "CREATE TABLE ev (id bigint, at date NOT NULL, v text) PARTITION BY RANGE (at);";
  for (int i = 0; i < 80; ++i)
    sql += "CREATE TABLE ev_p" + std::to_string(i) + " PARTITION OF ev FOR VALUES FROM ('2020-01-01'::date + " +
           std::to_string(i) + ") TO ('2020-01-01'::date + " + std::to_string(i + 1) + ");";
  source.exec(sql + "INSERT INTO ev SELECT g, '2020-01-01'::date + g % 80, 'x' FROM generate_series(1, 10000) g",
              "parts80");
  ScratchDir state("decant-parts80");
  auto r = run_decant({"pg", "copy", "--source", source.conninfo(), "--target", target.uri(), "--dbname", "parts80",
                       "--state-dir", (state / "state").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(partition_tree(source, "parts80"), partition_tree(target, "parts80"));
  EXPECT_EQ(table_fingerprints(source, "parts80"), table_fingerprints(target, "parts80"));
}

}  // namespace
}  // namespace decant::test
