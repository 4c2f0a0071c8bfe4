// `decant pg copy` against real PostgreSQL 15 servers: one source loaded once per suite,
// a fresh target per test.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "process/process.hpp"
#include "fixtures.hpp"
#include "pg_fixture.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PgCopyTest : public WorkDirFixture<> {
 protected:
  PgCopyTest() : WorkDirFixture("decant-test") {}
  static void SetUpTestSuite() {
    source_ = new PgServer();
    load_source_data(*source_);
  }
  static void TearDownTestSuite() {
    delete source_;
    source_ = nullptr;
  }
  // The resume journal a --state-on-target copy keeps on the target; "" while it is being made.
  std::string target_journal() const {
    try {
      if (target_->value("SELECT count(*) FROM pg_database WHERE datname = 'decant_state'") != "1") return "";
      return target_->value("SELECT coalesce(string_agg(lines, '' ORDER BY seq), '') FROM journal", "decant_state");
    } catch (const std::exception&) {
      return "";
    }
  }
  void SetUp() override {
    target_ = std::make_unique<PgServer>();
    WorkDirFixture::SetUp();
  }
  void TearDown() override {
    target_.reset();
    WorkDirFixture::TearDown();
  }

  std::vector<std::string> copy_args(std::vector<std::string> extra = {}) const {
    return args_for(source_->conninfo(), target_->uri(), std::move(extra));
  }
  std::vector<std::string> args_for(const std::string& source, const std::string& target,
                                    std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"pg",          "copy", "--source", source, "--target", target,
                                  "--state-dir", (work_ / "state").string(), "--report", report_path()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::string report_path() const { return (work_ / "report.json").string(); }
  nlohmann::json report() const { return nlohmann::json::parse(read_file(report_path())); }

  // Waits until `run` has recorded a finished table of "bulk" (or has ended).
  void wait_for_a_finished_table(BackgroundDecant& run) const {
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline && run.running()) {
      if (contains(read_file(work_ / "state" / "journal"), "bulk/table/")) break;
      std::this_thread::sleep_for(5ms);
    }
  }

  // The independent oracle: what decant was asked to copy is the same on both servers.
  void expect_same_database(const std::string& db) const {
    EXPECT_EQ(table_fingerprints(*source_, db), table_fingerprints(*target_, db)) << "tables of " << db;
    EXPECT_EQ(sequence_values(*source_, db), sequence_values(*target_, db)) << "sequences of " << db;
    EXPECT_EQ(large_objects(*source_, db), large_objects(*target_, db)) << "large objects of " << db;
    EXPECT_EQ(schema_dump(*source_, db), schema_dump(*target_, db)) << "schema of " << db;
  }

  // Copies "bulk" one table at a time and SIGKILLs the run once a table is finished (call
  // it in ASSERT_NO_FATAL_FAILURE).
  void kill_bulk_copy_after_a_table() const {
    BackgroundDecant run(copy_args({"--dbname", "bulk", "--jobs", "1"}), work_);
    wait_for_a_finished_table(run);
    ASSERT_TRUE(run.running());
    run.kill(SIGKILL);
    run.wait();
  }

  // --resume finishes the interrupted copy of `db`: the same database on both servers.
  void expect_resume_finishes(const std::string& db) const {
    auto r = run_decant(copy_args({"--dbname", db, "--resume"}));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    expect_same_database(db);
  }

  // The source still holds what load_source_data() put there.
  void expect_same_database_as_loaded() const {
    EXPECT_EQ(source_->value("SELECT count(*) FROM all_types", "app"), "20004");
    EXPECT_EQ(source_->value("SELECT count(*) FROM pg_largeobject_metadata", "app"), "4");
  }

  static PgServer* source_;
  std::unique_ptr<PgServer> target_;
};
PgServer* PgCopyTest::source_ = nullptr;


// An error is one line: "decant: error: what failed; what to do".
int count_error_lines(const std::string& err) {
  int n = 0;
  for (size_t pos = err.find("decant: error:"); pos != std::string::npos; pos = err.find("decant: error:", pos + 1)) {
    ++n;
    auto end = err.find('\n', pos);
    EXPECT_NE(err.substr(pos, end - pos).find("; "), std::string::npos) << "no hint in: " << err;
  }
  return n;
}

