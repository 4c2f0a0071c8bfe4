// `decant mongo copy` against real MongoDB wire-protocol servers (FerretDB 1.24): a
// source loaded per test and a fresh target.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "process/process.hpp"
#include "fixtures.hpp"
#include "mongo_server.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Documents with the BSON types FerretDB stores, in unusual field orders.
std::vector<std::string> build_documents(int count) {
  std::vector<std::string> docs;
  for (int i = 0; i < count; ++i)
    docs.push_back(fmt::format(
        R"({{"_id": {{"$oid": "{:024x}"}}, "z_last_first": {}, "name": "build {} ✓ ünïcode", "n": {{"$numberInt": "{}"}},
            "big": {{"$numberLong": "{}"}}, "ratio": {{"$numberDouble": "{}"}}, "ok": {}, "none": null,
            "at": {{"$date": {{"$numberLong": "{}"}}}}, "raw": {{"$binary": {{"base64": "AAEAAgA=", "subType": "00"}}}},
            "uuid": {{"$binary": {{"base64": "c3VyZS4uLiBhIHV1aWQhIQ==", "subType": "04"}}}},
            "re": {{"$regularExpression": {{"pattern": "^build {}$", "options": "i"}}}},
            "ts": {{"$timestamp": {{"t": {}, "i": 1}}}}, "tags": ["a", {}, {{"k": "v"}}],
            "nested": {{"b": 1, "a": {{"deep": [true, false]}}}}}})",
        i + 1, i % 3, i, i, int64_t{1} << 40 | i, i / 7.0, i % 2 ? "true" : "false",
        int64_t{1700000000000} + i * 1000, i, 1700000000 + i, i));
  return docs;
}

class MongoCopyTest : public ServerPairFixture<FerretDb> {
 protected:
  MongoCopyTest() : ServerPairFixture("decant-mongo-test") {}

  void load_circle() const {
    source_->insert("circle_ghe", "builds", build_documents(5000));
    source_->command("circle_ghe",
                     R"({"createIndexes": "builds", "indexes": [
                          {"key": {"n": 1, "at": -1}, "name": "n_at", "unique": true},
                          {"key": {"name": 1}, "name": "name_sparse", "sparse": true}]})");
    source_->command("circle_ghe", R"({"create": "recent", "capped": true, "size": 1048576, "max": 100})");
    std::vector<std::string> small;
    for (int i = 0; i < 300; ++i) small.push_back(fmt::format(R"({{"i": {}, "msg": "line {}"}})", i, i));
    source_->insert("circle_ghe", "recent", small);
    source_->insert("circle_ghe", "empty_docs", {"{}", "{}", R"({"_id": 1})"});
    source_->command("circle_ghe", R"({"create": "no_documents"})");
    source_->insert("other", "settings", {R"({"_id": "k1", "v": 1})", R"({"_id": "k2", "v": {"$numberLong": "2"}})"});
    // Large enough for several parallel inserters.
    std::vector<std::string> events;
    for (int i = 0; i < 24000; ++i) events.push_back(fmt::format(R"({{"_id": {}, "e": "event {}"}})", i, i));
    source_->insert("circle_ghe", "events", events);
  }

  // big.events: 60,000 documents, enough to be inside the collection when interrupted.
  void load_big_events() const {
    std::vector<std::string> docs;
    for (int i = 0; i < 60000; ++i) docs.push_back(fmt::format(R"({{"_id": {}, "pad": "{:0>200}"}})", i, i));
    source_->insert("big", "events", docs);
  }

  void load_many_collections(int n, int docs_each) const {
    for (int c = 0; c < n; ++c) source_->insert("bulk", fmt::format("chunk_{:02}", c), build_documents(docs_each));
  }

  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"mongo",       "copy", "--source", source_->uri(), "--target", target_->uri(),
                               "--state-dir", (work_ / "state").string(), "--report", (work_ / "report.json").string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  nlohmann::json report() const { return nlohmann::json::parse(read_file(work_ / "report.json")); }

  // The oracle: documents byte for byte, indexes and collection options.
  void expect_same(const std::string& db) const {
    EXPECT_EQ(source_->collections(db), target_->collections(db)) << db;
    for (const auto& line : source_->collections(db)) {
      std::string name = line.substr(0, line.find(' '));
      EXPECT_EQ(source_->documents(db, name), target_->documents(db, name)) << db << "." << name;
      EXPECT_EQ(source_->indexes(db, name), target_->indexes(db, name)) << db << "." << name;
    }
  }

  void wait_for_state(const std::string& needle) const { wait_for_journal(work_ / "state", needle); }
};

