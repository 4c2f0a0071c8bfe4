#pragma once
// The fixture of the cluster tests: one test cluster per suite, and the internal
// databases of the stand-in chart (PostgreSQL 12 offering pg_partman 4.5.1, as CircleCI
// Server ships it, and FerretDB) as local servers behind mapped pods of each namespace;
// external targets as CircleCI Server supports them.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "k8s_cluster.hpp"
#include "mongo_server.hpp"
#include "pg_fixture.hpp"
#include "pg_installation.hpp"
#include "pg_server.hpp"

namespace decant::test {

inline constexpr const char* kPgPassword = "pg-Internal-s3cret";
inline constexpr const char* kMongoPassword = "mongo-Internal-s3cret";
inline constexpr const char* kNs = "circleci-server";
// The targets' password in the cluster tests.
inline constexpr const char* kTargetPassword = "target-Pw-1";

// None of the cluster tests' passwords in decant's output.
inline void expect_no_cluster_secrets(const RunResult& r) {
  for (const char* secret : {kPgPassword, kMongoPassword, kTargetPassword}) {
    EXPECT_EQ(r.out.find(secret), std::string::npos) << "a password in stdout";
    EXPECT_EQ(r.err.find(secret), std::string::npos) << "a password in stderr";
  }
}

class StandinTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new TestCluster();
    if (!server_available(12) || !server_available(14) || extension_bundle("pg_partman", "4.5.1").empty())
      throw std::runtime_error("PostgreSQL 12 and 14 and pg_partman 4.5.1 are needed: run scripts/install-pg-versions.sh "
                               "and scripts/install-pg-extensions.sh");
    source_pg_ = new PgServer(PgServer::Options{.major = 12, .extensions = {extension_bundle("pg_partman", "4.5.1")}});
    source_pg_->exec("CREATE DATABASE circle");
    source_pg_->exec(
        "CREATE TABLE builds (id bigint PRIMARY KEY, status text); "
        "INSERT INTO builds SELECT g, 'success' FROM generate_series(1, 5000) g; "
        "CREATE TABLE projects (id int PRIMARY KEY, name text); INSERT INTO projects VALUES (1, 'decant'); ANALYZE",
        "circle");
    source_mongo_ = new FerretDb(FerretDb::Options{.user = "root", .password = kMongoPassword});
    source_mongo_->insert("circle_ghe", "builds", {R"({"_id": 1, "status": "success"})", R"({"_id": 2, "status": "failed"})",
                                                   R"({"_id": 3, "status": "running"})"});
    install_standin(kNs, "circleci-server");
  }
  static void TearDownTestSuite() {
    // Reset too: the next suite's SetUpTestSuite may throw before it sets them again.
    delete source_mongo_;
    source_mongo_ = nullptr;
    delete source_pg_;
    source_pg_ = nullptr;
    delete cluster_;
    cluster_ = nullptr;
  }
  static void map_databases(const std::string& ns) {
    std::string pg_port = std::to_string(source_pg_->port());
    cluster_->map_pod(ns, "postgresql-0",
                      {"5432=127.0.0.1:" + pg_port, "PGHOST=127.0.0.1", "PGPORT=" + pg_port,
                       "PATH=" + client_bin_dir(15) + ":/usr/bin:/bin"});
    cluster_->map_pod(ns, "mongodb-0", {"27017=127.0.0.1:" + std::to_string(source_mongo_->port())});
  }

  // The stand-in release `release` in `ns`, over the suite's internal databases; as
  // CircleCI Server `chart_version` when given (the chart's own: 4.8.0-standin).
  static void install_standin(const std::string& ns, const std::string& release, std::vector<std::string> values = {},
                              const std::string& chart_version = "") {
    map_databases(ns);
    values.push_back(std::string("postgresql.auth.password=") + kPgPassword);
    values.push_back(std::string("mongodb.auth.rootPassword=") + kMongoPassword);
    cluster_->install_chart(ns, release, values, chart_version);
  }

  // An external PostgreSQL as CircleCI Server supports it: 14, offering the source's
  // pg_partman 4.5.1 (and 5.2.4, its default, when installed); with `tls`, TLS 1.3 only.
  static PgServer::Options supported_target(PgServer::Options options = {}) {
    options.major = 14;
    options.extensions = {extension_bundle("pg_partman", "4.5.1")};
    if (auto newer = extension_bundle("pg_partman", "5.2.4"); !newer.empty()) options.extensions.push_back(newer);
    return options;
  }
  static PgServer::Options tls13(PgServer::Options options = {}) {
    options.tls = true;
    options.tls_min_protocol = "TLSv1.3";
    return supported_target(options);
  }

  RunResult plan(std::vector<std::string> args, const std::string& kubeconfig = "") {
    return decant_on_cluster("plan", std::move(args), kubeconfig);
  }
  // decant COMMAND on the test cluster (its kubeconfig, kubectl and helm).
  RunResult decant_on_cluster(const std::string& command, std::vector<std::string> args,
                              const std::string& kubeconfig = "") {
    return cluster_->decant(command, std::move(args), kubeconfig);
  }

  // A database `name` of pg_partman's daily partitions on the internal PostgreSQL, as
  // CircleCI Server's has, for the length of one test.
  struct PartitionedSourceDatabase {
    std::string name;
    PartitionedSourceDatabase(std::string db, int partitions) : name(std::move(db)) {
      load_partitioned_database(*source_pg_, name, {.partitions = partitions, .partman = "4.5.1"});
    }
    ~PartitionedSourceDatabase() {
      try {
        source_pg_->exec("DROP DATABASE IF EXISTS " + name);
      } catch (const std::exception&) {
        // The next suite starts a new server; nothing to undo.
      }
    }
  };

  static void expect_no_secrets(const RunResult& r) { expect_no_cluster_secrets(r); }

  static TestCluster* cluster_;
  static PgServer* source_pg_;
  static FerretDb* source_mongo_;
};


inline TestCluster* StandinTest::cluster_ = nullptr;
inline PgServer* StandinTest::source_pg_ = nullptr;
inline FerretDb* StandinTest::source_mongo_ = nullptr;

}  // namespace decant::test