TEST_F(PgCopyTest, CopiesTheWholeInstanceAndVerifiesIt) {
  // A target session time zone other than the source's must not matter.
  target_->exec("ALTER SYSTEM SET timezone = 'Asia/Tokyo'");
  target_->exec("SELECT pg_reload_conf()");
  auto r = run_decant(copy_args({"--jobs", "4"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* db : {"app", "other", "bulk", "odd name-db", "postgres", "tmpl", "template1", "latin", "icu_db"})
    expect_same_database(db);
  EXPECT_EQ(target_->value("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'latin'"), "LATIN1");
  EXPECT_EQ(target_->value("SELECT datlocprovider::text || daticulocale FROM pg_database WHERE datname = 'icu_db'"),
            "ide-DE");
  EXPECT_EQ(target_->value("SELECT string_agg(w, ',' ORDER BY w) FROM words", "icu_db"), "apfel,Äpfel,Zebra");
  EXPECT_EQ(target_->value("SELECT datistemplate FROM pg_database WHERE datname = 'tmpl'"), "t");
  EXPECT_EQ(target_->value("SELECT count(*) FROM a.\"b.c\"", "app"), "5000");
  EXPECT_EQ(globals_dump(*source_), globals_dump(*target_));

  // Spot checks of what the oracle covers only indirectly.
  EXPECT_EQ(target_->value("SELECT relpersistence FROM pg_class WHERE relname = 'cache'", "app"), "u");
  EXPECT_EQ(target_->value("SELECT upper_t FROM all_types WHERE i4 = 5", "app"), "ROW 5 Ñ");
  EXPECT_EQ(target_->value("SELECT count(*) FROM partman.part_config", "app"), "1");
  EXPECT_EQ(target_->value("SELECT retention FROM partman.part_config", "app"), "30 days");
  EXPECT_EQ(target_->value("SELECT name FROM ONLY car WHERE id = 1001", "app"), "car 1");
  EXPECT_EQ(target_->value("SELECT to_char(made, 'YYYY-MM-DD') FROM ONLY car WHERE id = 1001", "app"), "2010-01-02");
  // Database settings that change how values print came along, and no value moved.
  EXPECT_EQ(target_->value("SELECT current_setting('DateStyle') || ' ' || current_setting('IntervalStyle') || ' ' || "
                           "current_setting('bytea_output')",
                           "app"),
            "SQL, DMY sql_standard escape");
  for (const char* probe : {"SELECT string_agg(concat_ws('|', d, ts, tstz, iv, raw, f4, f8), ';' ORDER BY id) FROM all_types",
                            "SELECT string_agg(concat_ws('|', h, c, hash), ';' ORDER BY id) FROM ext_types"})
    EXPECT_EQ(source_->value(probe, "app"), target_->value(probe, "app")) << probe;
  EXPECT_EQ(target_->value("SELECT convalidated FROM pg_constraint WHERE conname = 'legacy_qty_positive'", "app"), "f");
  EXPECT_EQ(target_->value("SELECT count(*) FROM secrets", "app"), "300");
  EXPECT_EQ(target_->value("SELECT peak FROM measurement_2024 WHERE city = 1 AND logdate = '2024-01-02'", "app"), "1");
  EXPECT_EQ(target_->value("SELECT last_value FROM invoice_numbers", "app"), "4242");
  EXPECT_EQ(target_->value("SELECT rolsuper FROM pg_roles WHERE rolname = 'power_user'"), "t");
  EXPECT_EQ(target_->value("SELECT count(*) FROM type_counts", "app"), "4");  // the materialized view is refreshed

  // Identity still generates values after the copy, from where the source left off.
  target_->exec("INSERT INTO all_types (i4) VALUES (-1)", "app");
  EXPECT_EQ(target_->value("SELECT max(id) FROM all_types", "app"), "20005");

  auto j = report();
  EXPECT_TRUE(j["verified"].get<bool>());
  EXPECT_EQ(j["exit_code"], 0);
  expect_item_copied(j, "public.all_types", 20004);
  EXPECT_TRUE(contains(r.out, "copy complete and verified")) << r.out;
  EXPECT_TRUE(contains(r.out, "app")) << r.out;
  EXPECT_FALSE(fs::exists(work_ / "state")) << "the resume state is removed after a verified copy";
}

TEST_F(PgCopyTest, ATargetThatIsTheSourceIsRefusedWhateverItsSpelling) {
  auto before = table_fingerprints(*source_, "other");
  std::string port = std::to_string(source_->port());
  for (const std::string& target :
       {"postgresql://postgres@localhost:" + port + "/postgres", "host=" + source_->socket_dir() + " port=" + port + " user=postgres",
        "postgresql://postgres@127.0.0.1:" + port + "/other"}) {
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--clean"}, std::vector<std::string>{}, std::vector<std::string>{"--resume"}}) {
      SCOPED_TRACE(target + " " + (extra.empty() ? "" : extra[0]));
      auto r = run_decant(args_for(source_->conninfo(), target, extra));
      EXPECT_EQ(r.exit_code, code_of(ExitCode::same_server)) << r.out << r.err;
      EXPECT_TRUE(contains(r.err, "is the source server")) << r.err;
      EXPECT_EQ(count_error_lines(r.err), 1) << r.err;
      EXPECT_EQ(report()["exit_code"], code_of(ExitCode::same_server));
    }
  }
  EXPECT_EQ(table_fingerprints(*source_, "other"), before);
  EXPECT_TRUE(source_->database_exists("app"));
  expect_same_database_as_loaded();
}

TEST_F(PgCopyTest, CopiesOnlyTheNamedDatabases) {
  auto r = run_decant(copy_args({"--dbname", "other", "--dbname", "odd name-db"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same_database("other");
  expect_same_database("odd name-db");
  EXPECT_FALSE(target_->database_exists("app"));
  EXPECT_FALSE(target_->database_exists("bulk"));
}

TEST_F(PgCopyTest, CleanReplacesTheTargetsMaintenanceDatabase) {
  target_->exec("CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (7)", "postgres");
  auto refused = run_decant(copy_args({"--dbname", "postgres"}));
  EXPECT_EQ(refused.exit_code, code_of(ExitCode::target_not_empty)) << refused.err;
  auto r = run_decant(copy_args({"--dbname", "postgres", "--clean"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same_database("postgres");
  EXPECT_EQ(target_->value("SELECT to_regclass('keep_me') IS NULL", "postgres"), "t");
}

TEST_F(PgCopyTest, StateDirectoryKeepsFilesDecantDidNotWrite) {
  fs::path mine = work_ / "mine";
  fs::create_directories(mine / "sub");
  std::ofstream(mine / "notes.txt") << "keep";
  std::ofstream(mine / "sub" / "f") << "keep";
  auto args = copy_args({"--dbname", "other"});
  args[7] = mine.string();
  auto r = run_decant(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_file(mine / "notes.txt"), "keep");
  EXPECT_EQ(read_file(mine / "sub" / "f"), "keep");
  EXPECT_FALSE(fs::exists(mine / "state.json"));
  int left = 0;
  for (const auto& e : fs::directory_iterator(mine)) left += e.path().extension() == ".dump";
  EXPECT_EQ(left, 0) << "schema dumps are removed";
}

TEST_F(PgCopyTest, UnknownUserIsAnAuthenticationError) {
  auto r = run_decant(args_for(source_->conninfo(), target_->uri("postgres", "nobody")));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::auth)) << r.err;
  EXPECT_TRUE(contains(r.err, "nobody")) << r.err;
}

TEST_F(PgCopyTest, RefusesANonEmptyTargetAndTouchesNothing) {
  target_->exec("CREATE DATABASE other");
  target_->exec("CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (7)", "other");
  auto r = run_decant(copy_args());
  EXPECT_EQ(r.exit_code, code_of(ExitCode::target_not_empty)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "other")) << r.err;
  EXPECT_TRUE(contains(r.err, "--clean")) << r.err;
  EXPECT_EQ(count_error_lines(r.err), 1) << r.err;
  EXPECT_EQ(target_->value("SELECT x FROM keep_me", "other"), "7");
  EXPECT_FALSE(target_->database_exists("app"));
  EXPECT_EQ(target_->value("SELECT count(*) FROM pg_roles WHERE rolname = 'app_owner'"), "0");
}

TEST_F(PgCopyTest, CleanDropsAndRecreatesNonEmptyTargets) {
  target_->exec("CREATE DATABASE other");
  target_->exec("CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (7)", "other");
  auto r = run_decant(copy_args({"--clean", "--dbname", "other"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same_database("other");
  EXPECT_EQ(target_->value("SELECT to_regclass('keep_me') IS NULL", "other"), "t");
}

TEST_F(PgCopyTest, ResumesAfterSigkillWithoutCopyingFinishedTablesAgain) {
  BackgroundDecant run(copy_args({"--dbname", "bulk", "--jobs", "1"}), work_);
  // Wait until at least one table is recorded as finished, then kill without warning.
  wait_for_a_finished_table(run);
  ASSERT_TRUE(run.running()) << "the copy finished before it could be interrupted: " << run.out();
  run.kill(SIGKILL);
  EXPECT_EQ(run.wait(), 128 + SIGKILL);
  // The MongoDB driver, loaded by every decant process, would leave its statistics file.
  EXPECT_FALSE(fs::exists("/dev/shm/mongoc-" + std::to_string(run.pid()))) << "a killed run leaves nothing in /dev/shm";

  // Without --resume, the half-copied target is refused.
  auto refused = run_decant(copy_args({"--dbname", "bulk"}));
  EXPECT_EQ(refused.exit_code, code_of(ExitCode::target_not_empty)) << refused.err;
  EXPECT_TRUE(contains(refused.err, "--resume")) << refused.err;

  expect_resume_finishes("bulk");
  auto j = report();
  auto [resumed, copied] = resumed_and_not(j);
  EXPECT_GE(resumed, 1) << j.dump(1);
  EXPECT_GE(copied, 1);
}

// As a Kubernetes Job runs it (--state-on-target --resume-run NAME): the journal is on the
// target, so the same command run again elsewhere (the Job's next pod, on a fresh disk)
// resumes; a run of another name never takes it over.
TEST_F(PgCopyTest, KeepsItsStateOnTheTargetWhereTheSameRunResumesIt) {
  auto args = [&](const std::string& run_name) {
    return std::vector<std::string>{"pg", "copy", "--source", source_->conninfo(), "--target", target_->uri(),
                                    "--dbname", "bulk", "--jobs", "1", "--report", report_path(),
                                    "--state-on-target", "--resume-run", run_name};
  };
  {
    BackgroundDecant run(args("job-1"), work_);
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline && run.running() && !contains(target_journal(), "bulk/table/"))
      std::this_thread::sleep_for(20ms);
    if (!run.running()) {
      int code = run.wait();
      FAIL() << "the copy ended (" << code << ") before it could be interrupted: " << run.out() << run.err();
    }
    run.kill(SIGKILL);
    run.wait();
  }

  auto other = run_decant(args("job-2"));
  EXPECT_EQ(other.exit_code, code_of(ExitCode::target_not_empty)) << other.err;
  EXPECT_TRUE(contains(target_journal(), "job-1")) << "another run leaves the journal as it was";

  auto again = run_decant(args("job-1"));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(contains(again.err + again.out, "resuming the run recorded in the database decant_state")) << again.err;
  expect_same_database("bulk");
  auto [resumed, copied] = resumed_and_not(report());
  EXPECT_GE(resumed, 1) << report().dump(1);
  // The journal keeps only that the run completed: the same run started again (a Job's pod
  // whose end its CLI never saw) ends at once.
  EXPECT_FALSE(contains(target_journal(), "bulk/table/")) << target_journal();
  auto once_more = run_decant(args("job-1"));
  EXPECT_EQ(once_more.exit_code, 0) << once_more.err;
  EXPECT_TRUE(contains(once_more.err, "is recorded complete and verified")) << once_more.err;

  // migrate, once its release points at the target, forgets the run (--forget-run): another
  // run's name leaves the journal (exit 12: nothing of that run), its own drops it, and
  // nothing is copied either way.
  auto forget = [&](const std::string& run_name) {
    auto a = args(run_name);
    a.push_back("--forget-run");
    return run_decant(a);
  };
  auto not_ours = forget("job-2");
  EXPECT_EQ(not_ours.exit_code, code_of(ExitCode::nothing_to_resume)) << not_ours.err;
  EXPECT_TRUE(contains(not_ours.err, "does not record the run job-2 complete: left as it is")) << not_ours.err;
  EXPECT_TRUE(contains(target_journal(), "job-1")) << target_journal();
  auto forgotten = forget("job-1");
  EXPECT_EQ(forgotten.exit_code, 0) << forgotten.err;
  EXPECT_TRUE(contains(forgotten.err, "was recorded complete and verified in the database decant_state")) << forgotten.err;
  EXPECT_EQ(target_->value("SELECT count(*) FROM pg_database WHERE datname = 'decant_state'"), "0");
  auto again_forgotten = forget("job-1");
  EXPECT_EQ(again_forgotten.exit_code, code_of(ExitCode::nothing_to_resume)) << again_forgotten.err;
  EXPECT_EQ(target_->value("SELECT count(*) FROM pg_database WHERE datname = 'decant_state'"), "0")
      << "forgetting makes no journal";
  expect_same_database("bulk");
  auto alone = run_decant({"pg", "copy", "--source", source_->conninfo(), "--target", target_->uri(), "--forget-run"});
  EXPECT_EQ(alone.exit_code, code_of(ExitCode::usage)) << alone.err;
}

// Two copies of one run at once (a Job's next pod while the first still runs on a node cut
// off from the API server but not from the target): the second waits for the first to end,
// then finds the run complete. Never two writers of one target.
TEST_F(PgCopyTest, ASecondCopyOfTheRunWaitsForTheFirstToEnd) {
  std::string said = expect_second_copy_waits(
      {"pg", "copy", "--source", source_->conninfo(), "--target", target_->uri(), "--dbname", "bulk", "--jobs", "1",
       "--state-on-target", "--resume-run", "job-1"},
      work_, [&] { return contains(target_journal(), "bulk/table/"); });
  EXPECT_TRUE(contains(said, " since ")) << "the holder's session named: " << said;
  expect_same_database("bulk");
}

// The session that holds the copy's lock ends (a failover, an administrator, a keepalive
// that gave up): the copy stops at its next journal line rather than write unfenced.
TEST_F(PgCopyTest, ACopyThatLosesItsLockOnTheTargetStops) {
  BackgroundDecant run({"pg", "copy", "--source", source_->conninfo(), "--target", target_->uri(), "--dbname", "bulk",
                        "--jobs", "1", "--state-on-target", "--resume-run", "job-1"},
                       work_);
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline && run.running() && !contains(target_journal(), "bulk/table/"))
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(run.running()) << run.err();
  EXPECT_EQ(target_->value("SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"),
            "1");
  EXPECT_EQ(run.wait(), code_of(ExitCode::unreachable)) << run.err();
  EXPECT_TRUE(contains(run.err(), "the session holding the copy's lock on the target ended")) << run.err();
}

TEST_F(PgCopyTest, ResumeVerifiesTablesFinishedEarlierAndNamesADifference) {
  ASSERT_NO_FATAL_FAILURE(kill_bulk_copy_after_a_table());
  // Change one value in a table the first run finished.
  std::string finished = last_journal_key(work_ / "state", "bulk/table/");
  ASSERT_FALSE(finished.empty());
  target_->exec("UPDATE " + finished + " SET body = body || '!' WHERE id = 1", "bulk");

  auto r = run_decant(copy_args({"--dbname", "bulk", "--resume"}));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::verify_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, finished)) << r.err;
  EXPECT_FALSE(report()["verified"].get<bool>());
}

TEST_F(PgCopyTest, SigintStopsCleanlyAndResumeFinishes) {
  BackgroundDecant run(copy_args({"--dbname", "bulk", "--jobs", "1"}), work_);
  wait_for_a_finished_table(run);
  ASSERT_TRUE(run.running());
  run.kill(SIGINT);
  EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
  EXPECT_TRUE(contains(run.err(), "--resume")) << run.err();
  expect_resume_finishes("bulk");
}

TEST_F(PgCopyTest, LostConnectionIsReportedAndResumeFinishes) {
  BackgroundDecant run(copy_args({"--dbname", "bulk", "--jobs", "1"}), work_);
  wait_for_a_finished_table(run);
  ASSERT_TRUE(run.running());
  // The target drops decant's sessions, as a failover or a network cut would.
  target_->exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'decant' AND pid <> pg_backend_pid()");
  EXPECT_EQ(run.wait(), code_of(ExitCode::unreachable)) << run.err();
  EXPECT_TRUE(contains(run.err(), "--resume")) << run.err();
  EXPECT_EQ(count_error_lines(run.err()), 1) << run.err();
  expect_resume_finishes("bulk");
}

TEST_F(PgCopyTest, ResumeRefusesASourceWhoseSchemaChanged) {
  ASSERT_NO_FATAL_FAILURE(kill_bulk_copy_after_a_table());
  source_->exec("CREATE TABLE added_later (x int)", "bulk");
  auto r = run_decant(copy_args({"--dbname", "bulk", "--resume"}));
  source_->exec("DROP TABLE added_later", "bulk");
  EXPECT_EQ(r.exit_code, code_of(ExitCode::copy_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "changed since the interrupted copy")) << r.err;
  EXPECT_TRUE(contains(r.err, "--clean")) << r.err;
  auto clean = run_decant(copy_args({"--dbname", "bulk", "--clean"}));
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  expect_same_database("bulk");
}

TEST_F(PgCopyTest, ResumeWithoutAnInterruptedCopyIsRefused) {
  auto r = run_decant(copy_args({"--dbname", "other", "--resume"}));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::nothing_to_resume)) << r.err;
  EXPECT_TRUE(contains(r.err, "without --resume")) << r.err;
  EXPECT_FALSE(target_->database_exists("other"));
}

TEST_F(PgCopyTest, MalformedUriIsAUsageError) {
  auto r = run_decant({"pg", "copy", "--source", "postgresql://u:hunter2@host:notaport:/x", "--target",
                       target_->uri()});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::usage)) << r.err;
  EXPECT_TRUE(contains(r.err, "--source")) << r.err;
  EXPECT_FALSE(contains(r.err, "hunter2")) << r.err;
  auto r2 = run_decant({"pg", "copy", "--source", "host=localhost port", "--target", target_->uri()});
  EXPECT_EQ(r2.exit_code, code_of(ExitCode::usage)) << r2.err;
}

