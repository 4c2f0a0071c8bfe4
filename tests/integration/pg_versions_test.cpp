// `decant pg copy` between PostgreSQL majors: CircleCI Server runs 12 in its cluster and
// operators move it to a newer external server. Servers 12, 13, 14, 16, 17 come from
// scripts/install-pg-versions.sh, 15 from Debian; decant finds the 17 client tools in
// PATH, as an operator's machine with postgresql-client-17 has them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <regex>
#include <memory>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>

#include "process/process.hpp"

#include "pg_fixture.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One loaded source per major, shared by the pairs that start from it, stopped when the
// suite ends.
std::map<int, std::unique_ptr<PgServer>> sources;
class StopSources : public ::testing::Environment {
 public:
  void TearDown() override { sources.clear(); }
};
const auto* const stop_sources = ::testing::AddGlobalTestEnvironment(new StopSources);

PgServer& source_of(int major) {
  auto& server = sources[major];
  if (!server) {
    PgServer::Options options;
    options.major = major;
    server = std::make_unique<PgServer>(options);
    load_source_data(*server, false);
  }
  return *server;
}


struct Pair {
  int source, target;
};
std::string pair_name(const ::testing::TestParamInfo<Pair>& info) {
  return "From" + std::to_string(info.param.source) + "To" + std::to_string(info.param.target);
}

class PgVersionsTest : public ::testing::TestWithParam<Pair> {
 protected:
  void SetUp() override { work_ = make_temp_dir("decant-versions"); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  RunResult copy(const PgServer& source, const PgServer& target, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"pg",          "copy", "--source", source.conninfo(), "--target", target.uri(),
                                  "--state-dir", (work_ / "state").string(), "--report", (work_ / "report.json").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_decant(args, env_with_client_17());
  }
  nlohmann::json report() const { return nlohmann::json::parse(read_file(work_ / "report.json")); }
  fs::path work_;
};

TEST_P(PgVersionsTest, CopiesEveryDatabaseAndVerifiesItIndependently) {
  auto [from, to] = GetParam();
  PgServer& source = source_of(from);
  PgServer::Options options;
  options.major = to;
  PgServer target(options);
  auto r = copy(source, target);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  std::vector<std::string> databases{"app", "other", "odd name-db", "latin", "tmpl", "template1"};
  if (from >= 15) databases.push_back("icu_db");
  if (from >= 17) databases.push_back("builtin_db");
  for (const auto& db : databases) {
    SCOPED_TRACE(db);
    EXPECT_EQ(table_fingerprints(source, db), table_fingerprints(target, db));
    EXPECT_EQ(sequence_values(source, db), sequence_values(target, db));
    EXPECT_EQ(large_objects(source, db), large_objects(target, db));
    std::string a = comparable_schema(source, db), b = comparable_schema(target, db);
    EXPECT_TRUE(a == b) << text_diff(a, b, work_);
  }
  // The summary says which tools made the schema, and what they had to leave out for
  // an older target.
  auto notes = report()["notes"].dump();
  EXPECT_TRUE(contains(notes, "pg_dump (PostgreSQL) 17")) << notes;
  if (to < 17) {
    EXPECT_TRUE(contains(notes, "SET transaction_timeout left out")) << notes;
  }
}

INSTANTIATE_TEST_SUITE_P(Pairs, PgVersionsTest,
                         ::testing::Values(Pair{12, 13}, Pair{12, 14}, Pair{12, 15}, Pair{12, 16}, Pair{12, 17},
                                           Pair{17, 17}),
                         pair_name);

}  // namespace
}  // namespace decant::test

