// decant migrate end to end on a real control plane running the stand-in chart: the
// internal databases (PostgreSQL 12 and FerretDB behind mapped pods) move to local
// targets, the release is upgraded to point at them, and rolled back.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/age.hpp"
#include "k8s/cluster.hpp"
#include "fixtures.hpp"
#include "k8s_fixture.hpp"
#include "s3_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class MigrateTest : public StandinTest {
 protected:
  // Targets that want a password, as external servers do.
  struct Targets {
    PgServer pg{tls13({.password_auth = true})};
    FerretDb mongo{FerretDb::Options{.user = "migrator", .password = kTargetPassword}};
    Targets() { pg.exec(std::string("CREATE ROLE migrator LOGIN SUPERUSER PASSWORD '") + kTargetPassword + "'"); }
    std::string pg_uri() const {
      return "host=127.0.0.1 port=" + std::to_string(pg.port()) + " dbname=postgres user=migrator password=" +
             kTargetPassword;
    }
  };

  json values(const std::string& ns, const std::string& release) {
    return json::parse(cluster_->must_helm({"-n", ns, "get", "values", release, "--all", "-o", "json"}));
  }
  json deployment(const std::string& ns, const std::string& name) {
    return json::parse(cluster_->must_kubectl({"-n", ns, "get", "deployment", name, "-o", "json"}));
  }
  bool exists(const std::string& ns, const std::string& what) { return cluster_->exists(ns, what); }
  // After --rollback: the release on its own PostgreSQL again, the frontend back at its two
  // ready replicas, decant's ConfigMap and Secret gone.
  void expect_rolled_back(const std::string& ns) {
    EXPECT_EQ(values(ns, "circleci-server")["postgresql"]["internal"], true);
    auto frontend = deployment(ns, "frontend");
    EXPECT_EQ(frontend["spec"]["replicas"], 2);
    EXPECT_EQ(frontend["status"]["readyReplicas"], 2);
    EXPECT_FALSE(exists(ns, "configmap/decant-migrate"));
    EXPECT_FALSE(exists(ns, "secret/decant-external-databases"));
  }
  // migrate's arguments for the release in `ns` and the targets `t`, its state in `dir`,
  // then `more`.
  std::vector<std::string> base_args(const std::string& ns, const Targets& t, const fs::path& dir,
                                     const std::vector<std::string>& more = {}) {
    std::vector<std::string> args{"-n", ns, "--pg-target", t.pg_uri(), "--mongo-target", t.mongo.uri(),
                                  "--allow-single-server", "--state-dir", (dir / "state").string(), "--wait-timeout",
                                  "120", "--jobs", "2", "--data-path", "local"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }
};