TEST_F(PgCopyTest, RefusedConnectionIsUnreachable) {
  int closed_port = free_port();
  auto r = run_decant(
      args_for("host=127.0.0.1 port=" + std::to_string(closed_port) + " user=postgres", target_->uri()));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::unreachable)) << r.err;
  EXPECT_TRUE(contains(r.err, "cannot connect to the source")) << r.err;
  EXPECT_TRUE(contains(r.err, "check the host and port")) << r.err;
}

TEST_F(PgCopyTest, SilentHostTimesOutWithinTheConnectTimeout) {
  // A socket that accepts connections but never answers, like a firewalled host.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::listen(fd, 16);
  std::string silent = "host=127.0.0.1 port=" + std::to_string(ntohs(addr.sin_port)) + " user=postgres connect_timeout=2";
  auto started = std::chrono::steady_clock::now();
  auto r = run_decant(args_for(source_->conninfo(), silent));
  auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_EQ(r.exit_code, code_of(ExitCode::unreachable)) << r.err;
  EXPECT_TRUE(contains(r.err, "target")) << r.err;
  EXPECT_LT(took, 30s);
}

TEST_F(PgCopyTest, WrongPasswordIsAnAuthenticationErrorAndNeverShown) {
  PgServer guarded(PgServer::Options{true});
  guarded.exec("CREATE ROLE copier LOGIN SUPERUSER PASSWORD 'right-pw-123'");
  std::string wrong = "postgresql://copier:wrong-pw-456@127.0.0.1:" + std::to_string(guarded.port()) + "/postgres";
  auto r = run_decant(args_for(source_->conninfo(), wrong));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::auth)) << r.err;
  EXPECT_TRUE(contains(r.err, "password")) << r.err;
  EXPECT_FALSE(contains(r.err + r.out, "wrong-pw-456"));
}