namespace decant::test {
namespace {

class PgOlderTargetTest : public ::testing::Test {
 protected:
  void SetUp() override { work_ = make_temp_dir("decant-older"); }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  static std::unique_ptr<PgServer> server(int major) {
    PgServer::Options options;
    options.major = major;
    return std::make_unique<PgServer>(options);
  }
  RunResult copy(const PgServer& source, const PgServer& target, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"pg", "copy", "--source", source.conninfo(), "--target", target.uri(),
                                  "--state-dir", (work_ / "state").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_decant(args, env_with_client_17());
  }
  // Nothing of the source reached the target, not even a role or a scratch database.
  static void expect_untouched(const PgServer& target) {
    EXPECT_EQ(target.value("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
              "postgres,template0,template1");
    EXPECT_EQ(target.value("SELECT count(*) FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> 'postgres'"), "0");
  }
  fs::path work_;
};

TEST_F(PgOlderTargetTest, ANewerSourceWithNothingNewCopiesIntoAnOlderTarget) {
  auto source = server(16);
  source->exec("CREATE ROLE app_owner LOGIN");
  source->exec("CREATE DATABASE shop OWNER app_owner");
  source->exec("CREATE TABLE items (id int PRIMARY KEY, name text, price numeric); "
               "INSERT INTO items SELECT g, 'item ' || g, g * 0.5 FROM generate_series(1, 1000) g; "
               "CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10",
               "shop");
  auto target = server(15);
  auto r = copy(*source, *target);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(table_fingerprints(*source, "shop"), table_fingerprints(*target, "shop"));
  EXPECT_EQ(target->value("SELECT count(*) FROM cheap", "shop"), "19");
  EXPECT_EQ(target->value("SELECT datname FROM pg_database WHERE datname LIKE 'decant_trial%'"), "")
      << "the scratch database of the trial is dropped";
}

TEST_F(PgOlderTargetTest, SqlTheOlderTargetLacksIsRefusedBeforeAnythingIsWritten) {
  auto source = server(16);
  source->exec("CREATE ROLE app_owner LOGIN");
  source->exec("CREATE DATABASE shop OWNER app_owner");
  // pg_input_is_valid() is new in PostgreSQL 16.
  source->exec("CREATE TABLE raw_input (v text); INSERT INTO raw_input VALUES ('1'), ('x'); "
               "CREATE VIEW valid_input AS SELECT v FROM raw_input WHERE pg_input_is_valid(v, 'integer')",
               "shop");
  auto target = server(15);
  auto r = copy(*source, *target);
  EXPECT_EQ(r.exit_code, code_of(ExitCode::copy_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "cannot hold")) << r.err;
  EXPECT_TRUE(contains(r.err, "VIEW public.valid_input") || contains(r.err, "valid_input")) << r.err;
  EXPECT_TRUE(contains(r.err, "nothing was written")) << r.err;
  expect_untouched(*target);
}

TEST_F(PgOlderTargetTest, InstanceFeaturesTheOlderTargetLacksAreNamed) {
  // Per-membership options (16) and the builtin locale provider (17).
  auto source = server(17);
  source->exec("CREATE ROLE readers; CREATE ROLE auditor LOGIN; GRANT readers TO auditor WITH INHERIT FALSE, SET FALSE");
  source->exec("CREATE DATABASE builtin_db WITH TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER builtin "
               "BUILTIN_LOCALE 'C.UTF-8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'");
  auto target = server(15);
  auto r = copy(*source, *target);
  EXPECT_EQ(r.exit_code, code_of(ExitCode::copy_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "membership of auditor in readers")) << r.err;
  EXPECT_TRUE(contains(r.err, "builtin locale provider")) << r.err;
  expect_untouched(*target);
}

TEST_F(PgOlderTargetTest, AnExtensionTheTargetLacksIsRefusedBeforeAnythingIsWritten) {
  // Debian's 15 has pg_partman; the 16 server built for the tests does not.
  auto source = server(15);
  source->exec("CREATE DATABASE app");
  source->exec("CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman", "app");
  auto target = server(16);
  auto r = copy(*source, *target);
  EXPECT_EQ(r.exit_code, code_of(ExitCode::copy_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "extension pg_partman")) << r.err;
  expect_untouched(*target);
}

}  // namespace
}  // namespace decant::test
