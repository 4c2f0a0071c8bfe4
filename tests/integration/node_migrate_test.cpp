// decant migrate on a real node (kubelet, containerd, runc): the stand-in chart's
// postgresql-0 runs PostgreSQL 12 and mongodb-0 FerretDB in containers, and `migrate
// --image` copies them with decant's own image (built from the repository's Dockerfile) as
// a Job in the namespace, both databases at once. The targets accept connections from the
// pod network only: the data cannot pass through this machine's decant.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "crypto/age.hpp"
#include "k8s_cluster.hpp"
#include "k8s_fixture.hpp"  // the cluster tests' passwords
#include "mongo_server.hpp"
#include "pg_installation.hpp"
#include "pg_server.hpp"
#include "process/process.hpp"
#include "s3_server.hpp"
#include "tcp_proxy.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kImage = "local/decant:0.1.0";

// One statement batch (or a single value) on a server given by its connection string.
std::string sql(const std::string& conninfo, const std::string& text) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string out;
  bool ok = PQstatus(conn) == CONNECTION_OK;
  std::string error = ok ? "" : PQerrorMessage(conn);
  if (ok) {
    PGresult* r = PQexec(conn, text.c_str());
    auto st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(conn);
  if (!error.empty()) throw std::runtime_error(error + " (in: " + text.substr(0, 60) + ")");
  return out;
}

// While it lives, the real node's address takes connections to `ports` from the pod network
// (the bridge) only: this machine's own connections to it are refused.
class PodNetworkOnly {
 public:
  explicit PodNetworkOnly(std::vector<int> ports) : ports_(std::move(ports)) {
    for (int p : ports_) iptables("-I", p);
  }
  ~PodNetworkOnly() {
    for (int p : ports_) iptables("-D", p);
  }
  PodNetworkOnly(const PodNetworkOnly&) = delete;
  PodNetworkOnly& operator=(const PodNetworkOnly&) = delete;

  // The rules a killed run of this suite left (one real node a machine: no other run's are
  // live), which would refuse this machine's connections to a port a server here takes again.
  static void remove_left_rules() {
    auto listed = run_process(ProcessSpec({"iptables", "-S", "INPUT"}));
    std::istringstream lines(listed.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("-A INPUT ", 0) != 0 || line.find(kComment) == std::string::npos) continue;
      std::vector<std::string> rule{"iptables", "-D"};
      std::istringstream words(line.substr(3));
      for (std::string w; words >> w;) rule.push_back(w);
      auto removed = run_process(ProcessSpec(rule));
      if (removed.exit_status != 0) throw std::runtime_error("iptables -D (a killed run's rule): " + removed.errors);
    }
  }

 private:
  static constexpr const char* kComment = "decant-test-pod-network-only";
  static void iptables(const std::string& op, int port) {
    auto r = run_process(ProcessSpec({"iptables", op, "INPUT", "-d", TestCluster::kNodeIp, "-p", "tcp", "--dport",
                                      std::to_string(port), "!", "-i", "decant0", "-m", "comment", "--comment",
                                      kComment, "-j", "REJECT"}));
    if (r.exit_status != 0) throw std::runtime_error("iptables " + op + ": " + r.errors);
  }
  std::vector<int> ports_;
};

class NodeMigrateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) GTEST_SKIP() << "the real node needs root";
    cluster_ = new TestCluster(TestCluster::Node::real);
    PodNetworkOnly::remove_left_rules();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    if (!cluster_) GTEST_SKIP() << "the real node needs root";
  }

  // The stand-in chart on the real node in `ns`; its internal databases' addresses.
  void install(const std::string& ns) {
    cluster_->install_chart(ns, "circleci-server",
                            {"testing.realNode=true", std::string("postgresql.auth.password=") + kPgPassword,
                             std::string("mongodb.auth.rootPassword=") + kMongoPassword});
    pg_source_ = "host=" + pod_ip(ns, "postgresql-0") + " port=5432 user=postgres connect_timeout=10 password=" +
                 kPgPassword;
    mongo_source_ = "mongodb://root:" + std::string(kMongoPassword) + "@" + pod_ip(ns, "mongodb-0") +
                    ":27017/?authSource=admin&directConnection=true";
  }
  std::string pod_ip(const std::string& ns, const std::string& pod) {
    return cluster_->must_kubectl({"-n", ns, "get", "pod", pod, "-o", "jsonpath={.status.podIP}"});
  }
  // PostgreSQL 14 offering pg_partman 4.5.1, with a superuser migrator, taking password logins
  // from the pod network only.
  static PgServer::Options pod_network_target() {
    return {.password_auth = true, .major = 14, .extensions = {extension_bundle("pg_partman", "4.5.1")},
            .pod_network = TestCluster::kPodNetwork, .pod_gateway = TestCluster::kNodeIp};
  }
  static std::string add_migrator(const PgServer& target) {
    target.exec(std::string("CREATE ROLE migrator LOGIN SUPERUSER PASSWORD '") + kTargetPassword + "'");
    return "postgresql://migrator:" + std::string(kTargetPassword) + "@" + TestCluster::kNodeIp + ":" +
           std::to_string(target.port()) + "/postgres";
  }

  // A Job made from the CronJob `cron_job` (as an operator runs one now), waited for: "Complete"
  // or "Failed" and, when failed, what its pod's containers said.
  static std::string run_job_from(const std::string& ns, const std::string& cron_job, const std::string& job) {
    cluster_->must_kubectl({"-n", ns, "create", "job", "--from=cronjob/" + cron_job, job});
    std::string state;
    for (int i = 0; i < 600 && state.empty(); ++i) {
      auto conditions = cluster_->must_kubectl(
          {"-n", ns, "get", "job", job, "-o", R"(jsonpath={.status.conditions[?(@.status=="True")].type})"});
      if (conditions.find("Complete") != std::string::npos) state = "Complete";
      else if (conditions.find("Failed") != std::string::npos) state = "Failed";
      else std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (state != "Complete")
      state += ": " + cluster_->kubectl({"-n", ns, "logs", "job/" + job, "--all-containers", "--prefix"}).out;
    return state;
  }

  // The tables of a copy that a test interrupts, one job at a time: enough that the copy
  // cannot end in the second or two a stop or a lost pod takes (of 20 tables, 200 MB, a pod
  // copied and verified the 17 left in it, 2 runs in 3).
  static constexpr int kTables = 80;
  // A database circle of `tables` tables t1..tN of 40,000 rows (10 MB each) and 2,000
  // documents; returns a digest of t1 and tN.
  std::string load_tables(int tables) {
    sql(pg_source_, "CREATE DATABASE circle");
    sql(pg_source_ + " dbname=circle",
        fmt::format("DO $$ BEGIN FOR t IN 1..{} LOOP EXECUTE format('CREATE TABLE t%s AS SELECT g AS id, "
                    "repeat(md5(g::text), 8) AS pad FROM generate_series(1, 40000) g', t); END LOOP; END $$",
                    tables));
    std::vector<std::string> docs;
    for (int i = 0; i < 2000; ++i) docs.push_back(R"({"_id": )" + std::to_string(i) + R"(, "status": "success"})");
    insert_documents(mongo_source_, "circle_ghe", "builds", docs);
    return sql(pg_source_ + " dbname=circle", digest_query(tables));
  }
  static std::string digest_query(int tables) {
    return fmt::format("SELECT sum(hashtext(pad))::text FROM (SELECT pad FROM t1 UNION ALL SELECT pad FROM t{}) x",
                       tables);
  }
  // The tables a PostgreSQL copy has journalled on `target`.
  // (0 while the journal is being made, or once it is dropped).
  static int tables_journalled(const PgServer& target) {
    try {
      if (target.value("SELECT count(*) FROM pg_database WHERE datname = 'decant_state'") != "1") return 0;
      return std::stoi(
          target.value("SELECT count(*) FROM journal, regexp_matches(lines, 'circle/table/', 'g')", "decant_state"));
    } catch (const std::exception&) {
      return 0;
    }
  }
  // migrate --image's arguments: the namespace, the targets ("--pg-target", URI, ...), a state
  // directory under `dir`, then `extra`.
  std::vector<std::string> image_args(const std::string& ns, const std::vector<std::string>& targets,
                                      const fs::path& dir, const std::vector<std::string>& extra) const {
    std::vector<std::string> a{"-n", ns};
    a.insert(a.end(), targets.begin(), targets.end());
    for (const char* more : {"--image", kImage, "--image-pull-policy", "Never", "--allow-single-server",
                                    "--wait-timeout", "120", "--state-dir"})
      a.push_back(more);
    a.push_back((dir / "state").string());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  // migrate with `args` in the background, through `kubeconfig` (default: the cluster's).
  std::unique_ptr<BackgroundDecant> migrate_in_background(const std::vector<std::string>& args, const fs::path& dir,
                                                          const std::string& kubeconfig = "") {
    std::vector<std::string> all{"migrate",
                                 "--kubeconfig=" + (kubeconfig.empty() ? cluster_->kubeconfig().string() : kubeconfig),
                                 "--kubectl=" + cluster_->kubectl_path(), "--helm=" + cluster_->helm_path()};
    all.insert(all.end(), args.begin(), args.end());
    auto env = cluster_->env();
    env.erase("KUBECONFIG");
    fs::create_directories(dir);
    return std::make_unique<BackgroundDecant>(all, dir, env);
  }
  // The running pod of the Job `job` ("" while none runs).
  static std::string running_pod(const std::string& ns, const std::string& job) {
    return cluster_->must_kubectl({"-n", ns, "get", "pods", "--selector=job-name=" + job, "-o",
                                   "jsonpath={.items[?(@.status.phase==\"Running\")].metadata.name}"});
  }
  // Waits up to `seconds` while `run` runs until `done`.
  static void wait_while_running(BackgroundDecant& run, const std::function<bool()>& done, int seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (run.running() && std::chrono::steady_clock::now() < deadline && !done())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  static TestCluster* cluster_;
  std::string pg_source_, mongo_source_;
};

TestCluster* NodeMigrateTest::cluster_ = nullptr;

TEST_F(NodeMigrateTest, CopiesInTheClusterIntoTargetsOnlyPodsReach) {
  const std::string ns = "e2e";
  install(ns);
  // CircleCI Server's shapes: pg_partman 4.5.1, a table partitioned past 64 partitions.
  sql(pg_source_, "CREATE DATABASE circle");
  sql(pg_source_ + " dbname=circle",
      "CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman; "
      "CREATE TABLE builds (id bigint PRIMARY KEY, status text); "
      "INSERT INTO builds SELECT g, md5(g::text) FROM generate_series(1, 20000) g; "
      "CREATE TABLE events (day int NOT NULL, payload text) PARTITION BY RANGE (day); "
      "DO $$ BEGIN FOR d IN 0..79 LOOP EXECUTE format('CREATE TABLE events_%s PARTITION OF events FOR VALUES FROM "
      "(%s) TO (%s)', d, d, d + 1); END LOOP; END $$; "
      "INSERT INTO events SELECT g % 80, repeat('x', 100) FROM generate_series(1, 8000) g");
  std::vector<std::string> docs;
  for (int i = 0; i < 2000; ++i) docs.push_back(R"({"_id": )" + std::to_string(i) + R"(, "status": "success"})");
  insert_documents(mongo_source_, "circle_ghe", "builds", docs);
  // Read now: once the release points at the targets, the chart removes the internal databases.
  const std::string source_digest = sql(pg_source_ + " dbname=circle", "SELECT sum(hashtext(status))::text FROM builds");
  const auto source_documents = sorted_documents(mongo_source_, "circle_ghe", "builds");

  PgServer pg_target(pod_network_target());
  const std::string pg_target_uri = add_migrator(pg_target);
  FerretDb mongo_target(FerretDb::Options{.user = "migrator", .password = kTargetPassword, .host = TestCluster::kNodeIp});
  ScratchDir dir("decant-node-migrate");
  RunResult r;
  {
    PodNetworkOnly guard({pg_target.port(), mongo_target.port()});
    // The control: from this machine, neither target can be reached at the address decant is given.
    EXPECT_THROW(sql(pg_target_uri + "?connect_timeout=5", "SELECT 1"), std::runtime_error);
    EXPECT_THROW(sorted_documents(mongo_target.uri() + "&serverSelectionTimeoutMS=3000", "circle_ghe", "builds"),
                 std::exception);
    // plan checks from a pod of the image what migrate's copies will need there.
    auto planned = cluster_->decant("plan", {"-n", ns, "--pg-target", pg_target_uri, "--mongo-target", mongo_target.uri(),
                                             "--image", kImage, "--image-pull-policy", "Never", "--allow-single-server",
                                             "--output", "json"});
    ASSERT_EQ(planned.exit_code, 0) << planned.out << planned.err;
    std::string checks = json::parse(planned.out)["checks"].dump();
    EXPECT_NE(checks.find(" reached from decant in the cluster: PostgreSQL "), std::string::npos) << checks;
    // FerretDB reports no privileges to check (tests/unit/mongo_privileges_test.cpp has MongoDB's).
    EXPECT_NE(checks.find("logged into from decant in the cluster (server "), std::string::npos) << checks;
    EXPECT_NE(checks.find("the login's privileges for the copy and its journal: not checked"), std::string::npos)
        << checks;
    r = cluster_->decant("migrate", {"-n", ns, "--pg-target", pg_target_uri, "--mongo-target", mongo_target.uri(),
                                      "--image", kImage, "--image-pull-policy", "Never", "--allow-single-server", "--chart",
                                      cluster_->chart_dir().string(), "--state-dir", (dir / "state").string(),
                                      "--wait-timeout", "120", "--jobs", "2", "--report", (dir / "report.json").string()});
  }
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_no_cluster_secrets(r);
  // Each copy had the whole --jobs (they load different servers).
  auto said = [&r](const std::string& container, const std::string& text) {
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind(container + ": ", 0) == 0 && line.find(text) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(said("postgresql", "with 2 jobs")) << r.out;
  EXPECT_TRUE(said("mongodb", "with 2 jobs")) << r.out;
  // The copies' own reports came through their pods' logs, under migrate's; never shown.
  EXPECT_EQ(r.out.find("decant-report"), std::string::npos) << r.out;
  auto report = json::parse(read_file(dir / "report.json"));
  for (const char* db : {"postgresql", "mongodb"}) EXPECT_EQ(report["copies"][db]["verified"], true) << db << report.dump();
  EXPECT_NE(report["copies"]["postgresql"]["databases"].dump().find(R"("name":"public.events_79")"), std::string::npos);
  EXPECT_NE(report["copies"]["mongodb"]["databases"].dump().find(R"("name":"builds")"), std::string::npos);
  EXPECT_NE(r.out.find("migrated and verified"), std::string::npos) << r.out;
  // Both copies ran in the pod, each said its summary through the CLI.
  EXPECT_NE(r.out.find("postgresql: copy complete and verified"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mongodb: copy complete and verified"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("copy-in-cluster: done"), std::string::npos) << r.err;

  EXPECT_EQ(pg_target.value("SELECT count(*) FROM builds", "circle"), "20000");
  EXPECT_EQ(pg_target.value("SELECT count(*) FROM events", "circle"), "8000");
  EXPECT_EQ(pg_target.value("SELECT count(*) FROM pg_inherits", "circle"), "80");
  EXPECT_EQ(pg_target.value("SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'", "circle"), "4.5.1");
  EXPECT_EQ(pg_target.value("SELECT sum(hashtext(status))::text FROM builds", "circle"), source_digest);
  EXPECT_EQ(sorted_documents(mongo_target.uri(), "circle_ghe", "builds"), source_documents);
  // Nothing of the copy is left in the namespace, nor its journals on the targets (dropped by
  // a Job once the release points at them); the release points at the targets.
  for (const char* db : {"postgresql", "mongodb"}) {
    EXPECT_FALSE(cluster_->exists(ns, std::string("job/decant-migrate-copy-") + db));
    EXPECT_FALSE(cluster_->exists(ns, std::string("secret/decant-migrate-copy-") + db));
  }
  EXPECT_NE(r.err.find("the copies' journals (database decant_state) were dropped from the targets"), std::string::npos)
      << r.err;
  EXPECT_FALSE(cluster_->exists(ns, "job/decant-migrate-forget"));
  EXPECT_FALSE(cluster_->exists(ns, "secret/decant-migrate-forget"));
  EXPECT_EQ(pg_target.value("SELECT count(*) FROM pg_database WHERE datname = 'decant_state'"), "0");
  EXPECT_EQ(mongo_target.command("admin", R"({"listDatabases": 1, "nameOnly": true})").find("decant_state"),
            std::string::npos);
  auto phases = report["phases"].dump();
  EXPECT_NE(phases.find("forget-copies"), std::string::npos) << phases;
  auto values = json::parse(cluster_->must_helm({"-n", ns, "get", "values", "circleci-server", "--all", "-o", "json"}));
  EXPECT_EQ(values["postgresql"]["internal"], false);
  EXPECT_EQ(values["postgresql"]["postgresqlHost"], TestCluster::kNodeIp);
  auto frontend = json::parse(cluster_->must_kubectl({"-n", ns, "get", "deployment", "frontend", "-o", "json"}));
  EXPECT_EQ(frontend["status"]["readyReplicas"], 2);
}

// `backup schedule`'s CronJobs run for real on the node, in decant's image: a Job made from
// each completes (the daily create into S3, the prune, the weekly verify restoring into its
// scratch servers, sidecars in the same pod), and the pre-upgrade one makes the backup that
// `upgrade-check` wants before an upgrade.
TEST_F(NodeMigrateTest, BackupCronJobsRunInTheClusterAndOpenTheUpgrade) {
  const std::string ns = "backups";
  install(ns);
  sql(pg_source_, "CREATE DATABASE circle");
  sql(pg_source_ + " dbname=circle",
      "CREATE TABLE builds (id bigint PRIMARY KEY, status text); "
      "INSERT INTO builds SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
  insert_documents(mongo_source_, "circle_ghe", "builds", {R"({"_id": 1})", R"({"_id": 2})", R"({"_id": 3})"});
  S3Server store(TestCluster::kNodeIp);  // where the pods reach it
  const std::string repo = "s3://" + S3Server::bucket() + "/cluster";
  auto key = crypto::AgeIdentity::generate();
  // The Secrets the jobs name, given on stdin: no credential in any argv.
  auto secret = [&](const std::string& name, const json& data) {
    return json{{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}}}, {"stringData", data}};
  };
  json s3 = json::object();
  for (const auto& [k, v] : store.env()) s3[k] = v;
  json secrets = {
      {"apiVersion", "v1"},
      {"kind", "List"},
      {"items",
       {secret("decant-pg", {{"uri", "postgresql://postgres:" + std::string(kPgPassword) + "@postgresql." + ns +
                                         ".svc:5432/postgres"}}),
        secret("decant-mongo", {{"uri", "mongodb://root:" + std::string(kMongoPassword) + "@mongodb." + ns +
                                            ".svc:27017/?authSource=admin"}}),
        secret("decant-s3", s3), secret("decant-recipients", {{"recipients", key.recipient().encoded() + "\n"}}),
        secret("decant-identity", {{"identity", key.encoded() + "\n"}})}}};
  cluster_->must_kubectl({"-n", ns, "apply", "-f", "-"}, secrets.dump());
  ScratchDir dir("decant-node-backup");
  auto scheduled = run_decant({"backup", "schedule", "--repo", repo, "--s3-endpoint", store.endpoint(), "--image", kImage,
                               "-n", ns, "--pg-secret", "decant-pg", "--mongo-secret", "decant-mongo", "--mongo-db",
                               "circle_ghe", "--s3-secret", "decant-s3", "--recipients-secret", "decant-recipients",
                               "--identity-secret", "decant-identity", "--scratch-pg-image", "local/postgresql:12",
                               "--scratch-mongo-image", "local/ferretdb:1.24", "--out",
                               (dir / "cronjobs.yaml").string()});
  ASSERT_EQ(scheduled.exit_code, 0) << scheduled.err;
  cluster_->must_kubectl({"apply", "-f", (dir / "cronjobs.yaml").string()});

  EXPECT_EQ(run_job_from(ns, "decant-backup-create", "create-now"), "Complete");
  EXPECT_EQ(run_job_from(ns, "decant-backup-prune", "prune-now"), "Complete");
  EXPECT_EQ(run_job_from(ns, "decant-backup-verify", "verify-now"), "Complete");
  // The verify restored into its scratch servers and compared every item.
  auto verify_log = cluster_->must_kubectl({"-n", ns, "logs", "job/verify-now", "-c", "decant"});
  EXPECT_NE(verify_log.find("restored"), std::string::npos) << verify_log;
  for (const char* password : {kPgPassword, kMongoPassword}) EXPECT_EQ(verify_log.find(password), std::string::npos);

  // A daily backup does not open an upgrade; the pre-upgrade Job's does.
  const std::vector<std::string> check{"upgrade-check", "--repo", repo, "--s3-endpoint", store.endpoint()};
  auto before = run_decant(check, store.env());
  EXPECT_EQ(before.exit_code, code_of(ExitCode::no_recent_backup)) << before.err;
  EXPECT_EQ(run_job_from(ns, "decant-backup-pre-upgrade", "pre-upgrade-now"), "Complete");
  auto after = run_decant(check, store.env());
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
}

// The copy in the cluster outlives its pod and its CLI. The PostgreSQL Job's pod, force-deleted
// in the middle of the copy: the Job's next pod resumes from the journal on the target (the
// MongoDB Job, finished, is not repeated). The CLI, SIGKILLed while that pod copies: `migrate
// --resume` follows the same Jobs (no second copy) to the verified end.
TEST_F(NodeMigrateTest, TheCopyOutlivesItsPodAndItsCli) {
  const std::string ns = "outlive";
  install(ns);
  const std::string source_digest = load_tables(kTables);

  PgServer pg_target(pod_network_target());
  const std::string pg_target_uri = add_migrator(pg_target);
  FerretDb mongo_target(FerretDb::Options{.user = "migrator", .password = kTargetPassword, .host = TestCluster::kNodeIp});
  ScratchDir dir("decant-node-outlive");
  auto args = image_args(ns, {"--pg-target", pg_target_uri, "--mongo-target", mongo_target.uri()}, dir,
                         {"--chart", cluster_->chart_dir().string(), "--jobs", "1", "--progress-interval", "1"});
  auto tables_done = [&] { return tables_journalled(pg_target); };
  const std::string pg_job = "decant-migrate-copy-postgresql";
  std::string first_pod;
  {
    auto background = migrate_in_background(args, dir / "run");
    BackgroundDecant& run = *background;
    auto wait_until = [&](const std::function<bool()>& done, int seconds) { wait_while_running(run, done, seconds); };
    wait_until([&] { return tables_done() >= 3; }, 300);
    ASSERT_TRUE(run.running()) << "the copy ended before its pod could be deleted: " << run.out() << run.err();
    first_pod = running_pod(ns, pg_job);
    ASSERT_FALSE(first_pod.empty());
    int done_before = tables_done();
    cluster_->must_kubectl({"-n", ns, "delete", "pod", first_pod, "--grace-period=0", "--force"});
    // The next pod resumes: the CLI relays what it says.
    wait_until([&] { return run.out().find("postgresql: " ) != std::string::npos &&
                            run.out().find("resuming the run recorded in the database decant_state") != std::string::npos; },
               180);
    ASSERT_TRUE(run.running()) << "the copy ended before its CLI could be killed: " << run.out() << run.err();
    EXPECT_NE(run.out().find("(the pod " + first_pod + " was lost: "), std::string::npos) << run.out();
    EXPECT_GE(tables_done(), done_before) << "the next pod kept what the first had journalled";
    run.kill(SIGKILL);
    EXPECT_EQ(run.wait(), 128 + SIGKILL);
  }
  ASSERT_TRUE(cluster_->exists(ns, "job/" + pg_job)) << "the copy goes on without its CLI";
  args.push_back("--resume");
  auto r = cluster_->decant("migrate", args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_no_cluster_secrets(r);
  EXPECT_NE(r.err.find("following the Job " + pg_job + " of this run"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("postgresql: copy complete and verified"), std::string::npos) << r.out;
  EXPECT_EQ(pg_target.value("SELECT count(*) FROM t30", "circle"), "40000");
  EXPECT_EQ(pg_target.value(digest_query(kTables), "circle"), source_digest);
  // The resumed run drops the copies' journals too, once the release points at the targets.
  EXPECT_EQ(pg_target.value("SELECT count(*) FROM pg_database WHERE datname = 'decant_state'"), "0") << r.err;
  EXPECT_EQ(mongo_target.command("admin", R"({"listDatabases": 1, "nameOnly": true})").find("decant_state"),
            std::string::npos);
  EXPECT_EQ(sorted_documents(mongo_target.uri(), "circle_ghe", "builds").size(), 2000u);
  for (const char* db : {"postgresql", "mongodb"})
    EXPECT_FALSE(cluster_->exists(ns, std::string("job/decant-migrate-copy-") + db));
  auto values = json::parse(cluster_->must_helm({"-n", ns, "get", "values", "circleci-server", "--all", "-o", "json"}));
  EXPECT_EQ(values["postgresql"]["internal"], false);
}

// SIGINT on the CLI stops the copies in the cluster: their Jobs are deleted, decant in the
// pods cancels and exits, the CLI exits 10 leaving the application down; --resume starts the
// Jobs of the same run again, which continue from the journals on the targets.
TEST_F(NodeMigrateTest, SigintStopsTheCopyInTheClusterAndResumeContinuesIt) {
  const std::string ns = "sigint";
  install(ns);
  const std::string source_digest = load_tables(kTables);
  PgServer pg_target(pod_network_target());
  const std::string pg_target_uri = add_migrator(pg_target);
  ScratchDir dir("decant-node-sigint");
  auto args = image_args(ns, {"--pg-target", pg_target_uri}, dir, {"--chart", cluster_->chart_dir().string(), "--jobs", "1"});
  auto run = migrate_in_background(args, dir / "run");
  wait_while_running(*run, [&] { return tables_journalled(pg_target) >= 2; }, 300);
  ASSERT_TRUE(run->running()) << "the copy ended before it could be stopped: " << run->out() << run->err();
  int journalled = tables_journalled(pg_target);
  auto stopped_at = std::chrono::steady_clock::now();
  run->kill(SIGINT);
  EXPECT_EQ(run->wait(), code_of(ExitCode::interrupted)) << run->out() << run->err();
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::seconds(60)) << "stops within seconds";
  EXPECT_FALSE(cluster_->exists(ns, "job/decant-migrate-copy-postgresql"));
  EXPECT_FALSE(cluster_->exists(ns, "secret/decant-migrate-copy-postgresql"));
  auto frontend = json::parse(cluster_->must_kubectl({"-n", ns, "get", "deployment", "frontend", "-o", "json"}));
  EXPECT_EQ(frontend["spec"]["replicas"], 0) << "a stop leaves the application down for --resume";
  EXPECT_GE(tables_journalled(pg_target), journalled) << "the journal on the target outlives the stopped pod: " << run->out();

  args.push_back("--resume");
  auto r = cluster_->decant("migrate", args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("postgresql: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("resuming the run recorded in the database decant_state"), std::string::npos) << r.out;
  EXPECT_EQ(pg_target.value(digest_query(kTables), "circle"), source_digest);
}

// A copy's pod lost twice (force-deleted, then its replacement evicted through the Eviction
// API, as a node drain does): one line naming both (exit 16), the application scaled back
// up, no Job or Secret left.
TEST_F(NodeMigrateTest, APodLostTwiceIsOneLineAndTheApplicationComesBack) {
  const std::string ns = "losttwice";
  install(ns);
  load_tables(kTables);
  PgServer pg_target(pod_network_target());
  const std::string pg_target_uri = add_migrator(pg_target);
  ScratchDir dir("decant-node-losttwice");
  auto args = image_args(ns, {"--pg-target", pg_target_uri}, dir, {"--jobs", "1"});
  const std::string job = "decant-migrate-copy-postgresql";
  auto run = migrate_in_background(args, dir / "run");
  wait_while_running(*run, [&] { return tables_journalled(pg_target) >= 1; }, 300);
  std::string first = running_pod(ns, job);
  ASSERT_FALSE(first.empty()) << run->out() << run->err();
  cluster_->must_kubectl({"-n", ns, "delete", "pod", first, "--grace-period=0", "--force"});
  std::string second;
  wait_while_running(*run, [&] { second = running_pod(ns, job); return !second.empty() && second != first; }, 120);
  ASSERT_FALSE(second.empty()) << run->out() << run->err();
  auto eviction = json{{"apiVersion", "policy/v1"}, {"kind", "Eviction"},
                       {"metadata", {{"name", second}, {"namespace", ns}}}}.dump();
  auto evicted = cluster_->kubectl({"create", "--raw", "/api/v1/namespaces/" + ns + "/pods/" + second + "/eviction",
                                    "-f", "-"}, eviction);
  ASSERT_EQ(evicted.exit_code, 0) << evicted.err;
  int code = run->wait();
  EXPECT_EQ(code, code_of(ExitCode::cluster_failed)) << run->out() << run->err();
  EXPECT_NE(run->err().find("the Job " + job + " lost 2 pod(s)"), std::string::npos) << run->err();
  EXPECT_NE(run->err().find("the application was scaled back up"), std::string::npos) << run->err();
  EXPECT_FALSE(cluster_->exists(ns, "job/" + job));
  EXPECT_FALSE(cluster_->exists(ns, "secret/" + job));
  auto frontend = json::parse(cluster_->must_kubectl({"-n", ns, "get", "deployment", "frontend", "-o", "json"}));
  EXPECT_EQ(frontend["spec"]["replicas"], 2);
}

// The CLI loses the API server in the middle of the copy (the network to the cluster goes): it
// waits a minute for it, then says so in one line (exit 3) and leaves the copies running in
// the cluster and the application down (nothing to roll back from where it stands); once the
// API server answers again, `migrate --resume` follows the same Jobs to the verified end.
TEST_F(NodeMigrateTest, ACliThatLosesTheApiServerLeavesTheCopyRunningAndResumeFollowsIt) {
  const std::string ns = "apilost";
  install(ns);
  const std::string source_digest = load_tables(kTables);
  PgServer pg_target(pod_network_target());
  const std::string pg_target_uri = add_migrator(pg_target);
  FerretDb mongo_target(FerretDb::Options{.user = "migrator", .password = kTargetPassword, .host = TestCluster::kNodeIp});
  ScratchDir dir("decant-node-apilost");
  auto args = image_args(ns, {"--pg-target", pg_target_uri, "--mongo-target", mongo_target.uri()}, dir,
                         {"--chart", cluster_->chart_dir().string(), "--jobs", "1"});
  TcpProxy proxy(cluster_->api_port());
  auto run = migrate_in_background(args, dir / "run", cluster_->kubeconfig_through(proxy.port()).string());
  wait_while_running(*run, [&] { return tables_journalled(pg_target) >= 2; }, 300);
  ASSERT_TRUE(run->running()) << "the copy ended before the API server could be lost: " << run->out() << run->err();
  proxy.cut();
  int code = run->wait();
  EXPECT_EQ(code, code_of(ExitCode::unreachable)) << run->out() << run->err();
  EXPECT_NE(run->err().find("lost the connection to the API server"), std::string::npos) << run->err();
  EXPECT_NE(run->err().find("the copies go on in the cluster"), std::string::npos) << run->err();
  // Nothing was rolled back: the application is down, the copies' Jobs and the record are there.
  auto frontend = json::parse(cluster_->must_kubectl({"-n", ns, "get", "deployment", "frontend", "-o", "json"}));
  EXPECT_EQ(frontend["spec"]["replicas"], 0);
  EXPECT_TRUE(cluster_->exists(ns, "job/decant-migrate-copy-postgresql"));
  EXPECT_TRUE(cluster_->exists(ns, "configmap/decant-migrate"));

  args.push_back("--resume");
  auto r = cluster_->decant("migrate", args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("following the Job decant-migrate-copy-postgresql of this run"), std::string::npos) << r.err;
  EXPECT_EQ(pg_target.value(digest_query(kTables), "circle"), source_digest);
  EXPECT_EQ(sorted_documents(mongo_target.uri(), "circle_ghe", "builds").size(), 2000u);
  EXPECT_FALSE(cluster_->exists(ns, "job/decant-migrate-copy-postgresql"));
  EXPECT_FALSE(cluster_->exists(ns, "secret/decant-migrate-copy-postgresql"));
}

// An image the node cannot run is found by plan's probe pod, before any downtime: one line
// naming the pod's reason, nothing changed, no Job or Secret left.
TEST_F(NodeMigrateTest, AnImageTheNodeDoesNotHaveIsOneLineBeforeAnyDowntime) {
  const std::string ns = "noimage";
  install(ns);
  PgServer pg_target(pod_network_target());
  const std::string pg_target_uri = add_migrator(pg_target);
  ScratchDir dir("decant-node-noimage");
  auto r = cluster_->decant("migrate", {"-n", ns, "--pg-target", pg_target_uri, "--image", "local/no-such-image:1",
                                        "--image-pull-policy", "Never", "--allow-single-server", "--state-dir",
                                        (dir / "state").string(), "--wait-timeout", "120"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::cluster_failed)) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot start: ErrImageNeverPull"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << r.err;
  EXPECT_FALSE(cluster_->exists(ns, "job/decant-plan-probe"));
  EXPECT_FALSE(cluster_->exists(ns, "secret/decant-plan-probe"));
  EXPECT_FALSE(cluster_->exists(ns, "configmap/decant-migrate"));
  auto frontend = json::parse(cluster_->must_kubectl({"-n", ns, "get", "deployment", "frontend", "-o", "json"}));
  EXPECT_EQ(frontend["status"]["readyReplicas"], 2);
}

// decant's image refuses to work for a CLI of another version, before it touches anything.
TEST_F(NodeMigrateTest, TheImageRefusesACliOfAnotherVersion) {
  const std::string ns = "version";
  cluster_->must_kubectl({"create", "namespace", ns});
  cluster_->must_kubectl({"-n", ns, "run", "probe", "--image=" + std::string(kImage), "--image-pull-policy=Never",
                          "--restart=Never", "--env=DECANT_EXPECT_VERSION=0.0.1", "--", "pg", "copy", "--source",
                          "host=nowhere", "--target", "host=nowhere"});
  std::string code;
  for (int i = 0; i < 120 && code.empty(); ++i) {
    code = cluster_->must_kubectl({"-n", ns, "get", "pod", "probe", "-o",
                                   "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}"});
    if (code.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(code, std::to_string(code_of(ExitCode::missing_tool)));
  auto log = cluster_->must_kubectl({"-n", ns, "logs", "probe"});
  EXPECT_NE(log.find("this image is decant 0.1.0, the CLI that started it is decant 0.0.1"), std::string::npos) << log;
}

}  // namespace
}  // namespace decant::test