// Scans every process's command line while `run` (and its pg_dump/pg_restore) runs.
std::string scan_process_list(BackgroundDecant& run, const std::string& secret, int& scans) {
  std::string leaked;
  while (run.running()) {
    for (const auto& entry : fs::directory_iterator("/proc")) {
      std::string cmdline = read_file(entry.path() / "cmdline");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      if (contains(cmdline, secret)) leaked = cmdline;
    }
    ++scans;
  }
  return leaked;
}

TEST_F(PgCopyTest, PasswordsFromPgpassNeverAppearInOutputReportsOrTheProcessList) {
  PgServer guarded(PgServer::Options{true});
  guarded.exec("CREATE ROLE copier LOGIN SUPERUSER PASSWORD 'pw-Secret-789'");
  fs::path pgpass = work_ / "pgpass";
  {
    std::ofstream out(pgpass);
    out << "127.0.0.1:" << guarded.port() << ":*:copier:pw-Secret-789\n";
  }
  fs::permissions(pgpass, fs::perms::owner_read | fs::perms::owner_write);
  auto args = args_for(source_->conninfo(), "postgresql://copier@127.0.0.1:" + std::to_string(guarded.port()) + "/postgres",
                       {"--dbname", "bulk", "--jobs", "2"});
  BackgroundDecant run(args, work_, {{"PGPASSFILE", pgpass.string()}});
  int scans = 0;
  std::string leaked = scan_process_list(run, "pw-Secret-789", scans);
  EXPECT_EQ(run.wait(), 0) << run.err();
  EXPECT_GT(scans, 3);
  EXPECT_EQ(leaked, "") << "password visible in the process list";
  EXPECT_FALSE(contains(run.out() + run.err(), "pw-Secret-789"));
  EXPECT_FALSE(contains(read_file(report_path()), "pw-Secret-789"));
  EXPECT_EQ(table_fingerprints(*source_, "bulk"), table_fingerprints(guarded, "bulk"));
}

