// `decant backup` of PostgreSQL on real servers: a PostgreSQL 12 instance (as CircleCI
// Server ships it) backed up and restored onto PostgreSQL 15, every table, sequence, large
// object, role and index checked on the target; scratch-restore verification refuses the
// source; damage is caught naming the table; a SIGKILLed create resumes in a new snapshot.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "process/process.hpp"
#include "crypto/age.hpp"
#include "fixtures.hpp"
#include "pg_server.hpp"
#include "s3_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Every test on a local directory and on S3 (versitygw).
class PgBackupTest : public BackupFixture<PgServer> {
 protected:
  PgBackupTest() : BackupFixture("decant-pg-backup-test", PgServer::Options{.major = server_available(12) ? 12 : 15}) {}
  void load_source() const {
    source_->exec("CREATE ROLE app LOGIN PASSWORD 'app-pw' CONNECTION LIMIT 7; CREATE ROLE readers NOLOGIN; "
                  "GRANT readers TO app");
    source_->exec("CREATE DATABASE circle OWNER app");
    source_->exec("CREATE DATABASE vault");
    source_->exec(R"SQL(
CREATE TABLE builds (id bigserial PRIMARY KEY, name text NOT NULL, at timestamptz, data jsonb, raw bytea,
                     f double precision, n numeric, tags text[]);
INSERT INTO builds (name, at, data, raw, f, n, tags)
  SELECT 'build ' || g || ' ✓', timestamptz '2026-01-01 00:00:00+00' + g * interval '1 min',
         jsonb_build_object('g', g, 'nested', jsonb_build_array(g, 'x')), decode(md5(g::text), 'hex'),
         g / 3.0, g * 1.5, ARRAY['a', g::text]
  FROM generate_series(1, 20000) g;
INSERT INTO builds (name, f) VALUES ('nulls and odd values', 'NaN'), (E'tab\there\nnewline\\', '-Infinity');
CREATE TABLE projects (id int PRIMARY KEY, build_id bigint REFERENCES builds(id), note text);
INSERT INTO projects SELECT g, g, 'p' || g FROM generate_series(1, 300) g;
CREATE INDEX builds_name ON builds (name);
ALTER TABLE builds OWNER TO app;
GRANT SELECT ON builds TO readers;
SELECT setval('builds_id_seq', 50000);
SELECT lo_from_bytea(4242, convert_to(repeat('large object ', 10000), 'UTF8'));
COMMENT ON LARGE OBJECT 4242 IS 'the logo';
GRANT SELECT ON LARGE OBJECT 4242 TO readers;
)SQL",
                  "circle");
    source_->exec("CREATE TABLE secrets (k text PRIMARY KEY, v text); INSERT INTO secrets VALUES ('a', 'b')", "vault");
  }
  // Twenty tables of 20,000 rows, to stop a backup between two of them.
  void load_many() const {
    source_->exec("CREATE DATABASE many");
    for (int i = 0; i < 20; ++i)
      source_->exec(fmt::format("CREATE TABLE t{0} AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g", i),
                    "many");
  }
  std::vector<std::string> create_args() const {
    return {"backup", "create", "--repo", repository_->url(), "--pg", source_->uri(), "-r", key_.recipient().encoded(),
            "--chunk-mib", "1", "--state-dir", (work_ / "state").string()};
  }
  std::string create(const std::vector<std::string>& more = {}) const {
    auto args = create_args();
    args.insert(args.end(), more.begin(), more.end());
    auto r = decant(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }
  RunResult restore(const std::string& id, const std::vector<std::string>& more = {}) const {
    std::vector<std::string> args{"backup", "restore", "--repo", repository_->url(), "--id",  id,
                                  "--pg",   target_->uri(), "-i", (work_ / "key.txt").string()};
    args.insert(args.end(), more.begin(), more.end());
    return decant(args);
  }
  // The largest chunk of backup `id`: one of circle.public.builds'.
  fs::path largest_chunk(const std::string& id) const {
    fs::path largest;
    for (const auto& e : fs::recursive_directory_iterator(repo_ / "backups" / id / "data"))
      if (e.is_regular_file() && (largest.empty() || fs::file_size(e.path()) > fs::file_size(largest))) largest = e.path();
    return largest;
  }
  // The same query on both servers gives the same text.
  void expect_same(const std::string& sql, const std::string& db, const PgServer* restored = nullptr) const {
    EXPECT_EQ((restored ? restored : target_.get())->value(sql, db), source_->value(sql, db)) << sql;
  }
  void expect_restored(const PgServer* restored = nullptr) const {
    auto expect_same = [&](const std::string& sql, const std::string& db) { this->expect_same(sql, db, restored); };
    const char* rows = "SELECT md5(string_agg(b::text, '|' ORDER BY id)) FROM builds b";
    expect_same(rows, "circle");
    expect_same("SELECT count(*) || ':' || sum(id) FROM builds", "circle");
    expect_same("SELECT md5(string_agg(p::text, '|' ORDER BY id)) FROM projects p", "circle");
    expect_same("SELECT last_value || ':' || is_called FROM builds_id_seq", "circle");
    expect_same("SELECT md5(lo_get(4242))", "circle");
    expect_same("SELECT obj_description(4242, 'pg_largeobject') || lomacl::text FROM pg_largeobject_metadata "
                "WHERE oid = 4242", "circle");
    expect_same("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'builds'", "circle");
    expect_same("SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'projects'::regclass",
                "circle");
    expect_same("SELECT tableowner FROM pg_tables WHERE tablename = 'builds'", "circle");
    expect_same("SELECT has_table_privilege('readers', 'builds', 'SELECT')::text", "circle");
    expect_same("SELECT rolpassword || rolconnlimit FROM pg_authid WHERE rolname = 'app'", "postgres");
    expect_same("SELECT pg_has_role('app', 'readers', 'MEMBER')::text", "postgres");
    expect_same("SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'circle'", "postgres");
    expect_same("SELECT v FROM secrets", "vault");
  }

  // The backup exported as pg_dump's format and restored by PostgreSQL's own tools alone
  // (psql for the roles, pg_restore -j 2 from `bin` for each database) into `into`. The
  // archive is of version 1.`archive_minor`, as the pg_dump that made the backup writes.
  void expect_export_restores(const std::string& id, const std::string& bin, const PgServer& into,
                              int archive_minor) const {
    fs::path out = work_ / fmt::format("export-{}", into.port());
    auto exported = decant({"backup", "export", "--repo", repository_->url(), "--id", id, "--format", "pg_dump", "--out",
                                out.string(), "-i", (work_ / "key.txt").string()});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_EQ(read_file(out / "circle" / "toc.dat").substr(0, 7), std::string("PGDMP\x01") + char(archive_minor));
    auto listed = run_process({{bin + "/pg_restore", "--list", (out / "circle").string()}});
    ASSERT_EQ(listed.exit_status, 0) << listed.errors;
    EXPECT_TRUE(contains(listed.output, "TABLE DATA public builds")) << listed.output;
    EXPECT_TRUE(contains(listed.output, "SEQUENCE SET public builds_id_seq")) << listed.output;
    std::vector<std::string> at{"-h", "127.0.0.1", "-p", std::to_string(into.port()), "-U", "postgres"};
    auto tool = [&](const std::string& name, std::vector<std::string> args) {
      std::vector<std::string> argv{bin + "/" + name};
      argv.insert(argv.end(), at.begin(), at.end());
      argv.insert(argv.end(), args.begin(), args.end());
      return run_process({argv});
    };
    tool("psql", {"-X", "-q", "-d", "postgres", "-f", (out / "globals.sql").string()});  // "role postgres exists"
    for (const char* db : {"circle", "vault"}) {
      auto r = tool("pg_restore", {"--exit-on-error", "-j", "2", "-C", "-d", "postgres", (out / db).string()});
      EXPECT_EQ(r.exit_status, 0) << db << ": " << r.errors;
    }
    expect_restored(&into);
  }
};

