// Every extension keeps its version through `pg copy` and `backup restore`: pg_dump writes
// CREATE EXTENSION without one, so a plain restore takes the target's default. Tested
// with an extension of the test's own whose default differs between the source's and
// the target's installations, and with pg_partman 4.5.1 (what CircleCI Server requires)
// against targets that offer 4.5.1 beside 5.x, or 5.x only.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/age.hpp"
#include "pg_fixture.hpp"
#include "pg_installation.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// decant_probe 1.0 keeps its settings in a configuration table (dumped with the
// extension's data); 2.0 adds a column to it. Installations offer 1.0 and 2.0 (default 1.0
// or 2.0), or 2.0 only.
const char* kProbe10 =
    "CREATE TABLE decant_probe_conf (k text PRIMARY KEY, v text);\n"
    "SELECT pg_catalog.pg_extension_config_dump('decant_probe_conf', '');\n"
    "CREATE FUNCTION decant_probe_version() RETURNS text LANGUAGE sql AS $$ SELECT '1.0'::text $$;\n";
const char* kProbe20 =
    "CREATE TABLE decant_probe_conf (k text PRIMARY KEY, v text, added integer DEFAULT 0);\n"
    "SELECT pg_catalog.pg_extension_config_dump('decant_probe_conf', '');\n"
    "CREATE FUNCTION decant_probe_version() RETURNS text LANGUAGE sql AS $$ SELECT '2.0'::text $$;\n";
const char* kProbe10To20 =
    "ALTER TABLE decant_probe_conf ADD COLUMN added integer DEFAULT 0;\n"
    "CREATE OR REPLACE FUNCTION decant_probe_version() RETURNS text LANGUAGE sql AS $$ SELECT '2.0'::text $$;\n";

fs::path probe_offering_both(const std::string& default_version) {
  return write_extension("decant_probe", default_version,
                         {{"1.0", kProbe10, "", ""}, {"2.0", kProbe20, "1.0", kProbe10To20}});
}
fs::path probe_offering_only_20() { return write_extension("decant_probe", "2.0", {{"2.0", kProbe20, "", ""}}); }

PgServer::Options with_extensions(std::vector<fs::path> dirs, int major = 15) {
  PgServer::Options o;
  o.major = major;
  o.extensions = std::move(dirs);
  return o;
}

std::string probe_state(const PgServer& server) {
  return server.value("SELECT e.extversion || ' ' || decant_probe_version() || ' ' || "
                      "(SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = "
                      "'decant_probe_conf'::regclass AND attnum > 0 AND NOT attisdropped) FROM pg_extension e "
                      "WHERE e.extname = 'decant_probe'",
                      "app");
}

class PgExtensionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = make_temp_dir("decant-extensions");
    source_ = std::make_unique<PgServer>(with_extensions({probe_offering_both("1.0")}));
    source_->exec("CREATE DATABASE app");
    source_->exec("CREATE EXTENSION decant_probe; INSERT INTO decant_probe_conf VALUES ('retention', '30 days'), "
                  "('mode', 'strict'); CREATE TABLE builds AS SELECT g AS id, md5(g::text) AS v FROM "
                  "generate_series(1, 1000) g",
                  "app");
    ASSERT_EQ(probe_state(*source_), "1.0 1.0 k,v");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(work_, ec);
  }
  std::vector<std::string> copy_args(const PgServer& target, std::vector<std::string> more = {}) const {
    std::vector<std::string> args{"pg", "copy", "--source", source_->conninfo(), "--target", target.uri(),
                                  "--state-dir", (work_ / "state").string(), "--report", (work_ / "report.json").string()};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
  nlohmann::json report() const { return nlohmann::json::parse(read_file(work_ / "report.json")); }
  static void expect_nothing_written(const PgServer& target) {
    EXPECT_FALSE(target.database_exists("app"));
    EXPECT_EQ(target.value("SELECT count(*) FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> 'postgres'"), "0");
  }
  fs::path work_;
  std::unique_ptr<PgServer> source_;
};