TEST_F(PgCopyTest, PasswordInTheUriIsScrubbedFromArgvAndKeptFromChildren) {
  PgServer guarded(PgServer::Options{true});
  guarded.exec("CREATE ROLE copier LOGIN SUPERUSER PASSWORD 'pw-Secret-789'");
  std::string target = "postgresql://copier:pw-Secret-789@127.0.0.1:" + std::to_string(guarded.port()) + "/postgres";
  BackgroundDecant run(args_for(source_->conninfo(), target, {"--dbname", "bulk", "--jobs", "2"}), work_);
  // decant overwrites the password in its own argv as soon as it has parsed it; from the
  // moment it writes its state, no process may show it: not decant, not pg_dump/pg_restore.
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (run.running() && std::chrono::steady_clock::now() < deadline && !fs::exists(work_ / "state" / "state.json"))
    std::this_thread::sleep_for(1ms);
  int scans = 0;
  std::string leaked = scan_process_list(run, "pw-Secret-789", scans);
  EXPECT_EQ(run.wait(), 0) << run.err();
  EXPECT_EQ(leaked, "") << "password visible in the process list";
  EXPECT_FALSE(contains(run.out() + run.err(), "pw-Secret-789"));
  EXPECT_FALSE(contains(read_file(report_path()), "pw-Secret-789"));
}