TEST_F(MongoCopyTest, CopiesCollectionsDocumentsAndIndexesByteForByte) {
  load_circle();
  auto r = run_decant(args({"--jobs", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same("circle_ghe");
  expect_same("other");
  EXPECT_EQ(target_->documents("circle_ghe", "builds").size(), 5000u);
  EXPECT_TRUE(contains(fmt::format("{}", fmt::join(target_->collections("circle_ghe"), "|")), "no_documents"))
      << "an empty collection is created too";
  EXPECT_TRUE(contains(r.out, "copy complete and verified")) << r.out;
  EXPECT_TRUE(contains(r.out, "circle_ghe.builds")) << "a summary line per collection: " << r.out;
  auto j = report();
  EXPECT_TRUE(j["verified"].get<bool>());
  expect_item_copied(j, "builds", 5000);
  bool unchanged = false;
  for (const auto& check : j["checks"])
    unchanged = unchanged || (check["what"] == "source unchanged during the copy" && check["ok"].get<bool>());
  EXPECT_TRUE(unchanged) << j["checks"].dump();
  EXPECT_FALSE(fs::exists(work_ / "state" / "journal"));
}

TEST_F(MongoCopyTest, ALargeCappedCollectionKeepsItsNaturalOrder) {
  // Large enough for parallel inserters, which would interleave batches.
  source_->command("circle_ghe", R"({"create": "log", "capped": true, "size": 104857600})");
  std::vector<std::string> lines;
  for (int i = 0; i < 30000; ++i) lines.push_back(fmt::format(R"({{"_id": {}, "line": "step output {}"}})", (i * 7919) % 30000, i));
  source_->insert("circle_ghe", "log", lines);
  auto r = run_decant(args({"--jobs", "2"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto order = source_->natural_order("circle_ghe", "log");
  ASSERT_EQ(order.size(), 30000u);
  EXPECT_TRUE(order == target_->natural_order("circle_ghe", "log")) << "the target's natural order differs";
}

TEST_F(MongoCopyTest, CopiesOnlyTheNamedDatabases) {
  load_circle();
  auto r = run_decant(args({"--db", "other"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same("other");
  EXPECT_TRUE(target_->collections("circle_ghe").empty());
}

TEST_F(MongoCopyTest, RefusesANonEmptyTargetCollectionUnlessDrop) {
  load_circle();
  target_->insert("other", "settings", {R"({"_id": "mine", "v": 7})"});
  auto r = run_decant(args());
  EXPECT_EQ(r.exit_code, code_of(ExitCode::target_not_empty)) << r.err;
  EXPECT_TRUE(contains(r.err, "other.settings")) << r.err;
  EXPECT_TRUE(contains(r.err, "--drop")) << r.err;
  EXPECT_EQ(target_->documents("other", "settings").size(), 1u) << "left untouched";
  EXPECT_TRUE(target_->collections("circle_ghe").empty()) << "nothing else written";

  auto dropped = run_decant(args({"--drop"}));
  ASSERT_EQ(dropped.exit_code, 0) << dropped.out << dropped.err;
  expect_same("other");
  expect_same("circle_ghe");
}

TEST_F(MongoCopyTest, ResumesAfterSigkillAndVerifiesFinishedCollectionsAgain) {
  load_many_collections(12, 3000);
  BackgroundDecant run(args({"--jobs", "1"}), work_);
  wait_for_state("collection/bulk.chunk_");
  ASSERT_TRUE(run.running()) << "finished before it could be interrupted";
  run.kill(SIGKILL);
  run.wait();
  // The driver's statistics segment would outlive a killed run; a later process of the
  // same pid would find it taken (and the driver say so on stderr).
  EXPECT_FALSE(fs::exists("/dev/shm/mongoc-" + std::to_string(run.pid()))) << "a killed run leaves nothing in /dev/shm";
  auto refused = run_decant(args());
  EXPECT_EQ(refused.exit_code, code_of(ExitCode::target_not_empty)) << refused.err;
  auto r = run_decant(args({"--resume"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same("bulk");
  auto [resumed, copied] = resumed_and_not(report());
  EXPECT_GE(resumed, 1);
  EXPECT_GE(copied, 1);
}

// As a Kubernetes Job runs it: the journal is on the target (a database decant_state that no
// copy lists), so the same command run again elsewhere resumes; another run's name does not.
TEST_F(MongoCopyTest, KeepsItsStateOnTheTargetWhereTheSameRunResumes) {
  load_many_collections(12, 3000);
  auto with_run = [&](const std::string& name) {
    return std::vector<std::string>{"mongo", "copy", "--source", source_->uri(), "--target", target_->uri(),
                                    "--report", (work_ / "report.json").string(), "--jobs", "1",
                                    "--state-on-target", "--resume-run", name};
  };
  auto journal = [&] { return target_->command("decant_state", R"({"find": "journal"})"); };
  {
    BackgroundDecant run(with_run("job-1"), work_);
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline && run.running() &&
           !contains(journal(), "collection/bulk.chunk_"))
      std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(run.running()) << "finished before it could be interrupted";
    run.kill(SIGKILL);
    run.wait();
  }
  auto other = run_decant(with_run("job-2"));
  EXPECT_EQ(other.exit_code, code_of(ExitCode::target_not_empty)) << other.err;
  // The killed copy ran on this machine: its lease is taken over at once, not after its term.
  EXPECT_TRUE(contains(other.err, "has ended on this machine: took its lease over")) << other.err;
  EXPECT_FALSE(contains(other.err, "waiting for it to end")) << other.err;
  EXPECT_TRUE(contains(journal(), "job-1")) << "another run leaves the journal as it was";
  auto again = run_decant(with_run("job-1"));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(contains(again.err + again.out, "resuming the run recorded in the database decant_state")) << again.err;
  expect_same("bulk");
  auto [resumed, copied] = resumed_and_not(report());
  EXPECT_GE(resumed, 1);
  EXPECT_FALSE(contains(journal(), "collection/bulk.")) << "the journal keeps only that the run completed";
  auto once_more = run_decant(with_run("job-1"));
  EXPECT_EQ(once_more.exit_code, 0) << once_more.err;
  EXPECT_TRUE(contains(once_more.err, "is recorded complete and verified")) << once_more.err;

  // migrate, once its release points at the target, forgets the run (--forget-run): another
  // run's name leaves the journal (exit 12), its own drops it with its database, and a
  // target without one is left without one (no lease is taken to find out).
  auto forget = [&](const std::string& name) {
    auto a = with_run(name);
    a.push_back("--forget-run");
    return run_decant(a);
  };
  auto not_ours = forget("job-2");
  EXPECT_EQ(not_ours.exit_code, code_of(ExitCode::nothing_to_resume)) << not_ours.err;
  EXPECT_TRUE(contains(not_ours.err, "does not record the run job-2 complete: left as it is")) << not_ours.err;
  EXPECT_TRUE(contains(journal(), "job-1"));
  auto forgotten = forget("job-1");
  EXPECT_EQ(forgotten.exit_code, 0) << forgotten.err;
  EXPECT_TRUE(contains(forgotten.err, "was recorded complete and verified in the database decant_state")) << forgotten.err;
  EXPECT_FALSE(contains(target_->command("admin", R"({"listDatabases": 1, "nameOnly": true})"), "decant_state"));
  auto again_forgotten = forget("job-1");
  EXPECT_EQ(again_forgotten.exit_code, code_of(ExitCode::nothing_to_resume)) << again_forgotten.err;
  EXPECT_FALSE(contains(target_->command("admin", R"({"listDatabases": 1, "nameOnly": true})"), "decant_state"));
  expect_same("bulk");
}

// Two copies of one run at once (a Job's next pod while the first still runs on a node cut
// off from the API server but not from the target): the second waits on the first's lease,
// then finds the run complete. Never two writers of one target.
TEST_F(MongoCopyTest, ASecondCopyOfTheRunWaitsForTheFirstToEnd) {
  load_many_collections(12, 3000);
  expect_second_copy_waits({"mongo", "copy", "--source", source_->uri(), "--target", target_->uri(), "--jobs", "1",
                            "--state-on-target", "--resume-run", "job-1"},
                           work_, [&] {
                             return contains(target_->command("decant_state", R"({"find": "journal"})"),
                                             "collection/bulk.chunk_");
                           });
  expect_same("bulk");
  EXPECT_FALSE(contains(target_->command("decant_state", R"({"find": "lease"})"), "holder")) << "the lease is given up";
}

// A lease whose holder died without giving it up (its stamp never changes) is taken over once
// it stood still for its term, measured by the waiter's own clock; the copy then runs, and
// gives its own lease up at its end.
TEST_F(MongoCopyTest, ALeaseNoOneRenewsIsTakenOverAfterItsTerm) {
  load_many_collections(2, 500);
  target_->command("decant_state",
                   R"({"insert": "lease", "documents": [{"_id": "journal", "holder": "gone-pod/7/dead", "stamp": "gone-pod/7/dead/41"}]})");
  auto started = std::chrono::steady_clock::now();
  auto r = run_decant({"mongo", "copy", "--source", source_->uri(), "--target", target_->uri(), "--state-on-target",
                       "--resume-run", "job-9"});
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "gone-pod/7/dead holds its lease): waiting for it to end")) << r.err;
  EXPECT_GE(waited, 30s) << "taken over before its term";
  EXPECT_LT(waited, 90s);
  expect_same("bulk");
  EXPECT_FALSE(contains(target_->command("decant_state", R"({"find": "lease"})"), "holder")) << "the lease is given up";
}

TEST_F(MongoCopyTest, ADocumentChangedOnTheTargetIsCaughtOnResume) {
  load_many_collections(8, 3000);
  BackgroundDecant run(args({"--jobs", "1"}), work_);
  wait_for_state("collection/bulk.chunk_");
  ASSERT_TRUE(run.running());
  run.kill(SIGKILL);
  run.wait();
  std::string finished = last_journal_key(work_ / "state", "collection/bulk.");
  ASSERT_FALSE(finished.empty());
  target_->command("bulk", R"({"update": ")" + finished +
                               R"(", "updates": [{"q": {"n": 5}, "u": {"$set": {"name": "changed"}}}]})");
  auto r = run_decant(args({"--resume"}));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::verify_failed)) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, finished)) << r.err;
}

TEST_F(MongoCopyTest, BadInputGetsOneLineAndItsExitCode) {
  load_circle();
  auto malformed = run_decant({"mongo", "copy", "--source", "mongodb://u:hunter2@host:notaport/", "--target",
                               target_->uri()});
  EXPECT_EQ(malformed.exit_code, code_of(ExitCode::usage)) << malformed.err;
  EXPECT_FALSE(contains(malformed.err, "hunter2")) << malformed.err;

  auto unreachable = run_decant({"mongo", "copy", "--source",
                                 "mongodb://127.0.0.1:" + std::to_string(free_port()) + "/?serverSelectionTimeoutMS=1000",
                                 "--target", target_->uri()});
  EXPECT_EQ(unreachable.exit_code, code_of(ExitCode::unreachable)) << unreachable.err;
  EXPECT_TRUE(contains(unreachable.err, "source")) << unreachable.err;

  auto help = run_decant({"mongo", "copy", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "--drop")) << help.out;
}

TEST_F(MongoCopyTest, AuthenticationFailuresAreReportedWithoutThePassword) {
  FerretDb guarded(FerretDb::Options{"admin", "right-pw-123"});
  std::string port = std::to_string(guarded.port());
  // SCRAM-SHA-256 with the right password works.
  source_->insert("other", "settings", {R"({"_id": "k1", "v": 1})"});
  auto ok = run_decant({"mongo", "copy", "--source", source_->uri(), "--target",
                        "mongodb://admin:right-pw-123@127.0.0.1:" + port + "/?authSource=admin&authMechanism=SCRAM-SHA-256",
                        "--state-dir", (work_ / "s1").string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  auto wrong = run_decant({"mongo", "copy", "--source", source_->uri(), "--target",
                           "mongodb://admin:wrong-pw-456@127.0.0.1:" + port + "/?authSource=admin",
                           "--state-dir", (work_ / "s2").string()});
  EXPECT_EQ(wrong.exit_code, code_of(ExitCode::auth)) << wrong.err;
  EXPECT_FALSE(contains(wrong.err + wrong.out, "wrong-pw-456"));
  auto wrong_db = run_decant({"mongo", "copy", "--source", source_->uri(), "--target",
                              "mongodb://admin:right-pw-123@127.0.0.1:" + port + "/?authSource=nowhere",
                              "--state-dir", (work_ / "s3").string()});
  EXPECT_EQ(wrong_db.exit_code, code_of(ExitCode::auth)) << wrong_db.err;
}

TEST_F(MongoCopyTest, TlsWithAVerifiedCertificateWorksAndABadOneIsATlsError) {
  FerretDb tls(FerretDb::Options{"", "", true});
  source_->insert("other", "settings", {R"({"_id": "k1", "v": 1})"});
  auto ok = run_decant({"mongo", "copy", "--source", source_->uri(), "--target", tls.uri(), "--state-dir",
                        (work_ / "s1").string()});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_EQ(source_->documents("other", "settings"), tls.documents("other", "settings"));

  // Another CA: the handshake fails, unless the operator chose tlsInsecure.
  fs::path other = work_ / "other.crt";
  ASSERT_EQ(run_process({{"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                          "/CN=someone-else", "-keyout", (work_ / "other.key").string(), "-out", other.string()},
                         {},
                         {}})
                .exit_status,
            0);
  std::string base = "mongodb://127.0.0.1:" + std::to_string(tls.port()) + "/?tls=true&serverSelectionTimeoutMS=2000";
  auto bad = run_decant({"mongo", "copy", "--source", source_->uri(), "--target", base + "&tlsCAFile=" + other.string(),
                         "--state-dir", (work_ / "s2").string()});
  EXPECT_EQ(bad.exit_code, code_of(ExitCode::tls)) << bad.err;
  EXPECT_TRUE(contains(bad.err, "tlsCAFile")) << bad.err;
  auto insecure = run_decant({"mongo", "copy", "--source", source_->uri(), "--target",
                              base + "&tlsCAFile=" + other.string() + "&tlsInsecure=true", "--drop", "--state-dir",
                              (work_ / "s3").string()});
  EXPECT_EQ(insecure.exit_code, 0) << insecure.err;
}

TEST_F(MongoCopyTest, OddNamesSystemJsAndASmallClientPool) {
  load_circle();
  source_->insert("circle_ghe", "odd name+50%", {R"({"_id": 1})", R"({"_id": 2})"});
  source_->insert("circle_ghe", "system.js", {R"({"_id": "helper", "value": "function() { return 1; }"})"});
  // maxPoolSize=2 with two jobs: no worker may wait for a client that never comes back.
  auto r = run_decant({"mongo", "copy", "--source", source_->uri(), "--target", target_->uri() + "?maxPoolSize=2",
                       "--jobs", "2", "--state-dir", (work_ / "state").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same("circle_ghe");
  EXPECT_EQ(target_->documents("circle_ghe", "system.js").size(), 1u);
  EXPECT_EQ(target_->documents("circle_ghe", "odd name+50%").size(), 2u);
}

TEST_F(MongoCopyTest, ResumeAfterAKillInsideACollection) {
  load_big_events();
  BackgroundDecant run(args({"--jobs", "1"}), work_);
  wait_for_state("started/big.events");
  std::this_thread::sleep_for(300ms);  // some documents are in, not all
  ASSERT_TRUE(run.running());
  run.kill(SIGKILL);
  run.wait();
  auto r = run_decant(args({"--resume"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same("big");
}

TEST_F(MongoCopyTest, SigtermInsideACollectionStopsWithinSecondsAndResumeFinishes) {
  load_big_events();
  BackgroundDecant run(args({"--jobs", "2"}), work_);
  wait_for_state("started/big.events");
  std::this_thread::sleep_for(300ms);  // inside the collection: reading, inserting
  ASSERT_TRUE(run.running());
  auto signalled = std::chrono::steady_clock::now();
  run.kill(SIGTERM);
  EXPECT_EQ(run.wait(), code_of(ExitCode::interrupted)) << run.err();
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 5s);
  EXPECT_TRUE(contains(run.err(), "--resume")) << run.err();
  EXPECT_EQ(nlohmann::json::parse(read_file(work_ / "report.json"))["exit_code"], code_of(ExitCode::interrupted));
  auto r = run_decant(args({"--resume"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_same("big");
}

TEST_F(MongoCopyTest, TheSourceUnderAnotherAddressIsRefusedAsTargetBeforeAnythingIsWritten) {
  load_circle();
  auto builds = source_->documents("circle_ghe", "builds");
  auto settings = source_->documents("other", "settings");
  std::string port = std::to_string(source_->port());
  for (std::vector<std::string> extra : {std::vector<std::string>{"--drop"}, {}, {"--resume"}, {"--drop", "--resume"}}) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(extra, " ")));
    std::vector<std::string> a{"mongo", "copy", "--source", "mongodb://localhost:" + port + "/", "--target",
                               "mongodb://127.0.0.1:" + port + "/", "--state-dir", (work_ / "state").string()};
    a.insert(a.end(), extra.begin(), extra.end());
    auto r = run_decant(a);
    EXPECT_EQ(r.exit_code, code_of(ExitCode::same_server)) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "the target 127.0.0.1:" + port + " is the source localhost:" + port)) << r.err;
    EXPECT_TRUE(contains(r.err, "nothing was written")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(source_->documents("circle_ghe", "builds"), builds);
    EXPECT_EQ(source_->documents("other", "settings"), settings);
  }
}

TEST_F(MongoCopyTest, ASourceWrittenToDuringTheCopyIsReported) {
  load_big_events();
  source_->insert("big", "audit", {R"({"_id": 1})"});
  BackgroundDecant run(args({"--jobs", "1"}), work_);
  wait_for_state("started/big.events");
  // The application writes while the largest collection copies.
  source_->insert("big", "audit", {R"({"_id": 2})", R"({"_id": 3})"});
  ASSERT_TRUE(run.running()) << "the copy finished before the source changed";
  EXPECT_EQ(run.wait(), code_of(ExitCode::verify_failed)) << run.out() << run.err();
  EXPECT_TRUE(contains(run.err(), "the source changed during the copy, document counts of big.audit (1 -> 3)"))
      << run.err();
  EXPECT_TRUE(contains(run.err(), "kubectl scale deploy -l layer=application --replicas=0")) << run.err();
  EXPECT_FALSE(contains(run.err(), "big.events")) << "its count did not change: " << run.err();
  auto j = report();
  bool failed_check = false;
  for (const auto& check : j["checks"])
    failed_check = failed_check || (check["what"] == "source unchanged during the copy" && !check["ok"].get<bool>());
  EXPECT_TRUE(failed_check) << j.dump();
}

TEST_F(MongoCopyTest, AnAtSignInThePasswordIsRefusedWithoutShowingIt) {
  auto r = run_decant({"mongo", "copy", "--source", "mongodb://u:hun@ter2@127.0.0.1:1/", "--target", target_->uri()});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::usage)) << r.err;
  EXPECT_FALSE(contains(r.err + r.out, "ter2")) << r.err;
  EXPECT_TRUE(contains(r.err, "%40")) << r.err;
}

TEST_F(MongoCopyTest, ProgressLinesWhenStdoutIsNotATerminal) {
  load_many_collections(4, 3000);
  auto r = run_decant(args({"--jobs", "1", "--progress-interval", "0.1"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "progress: copying documents:")) << r.out;
  // A collection's records are documents, not rows.
  EXPECT_TRUE(contains(r.out, "documents/s")) << r.out;
  EXPECT_FALSE(contains(r.out, "rows")) << r.out;
}

}  // namespace
}  // namespace decant::test