TEST_F(PgExtensionsTest, ATargetWhoseDefaultIsNewerGetsTheSourcesVersion) {
  PgServer target(with_extensions({probe_offering_both("2.0")}));
  auto r = run_decant(copy_args(target));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(probe_state(target), "1.0 1.0 k,v") << "the configuration table gained a column or the version drifted";
  EXPECT_EQ(target.value("SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM decant_probe_conf", "app"),
            "mode=strict,retention=30 days");
  bool checked = false;
  auto json = report();
  for (const auto& c : json["checks"])
    if (c["what"] == "database app extensions") checked = c["ok"].get<bool>();
  EXPECT_TRUE(checked) << json.dump(2);
}

TEST_F(PgExtensionsTest, ATargetWithoutTheSourcesVersionIsRefusedBeforeAnythingIsWritten) {
  PgServer target(with_extensions({probe_offering_only_20()}));
  auto r = run_decant(copy_args(target));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::copy_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "database app uses the extension decant_probe 1.0, which the target offers only at 2.0 "
                              "(default)"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "--extension-update")) << r.err;
  expect_nothing_written(target);
}

TEST_F(PgExtensionsTest, ExtensionUpdateTakesTheTargetsDefaultOnRequestAndTheReportSaysSo) {
  PgServer target(with_extensions({probe_offering_only_20()}));
  auto r = run_decant(copy_args(target, {"--extension-update", "decant_probe"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(probe_state(target), "2.0 2.0 k,v,added");
  EXPECT_EQ(target.value("SELECT string_agg(k || '=' || v || '/' || added, ',' ORDER BY k) FROM decant_probe_conf", "app"),
            "mode=strict/0,retention=30 days/0");
  EXPECT_TRUE(contains(report().dump(), "extension decant_probe created at the target's default 2.0 instead of the "
                                        "source's 1.0 (--extension-update)"))
      << report().dump(2);
}

TEST_F(PgExtensionsTest, AVersionThatDriftsOnTheTargetNeverVerifies) {
  // An interrupted copy, the extension updated on the target meanwhile, then --resume: the
  // rows all match, the extension does not.
  source_->exec("CREATE TABLE bulk AS SELECT g AS id, repeat(md5(g::text), 8) AS v FROM generate_series(1, 400000) g",
                "app");
  PgServer target(with_extensions({probe_offering_both("2.0")}));
  {
    BackgroundDecant run(copy_args(target, {"-j", "1"}), work_);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline && run.running() &&
           !contains(read_file(work_ / "state" / "journal"), "app/pre-data"))
      std::this_thread::sleep_for(2ms);
    ASSERT_TRUE(run.running()) << "the copy ended before it could be interrupted: " << run.err();
    run.kill(SIGKILL);
    run.wait();
  }
  target.exec("ALTER EXTENSION decant_probe UPDATE TO '2.0'", "app");
  auto r = run_decant(copy_args(target, {"--resume"}));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::verify_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.out + r.err, "decant_probe 2.0 in schema public (expected 1.0 in public)")) << r.out << r.err;
}