TEST_F(PgCopyTest, TlsWithVerifiedCertificateWorksAndABadOneIsATlsError) {
  PgServer tls(PgServer::Options{false, true});
  std::string base = "host=localhost hostaddr=127.0.0.1 port=" + std::to_string(tls.port()) + " user=postgres dbname=postgres";
  // pg_dump and pg_restore must get sslmode and sslrootcert too: the server takes only TLS.
  auto ok = run_decant(args_for(source_->conninfo(),
                                base + " sslmode=verify-full sslrootcert=" + tls.certificate().string(),
                                {"--dbname", "other"}));
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(table_fingerprints(*source_, "other"), table_fingerprints(tls, "other"));

  // Verifying against a CA that did not sign the server's certificate fails the handshake.
  fs::path wrong_ca = work_ / "other-ca.crt";
  ASSERT_EQ(run_process({{"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                          "/CN=someone-else", "-keyout", (work_ / "other.key").string(), "-out", wrong_ca.string()},
                         {},
                         {}})
                .exit_status,
            0);
  auto bad = run_decant(args_for(source_->conninfo(), base + " sslmode=verify-full sslrootcert=" + wrong_ca.string(),
                                 {"--dbname", "other"}));
  EXPECT_EQ(bad.exit_code, code_of(ExitCode::tls)) << bad.err;
  EXPECT_TRUE(contains(bad.err, "sslrootcert")) << bad.err;
  auto plain = run_decant(args_for(source_->conninfo(), base + " sslmode=disable", {"--dbname", "other"}));
  EXPECT_NE(plain.exit_code, 0) << "the server accepts only TLS";
}

TEST_F(PgCopyTest, MissingOrTooOldPgDumpIsReported) {
  auto r = run_decant(copy_args({"--pg-bin", (work_ / "nothing-here").string()}));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::missing_tool)) << r.err;
  EXPECT_TRUE(contains(r.err, "not found")) << r.err;
  EXPECT_TRUE(contains(r.err, "postgresql-client-15")) << r.err;

  fs::create_directories(work_ / "old");
  for (const char* tool : {"pg_dump", "pg_restore", "psql"}) {
    std::ofstream script(work_ / "old" / tool);
    script << "#!/bin/sh\necho '" << tool << " (PostgreSQL) 11.22'\n";
    script.close();
    fs::permissions(work_ / "old" / tool, fs::perms::owner_all);
  }
  auto old = run_decant(copy_args({"--pg-bin", (work_ / "old").string()}));
  EXPECT_EQ(old.exit_code, code_of(ExitCode::missing_tool)) << old.err;
  EXPECT_TRUE(contains(old.err, "too old")) << old.err;
  EXPECT_FALSE(target_->database_exists("app")) << "nothing is created before the tools are found";
}

TEST_F(PgCopyTest, TargetLoginWithoutPrivilegesIsRefused) {
  target_->exec("CREATE ROLE weak LOGIN");
  auto r = run_decant(args_for(source_->conninfo(), target_->uri("postgres", "weak")));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::privileges)) << r.err;
  EXPECT_TRUE(contains(r.err, "CREATEDB")) << r.err;
  EXPECT_FALSE(target_->database_exists("app"));
}

