// decant plan against a real control plane (tests/integration/k8s_cluster.hpp) running
// the stand-in CircleCI Server chart, whose internal PostgreSQL (12 when installed, as
// CircleCI Server ships it) and MongoDB (FerretDB) are local servers behind mapped pods.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "k8s_fixture.hpp"

namespace decant::test {
namespace {

namespace fs = std::filesystem;

nlohmann::json json_of(const std::string& text) { return nlohmann::json::parse(text); }

class PlanTest : public StandinTest {};

TEST_F(PlanTest, FindsTheReleaseTheDatabasesAndTheTargetsAndIsReady) {
  PgServer target_pg(supported_target());
  FerretDb target_mongo;
  auto r = plan({"--pg-target", target_pg.conninfo(), "--mongo-target", target_mongo.uri(), "--allow-single-server",
                 "--daily-active-users", "120", "--output", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_no_secrets(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["ready"].get<bool>());
  EXPECT_EQ(j["release"]["name"], "circleci-server");
  EXPECT_EQ(j["release"]["revision"], 1);
  EXPECT_EQ(j["release"]["values"]["postgresql"]["auth"]["password"], "<redacted>");
  EXPECT_EQ(j["applications"].size(), 4u);
  EXPECT_EQ(j["postgresql"]["credentials"]["secret"], "postgresql");
  EXPECT_EQ(j["postgresql"]["credentials"]["key"], "postgresql-password");
  EXPECT_EQ(j["mongodb"]["credentials"]["key"], "mongodb-root-password");
  EXPECT_EQ(j["postgresql"]["copy"]["source_major"], source_pg_->major());
  bool circle = false;
  for (const auto& d : j["postgresql"]["copy"]["databases"])
    if (d["name"] == "circle") {
      circle = true;
      EXPECT_EQ(d["tables"], 2);
      EXPECT_GE(d["rows_estimate"].get<int>(), 5000);
    }
  EXPECT_TRUE(circle) << r.out;
  EXPECT_EQ(j["mongodb"]["copy"]["documents"], 3);
  EXPECT_EQ(j["sizing"]["disk_gb"], 200);
  EXPECT_GT(j["estimate"]["sample_bytes_per_second"].get<double>(), 0);
  // The application's restart as the cluster measured it (kwok's pods are ready as soon as
  // they are made), not a fixed guess.
  EXPECT_TRUE(j["estimate"]["restart_measured"].get<bool>()) << j["estimate"] << r.err;
  EXPECT_LT(j["estimate"]["restart_seconds"].get<double>(), 30);
  EXPECT_NEAR(j["estimate"]["downtime_seconds"].get<double>(),
              j["estimate"]["copy_seconds"].get<double>() + 10 + j["estimate"]["restart_seconds"].get<double>(), 0.01);
  EXPECT_GT(j["estimate"]["copy_seconds"].get<double>(), 0);
  std::string checks = j["checks"].dump();
  EXPECT_NE(checks.find("PostgreSQL target reached and logged into from inside the cluster"), std::string::npos) << checks;
  EXPECT_TRUE(says(checks, "MongoDB target 127.0.0.1:" + std::to_string(target_mongo.port()) + " reached from inside"));
  // FerretDB reports no privileges to check (tests/unit/mongo_privileges_test.cpp has MongoDB's).
  EXPECT_NE(checks.find("the login's privileges for the copy: not checked: the server reports none"), std::string::npos)
      << checks;
  // The internal databases were only read.
  EXPECT_EQ(source_pg_->value("SELECT count(*) FROM builds", "circle"), "5000");
  EXPECT_FALSE(target_pg.database_exists("circle"));

  auto text = plan({"--pg-target", target_pg.conninfo(), "--allow-single-server"});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_NE(text.out.find("ready: nothing blocks"), std::string::npos) << text.out;
  // The flag given is not suggested again.
  EXPECT_EQ(text.out.find("or accept a single server with --allow-single-server"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("password in Secret postgresql key postgresql-password"), std::string::npos) << text.out;
}

TEST_F(PlanTest, ATargetWithoutAStandbyBlocksUnlessASingleServerIsAccepted) {
  PgServer target_pg(supported_target());
  auto r = plan({"--pg-target", target_pg.conninfo()});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::cluster_mismatch)) << r.out << r.err;
  EXPECT_NE(r.out.find("blocker: the PostgreSQL target has no streaming standby"), std::string::npos) << r.out;
}

TEST_F(PlanTest, TheTargetsPasswordNeverShowsAndAWrongOneIsABlocker) {
  PgServer target_pg(supported_target({.password_auth = true}));
  target_pg.exec("CREATE ROLE migrator LOGIN SUPERUSER PASSWORD 'target-Pw-1'");
  std::string good = "host=127.0.0.1 port=" + std::to_string(target_pg.port()) +
                     " dbname=postgres user=migrator password=target-Pw-1";
  auto ok = plan({"--pg-target", good, "--allow-single-server"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  expect_no_secrets(ok);
  std::string bad = "host=127.0.0.1 port=" + std::to_string(target_pg.port()) +
                    " dbname=postgres user=migrator password=wrong-one";
  auto r = plan({"--pg-target", bad, "--allow-single-server"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::auth)) << r.out << r.err;
  EXPECT_EQ(r.out.find("wrong-one"), std::string::npos);
}

TEST_F(PlanTest, ATargetThatIsTheSourceIsABlocker) {
  auto r = plan({"--pg-target", "host=localhost port=" + std::to_string(source_pg_->port()) + " user=postgres dbname=postgres",
                 "--allow-single-server"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::same_server)) << r.out << r.err;
  EXPECT_NE(r.out.find("is the source server"), std::string::npos) << r.out;
}

TEST_F(PlanTest, AnUnreachableTargetIsABlockerFromDecantAndFromTheCluster) {
  int closed = free_port();
  auto r = plan({"--pg-target", "host=127.0.0.1 port=" + std::to_string(closed) + " user=postgres dbname=postgres "
                                "connect_timeout=3",
                 "--allow-single-server"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::unreachable)) << r.out << r.err;
  EXPECT_NE(r.out.find("not usable from inside the cluster (psql in postgresql-0)"), std::string::npos) << r.out;
  auto m = plan({"--mongo-target", "mongodb://127.0.0.1:" + std::to_string(closed) + "/?serverSelectionTimeoutMS=2000"});
  EXPECT_EQ(m.exit_code, code_of(ExitCode::unreachable)) << m.out << m.err;
  EXPECT_NE(m.out.find("is not usable from inside the cluster (mongodb-0)"), std::string::npos) << m.out;
}

TEST_F(PlanTest, ANonEmptyTargetBlocksUnlessItWouldBeReplaced) {
  PgServer target_pg(supported_target());
  target_pg.exec("CREATE DATABASE circle");
  target_pg.exec("CREATE TABLE leftover (id int); INSERT INTO leftover VALUES (1)", "circle");
  auto r = plan({"--pg-target", target_pg.conninfo(), "--allow-single-server"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::target_not_empty)) << r.out << r.err;
  auto clean = plan({"--pg-target", target_pg.conninfo(), "--allow-single-server", "--clean"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(target_pg.value("SELECT count(*) FROM leftover", "circle"), "1") << "plan wrote to the target";
}

// migrate runs plan's checks before any downtime and stops at the first blocker, with
// its code, having changed nothing.
TEST_F(PlanTest, MigrateStopsAtTheFirstBlockerWithItsCodeAndChangesNothing) {
  PgServer occupied(supported_target());
  occupied.exec("CREATE DATABASE circle");
  occupied.exec("CREATE TABLE leftover (id int); INSERT INTO leftover VALUES (1)", "circle");
  PgServer locked(supported_target({.password_auth = true}));
  locked.exec("CREATE ROLE migrator LOGIN SUPERUSER PASSWORD 'target-Pw-1'");
  struct Case {
    ExitCode code;
    std::string target;
  };
  // migrate wants the password the application will use; these servers trust the login.
  const std::vector<Case> cases{
      {ExitCode::target_not_empty, occupied.conninfo() + " password=unused-Pw-1"},
      {ExitCode::same_server, "host=localhost port=" + std::to_string(source_pg_->port()) +
                                  " user=postgres dbname=postgres password=unused-Pw-1"},
      {ExitCode::auth, "host=127.0.0.1 port=" + std::to_string(locked.port()) +
                           " dbname=postgres user=migrator password=wrong-one"},
      {ExitCode::unreachable, "host=127.0.0.1 port=" + std::to_string(free_port()) +
                                  " user=postgres dbname=postgres connect_timeout=3 password=unused-Pw-1"},
  };
  ScratchDir state("decant-migrate-blocked");
  for (const auto& c : cases) {
    SCOPED_TRACE(exit_code_name(c.code));
    auto r = decant_on_cluster("migrate", {"--pg-target", c.target, "--allow-single-server", "--state-dir",
                                           (state / "state").string(), "--wait-timeout", "60", "--data-path", "local"});
    EXPECT_EQ(r.exit_code, code_of(c.code)) << r.out << r.err;
    EXPECT_NE(r.err.find("nothing was changed"), std::string::npos) << r.err;
    EXPECT_EQ(cluster_->kubectl({"-n", kNs, "get", "configmap", "decant-migrate"}).exit_code == 0, false);
    EXPECT_EQ(json_of(cluster_->must_kubectl({"-n", kNs, "get", "deployment", "frontend", "-o", "json"}))["spec"]["replicas"],
              2);
  }
  EXPECT_EQ(occupied.value("SELECT count(*) FROM leftover", "circle"), "1") << "migrate wrote to the target";
}

TEST_F(PlanTest, BadInputGetsOneLineAndItsOwnExitCode) {
  PgServer target_pg(supported_target());
  auto target = target_pg.conninfo();
  struct Case {
    std::vector<std::string> args;
    ExitCode code;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"-n", "nowhere", "--pg-target", target}, ExitCode::cluster_mismatch, "the namespace nowhere does not exist"},
      {{"--context", "nope", "--pg-target", target}, ExitCode::usage, "context"},
      {{"--release", "other", "--pg-target", target}, ExitCode::cluster_mismatch, "no Helm release other"},
      {{"--kubectl", "/nonexistent/kubectl", "--pg-target", target}, ExitCode::missing_tool, "kubectl"},
      {{}, ExitCode::usage, "no --pg-target and no --mongo-target"},
      {{"--pg-target", "postgresql://[bad"}, ExitCode::usage, "target"},
      {{"-n", "default", "--pg-target", target}, ExitCode::cluster_mismatch, "no Helm release in the namespace default"},
  };
  for (const auto& c : cases) {
    auto r = plan(c.args);
    EXPECT_EQ(r.exit_code, code_of(c.code)) << testing::PrintToString(c.args) << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  // An API server that does not answer.
  ScratchDir dead_dir("decant-kubeconfig");
  auto dead = dead_dir / "kubeconfig";
  {
    std::ofstream out(dead);
    out << "apiVersion: v1\nkind: Config\nclusters:\n- name: d\n  cluster:\n    server: https://127.0.0.1:"
        << free_port() << "\ncontexts:\n- name: d\n  context: {cluster: d, user: u}\ncurrent-context: d\nusers:\n- name: u\n"
        << "  user: {token: t}\n";
  }
  auto r = plan({"--pg-target", target}, dead.string());
  EXPECT_EQ(r.exit_code, code_of(ExitCode::unreachable)) << r.out << r.err;
}

TEST_F(PlanTest, TheNewerKeySpellingInAnExistingSecretIsFound) {
  const std::string ns = "other";
  cluster_->must_kubectl({"create", "namespace", ns});
  cluster_->must_kubectl({"-n", ns, "create", "secret", "generic", "my-pg", std::string("--from-literal=postgres-password=") + kPgPassword});
  map_databases(ns);
  cluster_->install_chart(ns, "cci", {"postgresql.auth.existingSecret=my-pg",
                                      std::string("mongodb.auth.rootPassword=") + kMongoPassword});
  PgServer target_pg(supported_target());
  auto r = plan({"-n", ns, "--pg-target", target_pg.conninfo(), "--allow-single-server", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["release"]["name"], "cci");
  EXPECT_EQ(j["postgresql"]["credentials"]["secret"], "my-pg");
  EXPECT_EQ(j["postgresql"]["credentials"]["key"], "postgres-password");

  // A Secret without the key: one line naming the keys tried.
  cluster_->must_kubectl({"-n", ns, "patch", "secret", "my-pg", "--type=json",
                          R"(-p=[{"op":"remove","path":"/data/postgres-password"}])"});
  auto missing = plan({"-n", ns, "--pg-target", target_pg.conninfo(), "--allow-single-server"});
  EXPECT_EQ(missing.exit_code, code_of(ExitCode::cluster_mismatch)) << missing.out << missing.err;
  EXPECT_TRUE(says(missing.err, "the postgresql password is not in the Secret my-pg (keys tried: postgres-password, "
                                "postgresql-password)"));
}

TEST_F(PlanTest, AUserWithoutTheRightsMigrateNeedsIsBlockedBeforeAnyDowntime) {
  cluster_->must_kubectl({"-n", kNs, "create", "serviceaccount", "viewer"});
  cluster_->must_kubectl({"-n", kNs, "create", "role", "viewer", "--verb=get,list",
                          "--resource=secrets,deployments,statefulsets,services,pods,configmaps"});
  cluster_->must_kubectl({"-n", kNs, "create", "role", "viewer-forward", "--verb=create",
                          "--resource=pods/portforward,pods/exec"});
  cluster_->must_kubectl({"-n", kNs, "create", "rolebinding", "viewer", "--role=viewer",
                          "--serviceaccount=" + std::string(kNs) + ":viewer"});
  cluster_->must_kubectl({"-n", kNs, "create", "rolebinding", "viewer-forward", "--role=viewer-forward",
                          "--serviceaccount=" + std::string(kNs) + ":viewer"});
  auto kubeconfig = cluster_->service_account_kubeconfig(kNs, "viewer");
  PgServer target_pg(supported_target());
  auto r = plan({"--pg-target", target_pg.conninfo(), "--allow-single-server"}, kubeconfig.string());
  EXPECT_EQ(r.exit_code, code_of(ExitCode::privileges)) << r.out << r.err;
  EXPECT_NE(r.out.find("cannot patch deployments/scale"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot create secrets"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("cannot get secrets"), std::string::npos) << r.out;
}

// The in-cluster path needs other rights than the local one: a user who may port-forward and
// exec but not run Jobs or read pods' logs is blocked on --image, before any pod is made.
TEST_F(PlanTest, AUserWhoCannotRunJobsIsBlockedOnTheInClusterPathBeforeAnyPod) {
  const std::string user = "forwarder";
  cluster_->must_kubectl({"-n", kNs, "create", "serviceaccount", user});
  cluster_->must_kubectl({"-n", kNs, "create", "role", user, "--verb=get,list,create,delete,patch",
                          "--resource=secrets,deployments,deployments/scale,statefulsets,services,pods,configmaps"});
  cluster_->must_kubectl({"-n", kNs, "create", "role", user + "-forward", "--verb=create",
                          "--resource=pods/portforward,pods/exec"});
  for (const std::string& role : {user, user + "-forward"})
    cluster_->must_kubectl({"-n", kNs, "create", "rolebinding", role, "--role=" + role,
                            "--serviceaccount=" + std::string(kNs) + ":" + user});
  auto kubeconfig = cluster_->service_account_kubeconfig(kNs, user);
  PgServer target_pg(supported_target());
  auto local = plan({"--pg-target", target_pg.conninfo(), "--allow-single-server", "--data-path", "local"},
                    kubeconfig.string());
  EXPECT_EQ(local.out.find("cannot create jobs"), std::string::npos) << local.out;
  auto r = plan({"--pg-target", target_pg.conninfo(), "--allow-single-server", "--image", "local/decant:0.1.0"},
                kubeconfig.string());
  EXPECT_EQ(r.exit_code, code_of(ExitCode::privileges)) << r.out << r.err;
  EXPECT_NE(r.out.find("cannot create jobs in the namespace " + std::string(kNs)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot get pods/log"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("cannot create pods/portforward"), std::string::npos) << r.out;
  EXPECT_FALSE(cluster_->exists(kNs, "job/decant-plan-probe"));
  EXPECT_FALSE(cluster_->exists(kNs, "secret/decant-plan-probe"));
}

// The other way round: a user who may run Jobs but not port-forward is blocked wherever the plan
// reads through port-forwards: --data-path local, and no path chosen (plan then reads locally
// and advises the in-cluster path).
TEST_F(PlanTest, AUserWhoCannotPortForwardIsBlockedOnlyWhereThePlanReadsLocally) {
  const std::string user = "jobrunner";
  cluster_->must_kubectl({"-n", kNs, "create", "serviceaccount", user});
  cluster_->must_kubectl({"-n", kNs, "create", "role", user, "--verb=get,list,create,delete,patch",
                          "--resource=secrets,deployments,deployments/scale,statefulsets,services,pods,pods/log,"
                          "configmaps,jobs"});
  cluster_->must_kubectl({"-n", kNs, "create", "rolebinding", user, "--role=" + user,
                          "--serviceaccount=" + std::string(kNs) + ":" + user});
  auto kubeconfig = cluster_->service_account_kubeconfig(kNs, user);
  PgServer target_pg(supported_target());
  for (const std::vector<std::string>& path : {std::vector<std::string>{"--data-path", "local"}, std::vector<std::string>{}}) {
    std::vector<std::string> args{"--pg-target", target_pg.conninfo(), "--allow-single-server"};
    args.insert(args.end(), path.begin(), path.end());
    auto r = plan(args, kubeconfig.string());
    EXPECT_EQ(r.exit_code, code_of(ExitCode::privileges)) << r.out << r.err;
    EXPECT_NE(r.out.find("cannot create pods/portforward in the namespace " + std::string(kNs)), std::string::npos)
        << r.out;
  }
}

// A namespace whose quota refuses the probe's pod: one line naming the refusal, before any
// downtime, and nothing of the probe left behind.
TEST_F(PlanTest, AQuotaThatRefusesThePodIsOneLineAndLeavesNothing) {
  cluster_->must_kubectl({"-n", kNs, "create", "quota", "no-more-pods", "--hard=pods=0"});
  PgServer target_pg(supported_target());
  auto r = plan({"--pg-target", target_pg.conninfo(), "--allow-single-server", "--image", "local/decant:0.1.0"});
  cluster_->must_kubectl({"-n", kNs, "delete", "quota", "no-more-pods"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::cluster_failed)) << r.out << r.err;
  const std::string said = r.out + r.err;
  EXPECT_NE(said.find("the cluster refuses the pod of the Job decant-plan-probe"), std::string::npos) << said;
  EXPECT_NE(said.find("exceeded quota"), std::string::npos) << said;
  EXPECT_FALSE(cluster_->exists(kNs, "job/decant-plan-probe"));
  EXPECT_FALSE(cluster_->exists(kNs, "secret/decant-plan-probe"));
}

// Each chart version reads its own row of CircleCI Server's requirements.
TEST_F(PlanTest, EachChartVersionChecksItsOwnReleasesRequirements) {
  PgServer target_pg(tls13());
  struct Case {
    std::string ns, chart_version, releases;
  };
  for (const auto& c : std::vector<Case>{{kNs, "", "4.8"}, {"v41", "4.1.10", "4.0-4.7"}, {"v49", "4.9.5", "4.9"},
                                         {"v410", "4.10.0", "4.10"}, {"v411", "4.11.0", "4.10"}}) {
    SCOPED_TRACE(c.ns);
    if (!c.chart_version.empty()) install_standin(c.ns, "circleci-server", {}, c.chart_version);
    auto r = plan({"-n", c.ns, "--pg-target", target_pg.conninfo(), "--allow-single-server", "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["requirements"]["releases"], c.releases);
    EXPECT_EQ(j["requirements"]["known"], c.chart_version != "4.11.0");
    std::string said = j["checks"].dump() + j["warnings"].dump();
    if (c.chart_version == "4.11.0") {
      EXPECT_NE(said.find("decant does not know what the chart circleci-server-4.11.0 requires"), std::string::npos)
          << said;
    }
    if (c.releases == "4.9" || c.releases == "4.10") {
      EXPECT_NE(said.find("the PostgreSQL target negotiates TLS 1.3"), std::string::npos) << said;
      EXPECT_NE(said.find("can install pg_partman 4.5.1"), std::string::npos) << said;
      EXPECT_NE(said.find("from inside the cluster (psql in postgresql-0, TLSv1.3)"), std::string::npos) << said;
    }
  }
}

TEST_F(PlanTest, APostgresqlMajorTheReleaseDoesNotSupportBlocksUnlessAccepted) {
  PgServer pg15;
  auto r = plan({"--pg-target", pg15.conninfo(), "--allow-single-server"});
  EXPECT_EQ(r.exit_code, code_of(ExitCode::unsupported_target)) << r.out << r.err;
  EXPECT_TRUE(says(r.out, "blocker: the PostgreSQL target runs PostgreSQL 15, which CircleCI Server 4.8 does not support"));
  auto accepted = plan({"--pg-target", pg15.conninfo(), "--allow-single-server", "--allow-unsupported-target"});
  EXPECT_EQ(accepted.exit_code, 0) << accepted.out << accepted.err;
  EXPECT_NE(accepted.out.find("warning: the PostgreSQL target runs PostgreSQL 15"), std::string::npos) << accepted.out;
}

// Server 4.10 authenticates with TLS 1.3 only: decant connects as the application does
// (TLS required) from its own machine and from the pod, and reads what was negotiated.
TEST_F(PlanTest, TlsBelowOnePointThreeOrNoneBlocksWhereTheReleaseRequiresIt) {
  const std::string ns = "tls";
  install_standin(ns, "circleci-server", {}, "4.10.0");
  PgServer tls12(supported_target({.tls = true, .tls_max_protocol = "TLSv1.2"}));
  auto r12 = plan({"-n", ns, "--pg-target", tls12.conninfo(), "--allow-single-server"});
  EXPECT_EQ(r12.exit_code, code_of(ExitCode::unsupported_target)) << r12.out << r12.err;
  EXPECT_TRUE(says(r12.out, "blocker: the PostgreSQL target negotiates TLS 1.2, and CircleCI Server 4.10 authenticates "
                            "with TLS 1.3 only; set ssl = on with the server's certificate"));
  EXPECT_NE(r12.out.find("ssl_min_protocol_version = 'TLSv1.3'"), std::string::npos) << r12.out;
  EXPECT_NE(r12.out.find("from inside the cluster the PostgreSQL target negotiates TLSv1.2"), std::string::npos)
      << r12.out;

  PgServer plain(supported_target());
  auto none = plan({"-n", ns, "--pg-target", plain.conninfo(), "--allow-single-server"});
  EXPECT_EQ(none.exit_code, code_of(ExitCode::unsupported_target)) << none.out << none.err;
  EXPECT_NE(none.out.find("blocker: the PostgreSQL target accepts no TLS connection"), std::string::npos) << none.out;

  PgServer tls(tls13());
  auto ok = plan({"-n", ns, "--pg-target", tls.conninfo() + " sslmode=disable", "--allow-single-server"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(says(ok.out, "ok: the PostgreSQL target negotiates TLS 1.3 (CircleCI Server 4.10 requires TLS 1.3)"));
}

// Server 4.9+ needs pg_partman 4.5.x on the target: one that offers only 5.x is refused,
// by the release's requirements and by the copy that would keep the source's 4.5.1.
TEST_F(PlanTest, ATargetOfferingOnlyPgPartman5IsRefusedAndMongoDbIsCheckedAgainstTheRelease) {
  const std::string ns = "partman";
  install_standin(ns, "circleci-server", {}, "4.10.0");
  PartitionedSourceDatabase partitions("partitions", 80);
  auto only_5 = tls13();
  only_5.extensions = {extension_bundle("pg_partman", "5.2.4")};
  PgServer target(only_5);
  FerretDb mongo;
  auto r = plan({"-n", ns, "--pg-target", target.conninfo(), "--mongo-target", mongo.uri(), "--allow-single-server"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(says(r.out, "blocker: the PostgreSQL target cannot install pg_partman 4.5.x (it offers 5.2.4 (default)); "
                          "CircleCI Server 4.10 requires pg_partman 4.5.x (5.x is not supported)"));
  EXPECT_NE(r.out.find("uses the extension pg_partman 4.5.1, which the target offers only at"), std::string::npos)
      << r.out;
  EXPECT_TRUE(says(r.out, "ok: the MongoDB target runs 7.0.42 (CircleCI Server 4.10 requires 7.0 or newer)"));
  EXPECT_NE(r.out.find("ok: the MongoDB target's featureCompatibilityVersion is 7.0"), std::string::npos) << r.out;
  EXPECT_FALSE(target.database_exists("partitions"));
}

}  // namespace
}  // namespace decant::test
