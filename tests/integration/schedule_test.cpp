// `decant backup schedule` against the real kube-apiserver of the test cluster: its
// CronJobs pass `kubectl apply --dry-run=server`, hold no credential, and the command line
// of each (args and env, Secrets resolved, mounted keys remapped to files here) does what
// it says against the test servers: the daily create into S3 (versitygw), the prune, and
// the weekly verify restoring into scratch servers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "crypto/age.hpp"
#include "k8s_fixture.hpp"
#include "s3_server.hpp"

namespace decant::test {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

class ScheduleTest : public StandinTest {};

// Replaces every occurrence of `from` in `text`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

TEST_F(ScheduleTest, CronJobsPassTheApiServerAndTheirCommandLinesWork) {
  S3Server store;
  fs::path work = make_temp_dir("decant-schedule-test");
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
  for (const char* name : {"decant-backup-create", "decant-backup-prune", "decant-backup-verify"})
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
  PgServer scratch_pg;
  FerretDb scratch_mongo;

  auto as_json = args;
  as_json.insert(as_json.end(), {"--format", "json"});
  auto listed = run_decant(as_json);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto items = json::parse(listed.out).at("items");
  ASSERT_EQ(items.size(), 3u);
  auto run_job = [&](const json& cron_job) {
    EXPECT_EQ(cron_job["spec"]["concurrencyPolicy"], "Forbid");
    const json& container = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
    std::vector<std::string> job_args;
    for (const auto& a : container["args"]) {
      std::string arg = replaced(a.get<std::string>(), "/etc/decant/", (work / "keys").string() + "/");
      arg = replaced(arg, "/var/lib/decant", (work / "state").string());
      arg = replaced(arg, "postgresql://postgres@127.0.0.1:5432/postgres", scratch_pg.uri());
      arg = replaced(arg, "mongodb://127.0.0.1:27017/", scratch_mongo.uri());
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
  auto created = run_job(items[0]);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.err.find(kMongoPassword), std::string::npos);
  auto pruned = run_job(items[1]);
  EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
  auto verified = run_job(items[2]);
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(scratch_pg.value("SELECT count(*) FROM builds", "circle"), "5000");
  EXPECT_EQ(scratch_mongo.documents("circle_ghe", "builds").size(), 3u);
  std::error_code ec;
  fs::remove_all(work, ec);
}

}  // namespace
}  // namespace decant::test