TEST_F(PgCopyTest, NonSuperuserTargetGetsWhatItCanAndListsWhatWasLeftOut) {
  // Like a managed service's admin login: CREATEDB and CREATEROLE, not a superuser.
  target_->exec("CREATE ROLE admin LOGIN CREATEDB CREATEROLE");
  auto r = run_decant(args_for(source_->conninfo(), target_->uri("postgres", "admin"), {"--dbname", "other"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "power_user: SUPERUSER")) << r.out;
  EXPECT_TRUE(contains(r.out, "power_user: REPLICATION")) << r.out;
  EXPECT_EQ(target_->value("SELECT rolsuper::text || rolcanlogin::text FROM pg_roles WHERE rolname = 'power_user'"),
            "falsetrue");
  EXPECT_EQ(table_fingerprints(*source_, "other"), table_fingerprints(*target_, "other"));
  bool listed = false;
  auto j = report();
  for (const auto& item : j["left_out"]) listed = listed || contains(item.get<std::string>(), "BYPASSRLS");
  EXPECT_TRUE(listed);
}

TEST_F(PgCopyTest, ProgressLinesWhenStdoutIsNotATerminal) {
  auto r = run_decant(copy_args({"--dbname", "bulk", "--jobs", "1", "--progress-interval", "0.2"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "progress: copying data:")) << r.out;
  EXPECT_TRUE(contains(r.out, "rows/s")) << r.out;
  EXPECT_TRUE(contains(r.out, "ETA")) << r.out;
  EXPECT_FALSE(contains(r.out, "\x1b[")) << "no terminal escapes in a log";
}

TEST_F(PgCopyTest, LiveProgressOnATerminal) {
  // `script` gives decant a pseudo-terminal as stdout, as an operator's shell would.
  std::string command;
  for (const auto& a : copy_args({"--dbname", "bulk", "--jobs", "2"})) command += "'" + a + "' ";
  auto r = run_process({{"script", "-qefc", std::string(DECANT_BINARY) + " " + command, "/dev/null"}, {}, {}});
  ASSERT_EQ(r.exit_status, 0) << r.output << r.errors;
  EXPECT_TRUE(contains(r.output, "\x1b[1A\x1b[2K")) << "the display redraws itself";
  EXPECT_TRUE(contains(r.output, "copying data:")) << r.output;
  EXPECT_TRUE(contains(r.output, "rows/s")) << r.output;
  EXPECT_TRUE(contains(r.output, "bulk.public.chunk_")) << "per-table lines";
  EXPECT_FALSE(contains(r.output, "progress: ")) << "no log lines on a terminal";
  EXPECT_TRUE(contains(r.output, "copy complete and verified")) << r.output;
}

TEST_F(PgCopyTest, FullDiskStopsWithAClearErrorAndResumeFinishesOnceThereIsRoom) {
  SmallDisk disk(work_ / "small", "12k");
  if (!disk.mounted()) GTEST_SKIP() << disk.why();
  fs::path small = disk.dir();
  auto args = args_for(source_->conninfo(), target_->uri(), {"--dbname", "app"});
  args[7] = (small / "state").string();  // --state-dir on the full disk
  // In the user's language pg_dump would say "Auf dem Gerät ist kein Speicherplatz mehr
  // verfügbar": decant runs its children in the C locale and still knows a full disk.
  auto r = run_decant(args, {{"LANGUAGE", "de"}, {"LC_ALL", "C.UTF-8"}});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::local_io)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "No space left on device")) << r.err;
  EXPECT_TRUE(contains(r.err, "free disk space")) << r.err;
  EXPECT_EQ(count_error_lines(r.err), 1) << r.err;

  ASSERT_TRUE(disk.resize("64m"));
  args.push_back("--resume");
  auto resumed = run_decant(args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  expect_same_database("app");
}

// A database whose one index takes long to build: an expression that sleeps per row.
struct SlowIndexDatabase {
  const PgServer& server;
  explicit SlowIndexDatabase(const PgServer& s) : server(s) {
    server.exec("CREATE DATABASE slowidx");
    // Built quickly here; the function sleeps only once it is replaced, for the target's build.
    server.exec("CREATE FUNCTION slow(i integer) RETURNS integer IMMUTABLE LANGUAGE plpgsql AS "
                "$$ BEGIN RETURN i; END $$; "
                "CREATE TABLE t (i integer); INSERT INTO t SELECT g FROM generate_series(1, 4000) g; "
                "CREATE INDEX t_slow ON t (slow(i)); "
                "CREATE OR REPLACE FUNCTION slow(i integer) RETURNS integer IMMUTABLE LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_catalog.pg_sleep(0.002); RETURN i; END $$",
                "slowidx");
  }
  ~SlowIndexDatabase() { server.exec("DROP DATABASE slowidx"); }
};