// As CircleCI Server 4.10 needs it: a PostgreSQL 14 target with TLS 1.3 and pg_partman
// 4.5.1, a database of pg_partman's daily partitions (past the 64 tables where the schema
// is restored by several sessions at once) among the copied ones.
TEST_F(MigrateTest, MovesBothDatabasesPointsTheReleaseAtThemAndRollsBack) {
  const std::string ns = "e2e";
  install_standin(ns, "circleci-server", {}, "4.10.0");
  PartitionedSourceDatabase partitions("partitions", 120);
  Targets t;
  ScratchDir dir("decant-migrate");
  auto args = base_args(ns, t, dir);
  args.push_back("--chart=" + cluster_->chart_dir().string());
  args.push_back("--values-out=" + (dir / "values.yaml").string());
  args.push_back("--report=" + (dir / "report.json").string());
  // A backup before anything changes.
  auto key = crypto::AgeIdentity::generate();
  std::ofstream(dir / "key.txt") << key.encoded() << "\n";
  std::string backups = (dir / "backups").string();
  args.insert(args.end(), {"--backup-repo", backups, "--backup-recipient", key.recipient().encoded()});
  auto r = decant_on_cluster("migrate", args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_no_secrets(r);
  EXPECT_NE(r.out.find("migrated and verified"), std::string::npos) << r.out;
  // The copy says once which pg_dump makes the schema (the preflight before it does not).
  std::string said = r.out + r.err;
  size_t first = said.find("schema through");
  EXPECT_NE(first, std::string::npos) << said;
  EXPECT_EQ(said.find("schema through", first + 1), std::string::npos) << said;
  auto listed = run_decant({"backup", "list", "--repo", backups, "--output", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto entries = json::parse(listed.out);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["reason"], "pre-upgrade");
  EXPECT_EQ(entries[0]["state"], "complete");
  EXPECT_EQ(run_decant({"upgrade-check", "--repo", backups}).exit_code, code_of(ExitCode::no_recent_backup));  // not verified yet
  auto verified = run_decant({"backup", "verify", "--repo", backups, "-i", (dir / "key.txt").string()});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(run_decant({"upgrade-check", "--repo", backups}).exit_code, 0);

  // The data is on the targets, and the internal databases were only read.
  EXPECT_EQ(t.pg.value("SELECT count(*) FROM builds", "circle"), "5000");
  EXPECT_EQ(partition_tree(t.pg, "partitions"), partition_tree(*source_pg_, "partitions"));
  EXPECT_EQ(table_fingerprints(t.pg, "partitions"), table_fingerprints(*source_pg_, "partitions"));
  EXPECT_EQ(t.pg.value("SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'", "partitions"), "4.5.1");
  EXPECT_EQ(t.mongo.documents("circle_ghe", "builds"), source_mongo_->documents("circle_ghe", "builds"));
  EXPECT_EQ(source_pg_->value("SELECT count(*) FROM builds", "circle"), "5000");

  // The release points at them, with the credentials in decant's Secret only.
  auto v = values(ns, "circleci-server");
  EXPECT_EQ(v["postgresql"]["internal"], false);
  EXPECT_EQ(v["postgresql"]["secureMode"], true) << "Server 4.10 connects to PostgreSQL over TLS";
  EXPECT_EQ(v["postgresql"]["postgresqlHost"], "127.0.0.1");
  EXPECT_EQ(v["postgresql"]["postgresqlPort"], t.pg.port());
  EXPECT_EQ(v["postgresql"]["auth"]["existingSecret"], "decant-external-databases");
  EXPECT_EQ(v["mongodb"]["internal"], false);
  EXPECT_EQ(v["mongodb"]["hosts"], "127.0.0.1:" + std::to_string(t.mongo.port()));
  EXPECT_EQ(v["mongodb"]["auth"]["mechanism"], "SCRAM-SHA-1");
  auto secret = json::parse(cluster_->must_kubectl({"-n", ns, "get", "secret", "decant-external-databases", "-o", "json"}));
  EXPECT_EQ(decant::k8s::secret_data(secret["data"]["postgres-password"]), kTargetPassword);
  EXPECT_EQ(secret["metadata"]["annotations"].dump().find(kTargetPassword), std::string::npos);
  auto overlay = read_file(dir / "values.yaml");
  EXPECT_NE(overlay.find("\"internal\": false"), std::string::npos) << overlay;
  EXPECT_EQ(overlay.find(kTargetPassword), std::string::npos) << "a password in the values file";

  // The application is back at its replicas, pointed at the external PostgreSQL; the
  // internal StatefulSets are no longer rendered.
  auto frontend = deployment(ns, "frontend");
  EXPECT_EQ(frontend["spec"]["replicas"], 2);
  EXPECT_EQ(frontend["status"]["readyReplicas"], 2);
  EXPECT_NE(frontend["spec"]["template"].dump().find(R"({"name":"POSTGRES_HOST","value":"127.0.0.1"})"), std::string::npos);
  EXPECT_FALSE(exists(ns, "statefulset/postgresql"));

  auto report = json::parse(read_file(dir / "report.json"));
  EXPECT_EQ(report["exit_code"], 0);
  EXPECT_EQ(report["revision_before"], 1);
  EXPECT_EQ(report["revision_after"], 2);
  EXPECT_GT(report["downtime_seconds"].get<double>(), 0);
  std::string phases = report["phases"].dump();
  for (const char* p : {"pre-upgrade-backup", "scale-down", "postgresql-copy", "mongodb-copy", "secret", "upgrade", "ready"})
    EXPECT_NE(phases.find(p), std::string::npos) << p << " " << phases;
  // Each copy's own report under migrate's, its tables and collections verified.
  for (const char* db : {"postgresql", "mongodb"}) EXPECT_EQ(report["copies"][db]["verified"], true) << db << report.dump();
  EXPECT_NE(report["copies"]["postgresql"]["databases"].dump().find(R"("name":"public.builds")"), std::string::npos);
  EXPECT_NE(report["copies"]["mongodb"]["databases"].dump().find(R"("name":"builds")"), std::string::npos);

  // Rollback: the recorded revision's values again, the Secret gone, targets untouched.
  auto back = decant_on_cluster("migrate", {"-n", ns, "--rollback", "--state-dir", (dir / "state").string(),
                                            "--wait-timeout", "120"});
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  EXPECT_NE(back.out.find("external targets were left as they are"), std::string::npos) << back.out;
  auto restored = values(ns, "circleci-server");
  EXPECT_EQ(restored["postgresql"]["internal"], true);
  EXPECT_EQ(restored["mongodb"]["internal"], true);
  EXPECT_FALSE(exists(ns, "secret/decant-external-databases"));
  EXPECT_FALSE(exists(ns, "configmap/decant-migrate"));
  EXPECT_TRUE(exists(ns, "statefulset/postgresql"));
  EXPECT_EQ(deployment(ns, "frontend")["status"]["readyReplicas"], 2);
  EXPECT_EQ(t.pg.value("SELECT count(*) FROM builds", "circle"), "5000");
  auto again = decant_on_cluster("migrate", {"-n", ns, "--rollback", "--state-dir", (dir / "state").string()});
  EXPECT_EQ(again.exit_code, code_of(ExitCode::nothing_to_resume)) << "nothing recorded any more: " << again.out << again.err;
}

TEST_F(MigrateTest, DryRunPrintsEveryCommandAndChangesNothing) {
  const std::string ns = "dry";
  install_standin(ns, "circleci-server");
  Targets t;
  ScratchDir dir("decant-migrate");
  auto r = decant_on_cluster("migrate", base_args(ns, t, dir, {"--dry-run"}));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_no_secrets(r);
  EXPECT_NE(r.out.find("scale deployment --selector=layer=application --replicas=0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("upgrade circleci-server CHART --reuse-values"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<redacted>"), std::string::npos) << r.out;
  EXPECT_EQ(deployment(ns, "frontend")["status"]["readyReplicas"], 2);
  EXPECT_FALSE(exists(ns, "configmap/decant-migrate"));
  EXPECT_FALSE(t.pg.database_exists("circle"));
  EXPECT_EQ(values(ns, "circleci-server")["postgresql"]["internal"], true);

  // A namespace that does not exist is named so (not "no Helm release in the namespace").
  auto nowhere = decant_on_cluster("migrate", base_args("nowhere", t, dir));
  EXPECT_EQ(nowhere.exit_code, code_of(ExitCode::cluster_mismatch)) << nowhere.err;
  EXPECT_NE(nowhere.err.find("the namespace nowhere does not exist"), std::string::npos) << nowhere.err;
}

// Server 4.8 supports PostgreSQL 12-14: a 15 blocks migrate before any downtime, unless
// accepted, and then the report says so.
TEST_F(MigrateTest, AnUnsupportedPostgresqlMajorBlocksUnlessAcceptedAndTheReportSaysSo) {
  const std::string ns = "unsupported";
  install_standin(ns, "circleci-server");
  PgServer pg15;
  FerretDb mongo;
  ScratchDir dir("decant-migrate");
  std::vector<std::string> args{"-n", ns, "--pg-target", pg15.conninfo() + " password=unused", "--mongo-target",
                                mongo.uri(), "--allow-single-server", "--dry-run", "--data-path", "local", "--state-dir",
                                (dir / "state").string(), "--report", (dir / "report.json").string()};
  auto blocked = decant_on_cluster("migrate", args);
  EXPECT_EQ(blocked.exit_code, code_of(ExitCode::unsupported_target)) << blocked.out << blocked.err;
  EXPECT_TRUE(says(blocked.err, "the PostgreSQL target runs PostgreSQL 15, which CircleCI Server 4.8 does not support "
                                "(12-14 (tested: 12))"));
  EXPECT_NE(blocked.err.find("--allow-unsupported-target"), std::string::npos) << blocked.err;
  args.push_back("--allow-unsupported-target");
  auto accepted = decant_on_cluster("migrate", args);
  ASSERT_EQ(accepted.exit_code, 0) << accepted.out << accepted.err;
  auto report = json::parse(read_file(dir / "report.json"));
  EXPECT_EQ(report["dry_run"], true);
  EXPECT_TRUE(says(report["warnings"].dump(), "PostgreSQL 15, which CircleCI Server 4.8 does not support")) << report.dump(2);
  EXPECT_FALSE(pg15.database_exists("circle"));
}

TEST_F(MigrateTest, AChartThatCannotBeAppliedScalesTheApplicationBackUp) {
  const std::string ns = "badchart";
  install_standin(ns, "circleci-server");
  Targets t;
  ScratchDir dir("decant-migrate");
  auto r = decant_on_cluster("migrate", base_args(ns, t, dir, {"--chart=" + (dir / "no-such-chart").string()}));
  EXPECT_EQ(r.exit_code, code_of(ExitCode::cluster_failed)) << r.out << r.err;
  EXPECT_NE(r.err.find("the application was scaled back up"), std::string::npos) << r.err;
  auto frontend = deployment(ns, "frontend");
  EXPECT_EQ(frontend["spec"]["replicas"], 2);
  EXPECT_EQ(frontend["status"]["readyReplicas"], 2);
  EXPECT_FALSE(exists(ns, "configmap/decant-migrate"));
  EXPECT_FALSE(exists(ns, "secret/decant-external-databases"));
  EXPECT_EQ(values(ns, "circleci-server")["postgresql"]["internal"], true);
}

// The upgrade starts and never becomes ready (its pods cannot be scheduled): decant says so
// with its own exit code and leaves the decision to the operator; --rollback puts the
// release and the application back as they were.
TEST_F(MigrateTest, AnUpgradeThatNeverBecomesReadyFailsAndRollbackRestores) {
  const std::string ns = "neverready";
  install_standin(ns, "circleci-server", {"testing.unschedulableWhenExternal=true"});
  Targets t;
  ScratchDir dir("decant-migrate");
  auto args = base_args(ns, t, dir);
  for (auto& a : args)
    if (a == "120") a = "20";  // --wait-timeout
  args.push_back("--chart=" + cluster_->chart_dir().string());
  auto r = decant_on_cluster("migrate", args);
  EXPECT_EQ(r.exit_code, code_of(ExitCode::cluster_failed)) << r.out << r.err;
  EXPECT_NE(r.err.find("--rollback"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(kTargetPassword), std::string::npos);
  EXPECT_EQ(values(ns, "circleci-server")["postgresql"]["internal"], false) << "the upgrade itself was applied";
  EXPECT_NE(deployment(ns, "frontend")["status"].value("readyReplicas", 0), 2);

  auto rollback_args = args;
  rollback_args.push_back("--rollback");
  auto back = decant_on_cluster("migrate", rollback_args);
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  expect_rolled_back(ns);
}

TEST_F(MigrateTest, WithoutAChartItStopsAfterTheCopyAndResumeFinishes) {
  const std::string ns = "nochart";
  install_standin(ns, "circleci-server");
  Targets t;
  ScratchDir dir("decant-migrate");
  auto args = base_args(ns, t, dir);
  auto first = decant_on_cluster("migrate", args);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("decant migrate --resume"), std::string::npos) << first.out;
  EXPECT_EQ(deployment(ns, "frontend")["spec"]["replicas"], 0) << "the application stays down until the upgrade";
  EXPECT_EQ(t.pg.value("SELECT count(*) FROM builds", "circle"), "5000");
  auto cm = json::parse(cluster_->must_kubectl({"-n", ns, "get", "configmap", "decant-migrate", "-o", "json"}));
  EXPECT_EQ(cm["data"]["phase"], "waiting for helm upgrade");
  EXPECT_EQ(cm.dump().find(kTargetPassword), std::string::npos);

  auto resumed_args = args;
  resumed_args.push_back("--resume");
  resumed_args.push_back("--chart=" + cluster_->chart_dir().string());
  auto done = decant_on_cluster("migrate", resumed_args);
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_NE(done.err.find("postgresql-copy: done by the interrupted run"), std::string::npos) << done.err;
  EXPECT_EQ(values(ns, "circleci-server")["postgresql"]["internal"], false);
  EXPECT_EQ(deployment(ns, "frontend")["status"]["readyReplicas"], 2);
}

// Killed (SIGKILL) right after each phase: --resume finishes the migration, and
// --rollback of a second, identical run puts the release back as it was.
TEST_F(MigrateTest, AfterASigkillAtEachPhaseResumeFinishesAndRollbackRestores) {
  int n = 0;
  for (const std::string phase : {"record", "scale-down", "postgresql-copy", "mongodb-copy", "secret", "upgrade"}) {
    SCOPED_TRACE(phase);
    for (const bool resume : {true, false}) {
      const std::string ns = "kill" + std::to_string(n++);
      install_standin(ns, "circleci-server");
      Targets t;
      ScratchDir dir("decant-migrate");
      auto args = base_args(ns, t, dir);
      args.push_back("--chart=" + cluster_->chart_dir().string());
      std::vector<std::string> all{"migrate", "--kubeconfig=" + cluster_->kubeconfig().string(),
                                   "--kubectl=" + cluster_->kubectl_path(), "--helm=" + cluster_->helm_path()};
      all.insert(all.end(), args.begin(), args.end());
      auto env = cluster_->env();
      env.erase("KUBECONFIG");
      env["DECANT_TEST_KILL_AFTER"] = phase;
      auto killed = run_decant(all, env);
      ASSERT_EQ(killed.exit_code, 128 + 9) << killed.out << killed.err;
      if (resume) {
        args.push_back("--resume");
        auto done = decant_on_cluster("migrate", args);
        ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
        EXPECT_TRUE(says(done.err, phase == "upgrade" ? "ready: done" : phase + ": done by the interrupted run"));
        EXPECT_EQ(values(ns, "circleci-server")["postgresql"]["internal"], false);
        EXPECT_EQ(deployment(ns, "frontend")["status"]["readyReplicas"], 2);
        EXPECT_EQ(t.pg.value("SELECT count(*) FROM builds", "circle"), "5000");
        EXPECT_EQ(t.mongo.documents("circle_ghe", "builds").size(), 3u);
      } else {
        auto back = decant_on_cluster("migrate", {"-n", ns, "--rollback", "--state-dir", (dir / "state").string(),
                                                  "--wait-timeout", "120"});
        ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
        expect_rolled_back(ns);
      }
      cluster_->kubectl({"delete", "namespace", ns, "--wait=false"});
    }
  }
}

// The processes (not zombies) whose command line holds `text`.
std::vector<std::string> processes_with(const std::string& text) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_file(entry.path() / "cmdline");
    std::string stat = read_file(entry.path() / "stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z') continue;
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(text) != std::string::npos) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

// Killed in the middle of its PostgreSQL copy (its port-forward and pg_dumps running),
// migrate leaves no child behind, and --resume continues the copy on a new forward port.
TEST_F(MigrateTest, ASigkillInTheMiddleOfTheCopyLeavesNoChildAndResumeFinishes) {
  const std::string ns = "midcopy";
  install_standin(ns, "circleci-server");
  PartitionedSourceDatabase partitions("partitions", 120);
  Targets t;
  ScratchDir dir("decant-migrate");
  auto args = base_args(ns, t, dir, {"--chart=" + cluster_->chart_dir().string()});
  std::vector<std::string> all{"migrate", "--kubeconfig=" + cluster_->kubeconfig().string(),
                               "--kubectl=" + cluster_->kubectl_path(), "--helm=" + cluster_->helm_path()};
  all.insert(all.end(), args.begin(), args.end());
  auto env = cluster_->env();
  env.erase("KUBECONFIG");
  fs::create_directories(dir / "run");
  {
    BackgroundDecant run(all, dir / "run", env);
    fs::path copy_state = dir / "state" / "pg-copy";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (run.running() && std::chrono::steady_clock::now() < deadline &&
           (!fs::exists(copy_state / "journal") || journal_keys(copy_state).size() < 5))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(run.running()) << "the copy ended before it could be stopped: " << run.err();
    ASSERT_FALSE(processes_with("--namespace=" + ns).empty()) << "no kubectl of the run to outlive it";
    run.kill(SIGKILL);
    EXPECT_EQ(run.wait(), 128 + SIGKILL);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!processes_with("--namespace=" + ns).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto left = processes_with("--namespace=" + ns);
  EXPECT_TRUE(left.empty()) << left.front();
  args.push_back("--resume");
  auto done = decant_on_cluster("migrate", args);
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_TRUE(says(done.err, "resuming")) << done.err;
  EXPECT_EQ(values(ns, "circleci-server")["postgresql"]["internal"], false);
  EXPECT_EQ(t.pg.value("SELECT count(*) FROM builds", "circle"), "5000");
  EXPECT_EQ(t.mongo.documents("circle_ghe", "builds").size(), 3u);
  cluster_->kubectl({"delete", "namespace", ns, "--wait=false"});
}

// Replaces every occurrence of `from` in `text`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// `decant backup schedule` against the real kube-apiserver: its CronJobs pass `kubectl
// apply --dry-run=server`, hold no credential, and the command line of each (args and env,
// Secrets resolved, mounted keys remapped to files here) does what it says against the
// test servers: the daily create into S3 (versitygw), the prune, and the weekly verify
// restoring into scratch servers. (In this suite: one test cluster per suite.)
TEST_F(MigrateTest, BackupScheduleCronJobsPassTheApiServerAndTheirCommandLinesWork) {
  S3Server store;
  ScratchDir work("decant-schedule-test");
  auto key = crypto::AgeIdentity::generate();
  std::string repo = "s3://" + S3Server::bucket() + "/cluster";
  std::vector<std::string> args{"backup",
                                "schedule",
                                "--repo",
                                repo,
                                "--s3-endpoint",
                                store.endpoint(),
                                "--image",
                                "registry.example/decant:test",
                                "-n",
                                kNs,
                                "--pg-secret",
                                "decant-pg",
                                "--mongo-secret",
                                "decant-mongo",
                                "--mongo-db",
                                "circle_ghe",
                                "--s3-secret",
                                "decant-s3",
                                "--recipients-secret",
                                "decant-recipients",
                                "--identity-secret",
                                "decant-identity"};
  auto yaml = args;
  yaml.insert(yaml.end(), {"--out", (work / "cronjobs.yaml").string()});
  auto written = run_decant(yaml);
  ASSERT_EQ(written.exit_code, 0) << written.err;
  std::string text = read_file(work / "cronjobs.yaml");
  for (const char* secret : {kPgPassword, kMongoPassword}) EXPECT_EQ(text.find(secret), std::string::npos);

  auto applied = cluster_->kubectl({"apply", "--dry-run=server", "-f", (work / "cronjobs.yaml").string()});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  for (const char* name :
       {"decant-backup-create", "decant-backup-prune", "decant-backup-verify", "decant-backup-pre-upgrade"})
    EXPECT_NE(applied.out.find(std::string("cronjob.batch/") + name), std::string::npos) << applied.out;

  // The Secrets the jobs name, and the files their Secret volumes would hold.
  std::map<std::string, std::map<std::string, std::string>> secrets = {
      {"decant-pg", {{"uri", source_pg_->uri()}}},
      {"decant-mongo", {{"uri", source_mongo_->uri()}}},
      {"decant-s3", store.env()}};
  fs::create_directories(work / "keys" / "recipients");
  fs::create_directories(work / "keys" / "identity");
  std::ofstream(work / "keys" / "recipients" / "recipients") << key.recipient().encoded() << "\n";
  std::ofstream(work / "keys" / "identity" / "identity") << key.encoded() << "\n";
  // Fresh for each verify: it restores into empty servers.
  auto scratch_pg = std::make_unique<PgServer>(supported_target());
  auto scratch_mongo = std::make_unique<FerretDb>();

  auto as_json = args;
  as_json.insert(as_json.end(), {"--format", "json"});
  auto listed = run_decant(as_json);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto items = json::parse(listed.out).at("items");
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[3]["spec"]["suspend"], true);  // the pre-upgrade one runs only when a Job is made from it
  // Every pod they make is admitted where the `restricted` Pod Security Standard is
  // enforced (the API server's own admission, in a server-side dry run); the same pod
  // without its security contexts is refused there, so the check can fail.
  const std::string restricted = "restricted-ns";
  cluster_->must_kubectl({"create", "namespace", restricted});
  cluster_->must_kubectl({"label", "namespace", restricted, "pod-security.kubernetes.io/enforce=restricted"});
  auto admitted = [&](const json& spec) {
    json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "decant-pss"}}}, {"spec", spec}};
    return cluster_->kubectl({"-n", restricted, "create", "--dry-run=server", "-f", "-"}, pod.dump());
  };
  for (const auto& cron_job : items) {
    json spec = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    auto r = admitted(spec);
    EXPECT_EQ(r.exit_code, 0) << cron_job["metadata"]["name"] << ": " << r.err;
    spec.erase("securityContext");
    for (auto& c : spec["containers"]) c.erase("securityContext");
    auto refused = admitted(spec);
    EXPECT_NE(refused.exit_code, 0);
    EXPECT_NE(refused.err.find("violates PodSecurity \"restricted"), std::string::npos) << refused.err;
  }
  cluster_->kubectl({"delete", "namespace", restricted, "--wait=false"});
  // A decant container of a CronJob's pod, run here.
  auto run_container = [&](const json& container) {
    std::vector<std::string> job_args;
    for (const auto& a : container["args"]) {
      std::string arg = replaced(a.get<std::string>(), "/etc/decant/", (work / "keys").string() + "/");
      arg = replaced(arg, "/var/lib/decant", (work / "state").string());
      arg = replaced(arg, "postgresql://postgres@127.0.0.1:5432/postgres", scratch_pg->uri());
      arg = replaced(arg, "mongodb://127.0.0.1:27017/", scratch_mongo->uri());
      job_args.push_back(arg);
    }
    std::map<std::string, std::string> env;
    for (const auto& e : container["env"]) {
      if (e.contains("value")) {
        env[e["name"]] = replaced(e["value"].get<std::string>(), "/var/lib/decant", (work / "state").string());
        continue;
      }
      const json& ref = e["valueFrom"]["secretKeyRef"];
      auto& secret = secrets.at(ref["name"].get<std::string>());
      auto it = secret.find(ref["key"].get<std::string>());
      if (it != secret.end()) env[e["name"]] = it->second;
      else EXPECT_TRUE(ref.value("optional", false)) << ref.dump();
    }
    return run_decant(job_args, env);
  };
  auto run_job = [&](const json& cron_job) {
    EXPECT_EQ(cron_job["spec"]["concurrencyPolicy"], "Forbid");
    return run_container(cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]);
  };
  auto created = run_job(items[0]);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.err.find(kMongoPassword), std::string::npos);
  auto pruned = run_job(items[1]);
  EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
  auto verified = run_job(items[2]);
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(scratch_pg->value("SELECT count(*) FROM builds", "circle"), "5000");
  EXPECT_EQ(scratch_mongo->documents("circle_ghe", "builds").size(), 3u);
  // The daily backups do not open an upgrade; the pre-upgrade Job's create (its first init
  // container) then its verify make the backup upgrade-check wants.
  std::vector<std::string> check{"upgrade-check", "--repo", repo, "--s3-endpoint", store.endpoint()};
  EXPECT_EQ(run_decant(check, store.env()).exit_code, code_of(ExitCode::no_recent_backup));
  const json& pre_upgrade = items[3]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  ASSERT_EQ(pre_upgrade["initContainers"][0]["name"], "create");
  auto pre_created = run_container(pre_upgrade["initContainers"][0]);
  ASSERT_EQ(pre_created.exit_code, 0) << pre_created.err;
  scratch_pg = std::make_unique<PgServer>(supported_target());
  scratch_mongo = std::make_unique<FerretDb>();
  auto pre_verified = run_container(pre_upgrade["containers"][0]);
  EXPECT_EQ(pre_verified.exit_code, 0) << pre_verified.err;
  auto checked = run_decant(check, store.env());
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
}

}  // namespace
}  // namespace decant::test
