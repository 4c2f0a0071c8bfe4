#include "backup/schedule.hpp"

#include <fmt/format.h>

#include <fstream>

#include "common/error.hpp"
#include "k8s/pod_security.hpp"
#include "k8s/yaml.hpp"

namespace decant::backup {
namespace {

using nlohmann::ordered_json;

constexpr const char* kKeysDir = "/etc/decant";  // where the age keys' Secrets are mounted
constexpr const char* kStateDir = "/var/lib/decant";

ordered_json secret_env(const std::string& name, const std::string& secret, const std::string& key, bool optional = false) {
  ordered_json ref = {{"name", secret}, {"key", key}};
  if (optional) ref["optional"] = true;
  return {{"name", name}, {"valueFrom", {{"secretKeyRef", ref}}}};
}

// --repo and the S3 options, as the job passes them, and the store's credentials.
void add_repository(const ScheduleOptions& o, std::vector<std::string>& args, ordered_json& env) {
  args.insert(args.end(), {"--repo", o.repo.url});
  if (!o.repo.s3_endpoint.empty()) args.insert(args.end(), {"--s3-endpoint", o.repo.s3_endpoint});
  if (!o.repo.s3_region.empty()) args.insert(args.end(), {"--s3-region", o.repo.s3_region});
  if (o.repo.s3_addressing != "path") args.insert(args.end(), {"--s3-addressing", o.repo.s3_addressing});
  if (o.s3_secret) {
    env.push_back(secret_env("AWS_ACCESS_KEY_ID", *o.s3_secret, "AWS_ACCESS_KEY_ID"));
    env.push_back(secret_env("AWS_SECRET_ACCESS_KEY", *o.s3_secret, "AWS_SECRET_ACCESS_KEY"));
    env.push_back(secret_env("AWS_SESSION_TOKEN", *o.s3_secret, "AWS_SESSION_TOKEN", true));
  }
}

ordered_json secret_volume(const std::string& name, const std::string& secret) {
  return {{"name", name}, {"secret", {{"secretName", secret}, {"defaultMode", 0400}}}};
}

// One decant command in a pod: its arguments, the environment and mounts it reads.
struct Step {
  std::vector<std::string> args;
  ordered_json env = ordered_json::array();
  ordered_json mounts = ordered_json::array();
};

struct Job {
  std::string suffix, schedule, component;
  Step step = {};
  ordered_json volumes = ordered_json::array();
  ordered_json init_containers = ordered_json::array();  // steps before, then native sidecars (they keep running)
  bool suspended = false;  // never runs on its schedule: a template for `kubectl create job --from=cronjob/...`
};

ordered_json decant_container(const ScheduleOptions& o, const std::string& name, Step step) {
  // The root file system is read-only: resume state and the like go to an emptyDir.
  step.env.push_back({{"name", "HOME"}, {"value", kStateDir}});
  step.mounts.push_back({{"name", "state"}, {"mountPath", kStateDir}});
  return {{"name", name},
          {"image", o.image},
          {"args", step.args},
          {"env", step.env},
          {"volumeMounts", step.mounts},
          {"securityContext", k8s::restricted_container_security(k8s::kDecantUid, true)}};
}

ordered_json cron_job(const ScheduleOptions& o, Job job) {
  job.volumes.push_back({{"name", "state"}, {"emptyDir", ordered_json::object()}});
  // Fits the `restricted` Pod Security Standard, sidecars included.
  ordered_json pod = {{"restartPolicy", "Never"}, {"securityContext", k8s::restricted_pod_security(k8s::kDecantUid)}};
  if (!job.init_containers.empty()) pod["initContainers"] = job.init_containers;
  pod["containers"] = ordered_json::array({decant_container(o, "decant", job.step)});
  pod["volumes"] = job.volumes;
  ordered_json labels = {{"app.kubernetes.io/name", "decant"}, {"app.kubernetes.io/component", job.component}};
  ordered_json pod_template = {{"metadata", {{"labels", labels}}}, {"spec", pod}};
  ordered_json job_spec = {{"backoffLimit", 1}, {"template", pod_template}};
  ordered_json spec = {{"schedule", job.schedule},
                       {"suspend", job.suspended},
                       {"concurrencyPolicy", "Forbid"},  // never two runs on one repository at once
                       {"startingDeadlineSeconds", 3600},
                       {"successfulJobsHistoryLimit", 3},
                       {"failedJobsHistoryLimit", 5},
                       {"jobTemplate", {{"metadata", {{"labels", labels}}}, {"spec", job_spec}}}};
  ordered_json metadata = {{"name", o.name_prefix + "-" + job.suffix}, {"namespace", o.namespace_name}, {"labels", labels}};
  return {{"apiVersion", "batch/v1"}, {"kind", "CronJob"}, {"metadata", metadata}, {"spec", spec}};
}

// The user the official postgres and mongo images run their servers as.
constexpr int kScratchServerUid = 999;

// A scratch server in the verify pod: started before decant, stopped with the pod; as its
// image's own non-root user, its data in an emptyDir the pod's fsGroup makes writable.
ordered_json scratch_sidecar(const std::string& name, const std::string& image, const ordered_json& env,
                             ordered_json started_when, const std::string& data_dir) {
  started_when["periodSeconds"] = 2;
  started_when["failureThreshold"] = 150;
  return {{"name", name},
          {"image", image},
          {"restartPolicy", "Always"},
          {"env", env},
          {"securityContext", k8s::restricted_container_security(kScratchServerUid, false)},
          {"startupProbe", started_when},
          {"volumeMounts", ordered_json::array({{{"name", name + "-data"}, {"mountPath", data_dir}}})}};
}

// `backup create` of what the Secrets name, into the repository, for `reason`.
Step create_step(const ScheduleOptions& o, const std::string& reason, Job& job) {
  Step create{{"backup", "create"}};
  add_repository(o, create.args, create.env);
  if (o.pg_secret) {
    create.args.insert(create.args.end(), {"--pg", "env:DECANT_PG_URI"});
    create.env.push_back(secret_env("DECANT_PG_URI", *o.pg_secret, "uri"));
  }
  if (o.mongo_secret) {
    create.args.insert(create.args.end(), {"--mongo", "env:DECANT_MONGO_URI"});
    create.env.push_back(secret_env("DECANT_MONGO_URI", *o.mongo_secret, "uri"));
    for (const auto& db : o.mongo_databases) create.args.insert(create.args.end(), {"--mongo-db", db});
  }
  create.args.insert(create.args.end(), {"-R", std::string(kKeysDir) + "/recipients/recipients", "--reason", reason,
                                         "--state-dir", kStateDir});
  create.mounts.push_back({{"name", "recipients"}, {"mountPath", std::string(kKeysDir) + "/recipients"}, {"readOnly", true}});
  job.volumes.push_back(secret_volume("recipients", o.recipients_secret));
  return create;
}

// `backup verify` of the newest complete backup, restored into scratch servers that run beside
// it in the pod (native sidecars, started after the job's other init containers).
Step verify_step(const ScheduleOptions& o, Job& job) {
  Step verify{{"backup", "verify"}};
  add_repository(o, verify.args, verify.env);
  verify.args.insert(verify.args.end(), {"-i", std::string(kKeysDir) + "/identity/identity"});
  verify.mounts.push_back({{"name", "identity"}, {"mountPath", std::string(kKeysDir) + "/identity"}, {"readOnly", true}});
  job.volumes.push_back(secret_volume("identity", *o.identity_secret));
  if (o.pg_secret) {
    verify.args.insert(verify.args.end(), {"--restore-pg", "postgresql://postgres@127.0.0.1:5432/postgres"});
    job.init_containers.push_back(scratch_sidecar(
        "scratch-postgresql", o.scratch_pg_image,
        // initdb makes and owns PGDATA: a subdirectory of the volume, which it could not chmod.
        ordered_json::array({{{"name", "POSTGRES_HOST_AUTH_METHOD"}, {"value", "trust"}},
                             {{"name", "PGDATA"}, {"value", "/var/lib/postgresql/data/pgdata"}}}),
        {{"exec", {{"command", {"pg_isready", "-h", "127.0.0.1", "-U", "postgres"}}}}}, "/var/lib/postgresql/data"));
    job.volumes.push_back({{"name", "scratch-postgresql-data"}, {"emptyDir", ordered_json::object()}});
  }
  if (o.mongo_secret) {
    verify.args.insert(verify.args.end(), {"--restore-mongo", "mongodb://127.0.0.1:27017/"});
    // Listening is enough (decant waits for the server to select it): no shell needed in the
    // image, so mongo's older images (mongo, not mongosh) and other MongoDB servers serve too.
    job.init_containers.push_back(scratch_sidecar("scratch-mongodb", o.scratch_mongo_image, ordered_json::array(),
                                                  {{"tcpSocket", {{"port", 27017}}}}, "/data/db"));
    job.volumes.push_back({{"name", "scratch-mongodb-data"}, {"emptyDir", ordered_json::object()}});
  }
  return verify;
}

}  // namespace

std::vector<ordered_json> schedule_manifests(const ScheduleOptions& o) {
  if (o.image.empty()) throw Error(ExitCode::usage, "no --image", "give the decant image the jobs run");
  if (!o.pg_secret && !o.mongo_secret)
    throw Error(ExitCode::usage, "nothing to back up", "give --pg-secret and/or --mongo-secret");
  std::vector<ordered_json> out;

  Job create{"create", o.create_schedule, "backup"};
  create.step = create_step(o, "daily", create);
  out.push_back(cron_job(o, create));

  Job prune{"prune", o.prune_schedule, "prune"};
  prune.step.args = {"backup", "prune"};
  add_repository(o, prune.step.args, prune.step.env);
  prune.step.args.insert(prune.step.args.end(), {"--keep-days", std::to_string(o.keep_days), "--apply"});
  out.push_back(cron_job(o, prune));

  if (o.identity_secret) {
    Job verify{"verify", o.verify_schedule, "verify"};
    verify.step = verify_step(o, verify);
    out.push_back(cron_job(o, verify));

    // Before every upgrade: a backup made and fully verified in one Job, which `upgrade-check`
    // then finds. Suspended: it runs only when created from it. (Should another backup
    // complete between its create and its verify, the verify takes that one, and
    // upgrade-check refuses: it fails safe.)
    Job pre_upgrade{"pre-upgrade", o.create_schedule, "pre-upgrade"};
    pre_upgrade.suspended = true;
    pre_upgrade.init_containers.push_back(decant_container(o, "create", create_step(o, "pre-upgrade", pre_upgrade)));
    pre_upgrade.step = verify_step(o, pre_upgrade);
    out.push_back(cron_job(o, pre_upgrade));
  }
  return out;
}

int schedule(const ScheduleOptions& options) {
  auto manifests = schedule_manifests(options);
  std::string text;
  if (options.format == "json") {
    text = ordered_json({{"apiVersion", "v1"}, {"kind", "List"}, {"items", manifests}}).dump(2) + "\n";
  } else {
    text = "# decant backup schedule: apply with kubectl apply -f (credentials stay in the Secrets it names)\n" +
           k8s::to_yaml(manifests);
  }
  if (!options.out) {
    fmt::print("{}", text);
    return 0;
  }
  std::ofstream out(*options.out, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(ExitCode::local_io, "cannot write " + *options.out, "check --out");
  fmt::print(stderr, "wrote {} CronJob(s) to {}\n", manifests.size(), *options.out);
  return 0;
}

}  // namespace decant::backup