// Waits until `server` runs a statement that contains `text` (or `run` has ended).
bool wait_for_statement(const PgServer& server, BackgroundDecant& run, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline && run.running()) {
    if (server.value("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%" + text + "%' "
                     "AND pid <> pg_backend_pid()") != "0")
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST_F(PgCopyTest, SigtermDuringAnIndexBuildStopsWithinSecondsAndResumeFinishes) {
  SlowIndexDatabase slow(*source_);
  BackgroundDecant run(copy_args({"--dbname", "slowidx", "--jobs", "2"}), work_);
  ASSERT_TRUE(wait_for_statement(*target_, run, "CREATE INDEX t_slow")) << run.out() << run.err();
  auto signalled = std::chrono::steady_clock::now();
  run.kill(SIGTERM);  // what Kubernetes sends a Job's pod
  EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 5s) << "the running CREATE INDEX was not cancelled";
  EXPECT_EQ(count_error_lines(run.err()), 1) << run.err();
  EXPECT_EQ(report()["exit_code"], code_of(ExitCode::interrupted));
  // The build was cancelled on the server, not left running.
  EXPECT_EQ(target_->value("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%CREATE INDEX t_slow%' "
                           "AND pid <> pg_backend_pid()"),
            "0");
  auto r = run_decant(copy_args({"--dbname", "slowidx", "--resume"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same_database("slowidx");
}

// As a Job's pod that Kubernetes stops (SIGTERM) while its journal is on the target: a
// table finished as the stop comes is still journalled, through the lock's session whose
// statements the stop cancels too; the copy exits as interrupted (10, which its Job runs
// again), never as a lost lock (3, which fails the Job). Stopped at several moments.
TEST_F(PgCopyTest, SigtermWithItsJournalOnTheTargetIsAnInterruption) {
  std::vector<std::string> args{"pg", "copy", "--source", source_->conninfo(), "--target", target_->uri(),
                                "--dbname", "bulk", "--jobs", "1", "--state-on-target", "--resume-run", "job-1"};
  for (int tables = 1; tables <= 3; ++tables) {
    BackgroundDecant run(args, work_);
    auto deadline = std::chrono::steady_clock::now() + 120s;
    auto journalled = [&] {
      std::string journal = target_journal();
      size_t n = 0;
      for (size_t at = journal.find("bulk/table/"); at != std::string::npos; at = journal.find("bulk/table/", at + 1)) ++n;
      return n;
    };
    size_t before = journalled();
    while (std::chrono::steady_clock::now() < deadline && run.running() && journalled() < before + 1)
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * tables));
    if (!run.running()) break;  // finished: the rest of the test checks the copy
    run.kill(SIGTERM);
    EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
    EXPECT_FALSE(contains(run.err(), "lock on the target ended")) << run.err();
  }
  auto r = run_decant(args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same_database("bulk");
}

// A --pg-bin whose pg_dump first waits for a child of its own that sleeps (long work, as a
// large schema is), marked so that the test can find it; `deaf` makes both ignore SIGTERM.
fs::path slow_pg_dump(const fs::path& dir, const std::string& marker, bool deaf) {
  fs::create_directories(dir);
  {
    std::ofstream wrapper(dir / "pg_dump");
    wrapper << "#!/bin/sh\n[ \"$1\" = --version ] && exec " << pg_bin_dir() << "/pg_dump --version\n"
            << (deaf ? "trap '' TERM\n" : "") << "sh -c 'sleep 60; : " << marker << "' &\nwait\nexec "
            << pg_bin_dir() << "/pg_dump \"$@\"\n";
  }
  fs::permissions(dir / "pg_dump", fs::perms::owner_all);
  fs::create_symlink(pg_bin_dir() + "/pg_restore", dir / "pg_restore");
  fs::create_symlink(pg_bin_dir() + "/psql", dir / "psql");
  return dir;
}

bool process_running(const std::string& marker) { return run_process({{"pgrep", "-f", marker}}).exit_status == 0; }

bool wait_for_process(const std::string& marker, BackgroundDecant& run) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!process_running(marker) && run.running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  return process_running(marker);
}

TEST_F(PgCopyTest, AStopEndsChildProcessesAndTheirGroups) {
  // On SIGINT decant ends pg_dump and what pg_dump started, not only itself; one that
  // ignores SIGTERM gets SIGKILL.
  for (bool deaf : {false, true}) {
    SCOPED_TRACE(deaf ? "ignores SIGTERM" : "");
    std::string marker = "decant-test-sleeper-" + std::to_string(::getpid()) + (deaf ? "-deaf" : "");
    auto bin = slow_pg_dump(work_ / (deaf ? "deaf" : "bin"), marker, deaf);
    BackgroundDecant run(copy_args({"--dbname", "other", "--pg-bin", bin.string()}), work_);
    ASSERT_TRUE(wait_for_process(marker, run)) << run.err();
    auto signalled = std::chrono::steady_clock::now();
    run.kill(SIGINT);
    EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
    EXPECT_LT(std::chrono::steady_clock::now() - signalled, 5s);
    EXPECT_EQ(count_error_lines(run.err()), 1) << run.err();
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(process_running(marker)) << "the child's own child outlived decant";
  }
}

TEST_F(PgCopyTest, ASecondSignalEndsTheRunAtOnceAndTheReportSaysSo) {
  // The stop takes a while (the child ignores SIGTERM until SIGKILL half a second later):
  // a second signal does not wait for it.
  std::string marker = "decant-test-second-" + std::to_string(::getpid());
  auto bin = slow_pg_dump(work_ / "bin", marker, true);
  BackgroundDecant run(copy_args({"--dbname", "other", "--pg-bin", bin.string()}), work_);
  ASSERT_TRUE(wait_for_process(marker, run)) << run.err();
  run.kill(SIGINT);
  std::this_thread::sleep_for(100ms);  // two signals sent at once would be delivered as one
  run.kill(SIGINT);
  EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
  EXPECT_TRUE(contains(run.err(), "interrupted (second signal)")) << run.err();
  EXPECT_EQ(count_error_lines(run.err()), 1) << run.err();
  EXPECT_EQ(report()["exit_code"], code_of(ExitCode::interrupted)) << "the report is written on the way out";
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(process_running(marker)) << "children are killed on the way out";
}

TEST_F(PgCopyTest, HelpAndVersion) {
  auto help = run_decant({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "pg")) << help.out;
  auto copy_help = run_decant({"pg", "copy", "--help"});
  EXPECT_EQ(copy_help.exit_code, 0);
  EXPECT_TRUE(contains(copy_help.out, "--resume")) << copy_help.out;
  EXPECT_TRUE(contains(copy_help.out, "Exit codes")) << copy_help.out;
  auto version = run_decant({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(contains(version.out, "decant 0.")) << version.out;
  auto missing = run_decant({"pg", "copy", "--source", "x"});
  EXPECT_EQ(missing.exit_code, code_of(ExitCode::usage));
}

}  // namespace
}  // namespace decant::test
