#pragma once
// `decant backup schedule`: the Kubernetes manifests that make the cluster take its own
// backups with the decant image: CronJobs for a daily `backup create`, a daily `prune
// --keep-days N --apply` and a weekly `verify` that restores into scratch PostgreSQL and
// MongoDB servers running beside it in the same pod (fresh each time, gone after).
// Every credential comes from a Secret (secretKeyRef, or a Secret volume for the age keys);
// none is in the manifests, and none reaches decant's argv (`--pg env:NAME`).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/repository.hpp"

namespace decant::backup {

struct ScheduleOptions {
  RepositoryOptions repo;
  std::string namespace_name = "circleci-server";
  std::string name_prefix = "decant-backup";
  std::string image;                 // the decant image (Dockerfile at the repository's root)
  std::optional<std::string> pg_secret;     // key "uri": a libpq URI with its password
  std::optional<std::string> mongo_secret;  // key "uri": a MongoDB connection string
  std::vector<std::string> mongo_databases;
  std::optional<std::string> s3_secret;  // keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN optional)
  std::string recipients_secret;         // key "recipients": age public keys, one per line
  std::optional<std::string> identity_secret;  // key "identity": the age identity the weekly verify opens backups with
  std::string create_schedule = "0 3 * * *";
  std::string prune_schedule = "30 4 * * *";
  std::string verify_schedule = "0 5 * * 0";
  int keep_days = 30;
  std::string scratch_pg_image = "postgres:17";
  std::string scratch_mongo_image = "mongo:7.0";
  std::string format = "yaml";              // or json (a List)
  std::optional<std::string> out;           // default: stdout
};

// The CronJobs, in order: create, prune, and when an identity Secret is given verify and the
// suspended pre-upgrade (create --reason pre-upgrade then verify, in one Job).
std::vector<nlohmann::ordered_json> schedule_manifests(const ScheduleOptions& options);
int schedule(const ScheduleOptions& options);

}  // namespace decant::backup