TEST_F(PgExtensionsTest, BackupRestoreKeepsTheVersionTheBackupWasTakenWith) {
  auto key = crypto::AgeIdentity::generate();
  std::ofstream(work_ / "key.txt") << key.encoded() << "\n";
  fs::path repo = work_ / "repo";
  auto created = run_decant({"backup", "create", "--repo", repo.string(), "--pg", source_->uri(), "-r",
                             key.recipient().encoded(), "--state-dir", (work_ / "backup-state").string()});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string id = created.out.substr(created.out.rfind('\n', created.out.size() - 2) + 1);
  while (!id.empty() && id.back() == '\n') id.pop_back();
  auto restore = [&](const PgServer& into, std::vector<std::string> more) {
    std::vector<std::string> args{"backup", "restore", "--repo", repo.string(), "--id", id, "--pg", into.uri(), "-i",
                                  (work_ / "key.txt").string(), "--state-dir", (work_ / "restore-state").string()};
    args.insert(args.end(), more.begin(), more.end());
    return run_decant(args);
  };
  PgServer newer_default(with_extensions({probe_offering_both("2.0")}));
  auto kept = restore(newer_default, {});
  ASSERT_EQ(kept.exit_code, 0) << kept.out << kept.err;
  EXPECT_EQ(probe_state(newer_default), "1.0 1.0 k,v");

  PgServer only_20(with_extensions({probe_offering_only_20()}));
  auto refused = restore(only_20, {});
  EXPECT_EQ(refused.exit_code, code_of(ExitCode::copy_failed)) << refused.out << refused.err;
  EXPECT_TRUE(contains(refused.err, "decant_probe 1.0, which the target offers only at 2.0 (default)")) << refused.err;
  expect_nothing_written(only_20);
  auto updated = restore(only_20, {"--extension-update", "decant_probe"});
  ASSERT_EQ(updated.exit_code, 0) << updated.out << updated.err;
  EXPECT_EQ(probe_state(only_20), "2.0 2.0 k,v,added");
}

// pg_partman as CircleCI Server needs it: 4.5.1 on a PostgreSQL 12 source, partitions made
// by its create_parent.
class PgPartmanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int major : {12, 14})
      if (!server_available(major)) GTEST_SKIP() << "no PostgreSQL " << major << " (scripts/install-pg-versions.sh)";
    for (const char* v : {"4.5.1", "5.2.4"})
      if (extension_bundle("pg_partman", v).empty()) GTEST_SKIP() << "no pg_partman " << v << " bundle";
    work_ = make_temp_dir("decant-partman");
  }
  void TearDown() override {
    std::error_code ec;
    if (!work_.empty()) fs::remove_all(work_, ec);
  }
  fs::path work_;
};

TEST_F(PgPartmanTest, A451SourceKeeps451OnATargetOfferingNewerAndIsRefusedByOneOfferingOnly5x) {
  PgServer source(with_extensions({extension_bundle("pg_partman", "4.5.1")}, 12));
  load_partitioned_database(source, "circle", {.partitions = 80, .partman = "4.5.1"});
  auto args = [&](const PgServer& target) {
    return std::vector<std::string>{"pg", "copy", "--source", source.conninfo(), "--target", target.uri(),
                                    "--state-dir", (work_ / "state").string()};
  };
  PgServer only_5(with_extensions({extension_bundle("pg_partman", "5.2.4")}, 14));
  auto refused = run_decant(args(only_5), env_with_client_17());
  EXPECT_EQ(refused.exit_code, code_of(ExitCode::copy_failed)) << refused.out << refused.err;
  EXPECT_TRUE(contains(refused.err, "uses the extension pg_partman 4.5.1, which the target offers only at")) << refused.err;
  EXPECT_TRUE(contains(refused.err, "5.2.4 (default)")) << refused.err;
  EXPECT_FALSE(only_5.database_exists("circle"));

  PgServer both(with_extensions({extension_bundle("pg_partman", "4.5.1"), extension_bundle("pg_partman", "5.2.4")}, 14));
  ASSERT_EQ(both.value("SELECT default_version FROM pg_available_extensions WHERE name = 'pg_partman'"), "5.2.4");
  auto r = run_decant(args(both), env_with_client_17());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(both.value("SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'", "circle"), "4.5.1");
  const char* config = "SELECT md5(string_agg(c::text, '|' ORDER BY parent_table)) FROM partman.part_config c";
  EXPECT_EQ(source.value(config, "circle"), both.value(config, "circle"));
  EXPECT_EQ(partition_tree(source, "circle"), partition_tree(both, "circle"));
}

}  // namespace
}  // namespace decant::test