TEST_P(PgBackupTest, RestoresTablesSequencesLargeObjectsRolesAndIndexesOntoANewerMajor) {
  load_source();
  std::string id = create();
  // Nothing readable in the repository.
  for (const auto& e : fs::recursive_directory_iterator(repo_))
    if (e.is_regular_file()) {
      EXPECT_FALSE(contains(read_file(e.path()), "build 17 ✓")) << e.path();
    }

  auto verified = decant({"backup", "verify", "--repo", repository_->url(), "-i", (work_ / "key.txt").string()});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  auto restored = restore(id);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  expect_restored();
  EXPECT_EQ(restore(id).exit_code, code_of(ExitCode::target_not_empty));
  auto again = restore(id, {"--clean"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  expect_restored();

  auto onto_source = decant({"backup", "verify", "--repo", repository_->url(), "-i", (work_ / "key.txt").string(),
                                 "--restore-pg", source_->uri()});
  EXPECT_EQ(onto_source.exit_code, code_of(ExitCode::same_server)) << onto_source.err;
  EXPECT_EQ(source_->value("SELECT count(*) FROM builds", "circle"), "20002");
  // Nor does it replace anything: a server holding the backup's databases is refused.
  auto onto_full = decant({"backup", "verify", "--repo", repository_->url(), "-i", (work_ / "key.txt").string(),
                               "--restore-pg", target_->uri()});
  EXPECT_EQ(onto_full.exit_code, code_of(ExitCode::target_not_empty)) << onto_full.err;
  PgServer scratch_server;
  auto scratch = decant({"backup", "verify", "--repo", repository_->url(), "-i", (work_ / "key.txt").string(),
                             "--restore-pg", scratch_server.uri()});
  EXPECT_EQ(scratch.exit_code, 0) << scratch.err;
  EXPECT_EQ(scratch_server.value("SELECT count(*) FROM builds", "circle"), "20002");

  // Exported as pg_dump's directory format, PostgreSQL's own tools restore it without decant.
  PgServer from_export;
  expect_export_restores(id, client_bin_dir(15), from_export, 14);
}

// pg_dump 17 writes archive 1.16, where large objects' metadata is data: the export
// writes it so, and pg_restore 17 reads it.
TEST_P(PgBackupTest, ABackupMadeWithPgDump17ExportsWhatPgRestore17Reads) {
  if (!fs::exists(client_bin_dir(17) + "/pg_dump")) GTEST_SKIP() << "no PostgreSQL 17 client tools";
  load_source();
  std::string id = create({"--pg-bin", client_bin_dir(17)});
  PgServer into(PgServer::Options{.major = server_available(17) ? 17 : 15});
  expect_export_restores(id, client_bin_dir(17), into, 16);
}

TEST_P(PgBackupTest, ADamagedTableChunkIsCaughtNamingTheTable) {
  load_source();
  std::string id = create();
  fs::path victim = largest_chunk(id);
  std::string bytes = read_file(victim);
  bytes[bytes.size() / 2] ^= 0x10;
  std::ofstream(victim, std::ios::binary) << bytes;
  auto r = restore(id);
  EXPECT_EQ(r.exit_code, code_of(ExitCode::backup_corrupt)) << r.err;
  EXPECT_TRUE(contains(r.err, "circle.public.builds")) << r.err;
}

// Every database's seconds in the summaries of create and restore, as pg copy gives them.
TEST_P(PgBackupTest, CreateAndRestoreSummariesGiveEachDatabaseItsSeconds) {
  load_source();
  std::string id = create({"--report", (work_ / "create.json").string()});
  auto restored = restore(id, {"--report", (work_ / "restore.json").string()});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  for (const char* report : {"create.json", "restore.json"}) {
    auto groups = json::parse(read_file(work_ / report))["databases"];
    for (const char* db : {"circle", "vault"}) {
      auto group = std::find_if(groups.begin(), groups.end(), [&](const json& g) { return g["name"] == db; });
      ASSERT_TRUE(group != groups.end()) << report << ": " << db << " in " << groups.dump();
      EXPECT_GT((*group)["seconds"].get<double>(), 0.0) << report << ": " << db;
    }
  }
  // circle's 20,000 rows take more than 0.05 s: its summary line does not say 0.0.
  std::string line = restored.out.substr(restored.out.find("\ncircle ") + 1);
  line = line.substr(0, line.find('\n'));
  EXPECT_FALSE(contains(line, " 0.0  ")) << line;
}

// A restore checks every chunk it will read before its first write: a damaged backup
// leaves the target as it was. One damaged past that check (same size, other bytes) stops
// it part-way, and the error says what is left and that a rerun needs --clean.
TEST_P(PgBackupTest, ADamagedBackupIsRefusedBeforeTheRestoreWritesAnything) {
  load_source();
  std::string id = create();
  fs::path victim = largest_chunk(id);
  std::string bytes = read_file(victim);
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 100);
  auto truncated = restore(id);
  EXPECT_EQ(truncated.exit_code, code_of(ExitCode::backup_corrupt)) << truncated.err;
  EXPECT_TRUE(contains(truncated.err, "circle.public.builds")) << truncated.err;
  EXPECT_TRUE(contains(truncated.err, "nothing was written")) << truncated.err;
  EXPECT_EQ(target_->value("SELECT count(*) FROM pg_roles WHERE rolname IN ('app', 'readers')", "postgres"), "0");
  EXPECT_EQ(target_->value("SELECT count(*) FROM pg_database WHERE datname IN ('circle', 'vault')", "postgres"), "0");

  bytes[bytes.size() / 2] ^= 0x10;
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes;
  auto flipped = restore(id);
  EXPECT_EQ(flipped.exit_code, code_of(ExitCode::backup_corrupt)) << flipped.err;
  EXPECT_TRUE(contains(flipped.err, "stopped part-way")) << flipped.err;
  EXPECT_TRUE(contains(flipped.err, "restore again with --clean")) << flipped.err;
}

TEST_P(PgBackupTest, AKilledCreateResumesInANewSnapshotAndRestores) {
  load_many();
  auto args = create_args();
  args.insert(args.end(), {"--jobs", "1"});
  ASSERT_NO_FATAL_FAILURE(kill_once_journal_has(args, "/table/"));
  source_->exec("INSERT INTO t0 VALUES (-1, 'written after the kill')", "many");
  args.push_back("--resume");
  auto resumed = decant(args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto list = json::parse(decant({"backup", "list", "--repo", repository_->url(), "--output", "json"}).out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["state"], "complete");
  auto r = restore(list[0]["id"]);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 20; ++i)
    expect_same(fmt::format("SELECT count(*) || ':' || md5(string_agg(v, '' ORDER BY id)) FROM t{}", i), "many");
}

INSTANTIATE_TEST_SUITE_P(Repositories, PgBackupTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) { return repository_name(param.param); });

}  // namespace
}  // namespace decant::test
