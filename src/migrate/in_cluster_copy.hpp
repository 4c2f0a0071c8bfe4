#pragma once
// migrate's copies run in the cluster (--image): a Job of decant's own image per database in
// the release's namespace, both at once. decant in the pod reads
// the internal databases by their Services and writes the targets directly; this process
// only talks to the API server and relays what the containers print (their progress
// lines and summary tables). The credentials reach the pod through the Job's Secret
// (DecantJob), read with `env:NAME`.
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <optional>

#include "engine/run_options.hpp"
#include "k8s/cluster.hpp"
#include "migrate/plan.hpp"
#include "migrate/release.hpp"

namespace decant::migrate {

struct InClusterCopy {
  const k8s::Cluster& cluster;
  const PlanOptions& plan;      // the targets, --clean/--drop, --mongo-db, the image
  const ReleaseState& release;  // the internal databases and their credentials
  engine::RunOptions run;       // --jobs (each copy's), --progress-interval
  std::chrono::seconds timeout{std::chrono::hours(24)};
  // Names the copies' run in their journals on the targets and on the Job: the Job's next
  // pod, or a Job started again with it (migrate --resume), continues where they stopped.
  std::string run_id;
  // Handed each copy's report (by its container: "postgresql", "mongodb") that its pod's log
  // carried whole, whatever the copy's outcome.
  std::function<void(const std::string& container, const nlohmann::json& report)> on_report;
};

// The CLI lost the API server while the copies go on in the cluster: nothing can be rolled
// back from here, and `migrate --resume` follows the same Job.
struct CopyGoesOnInCluster : Error {
  using Error::Error;
};

// Runs the copies the options ask for (or follows the Job of the same run already running);
// returns when both verified. Throws the Error of the first copy that failed (its exit
// code), the cluster's, or CopyGoesOnInCluster.
void copy_in_cluster(const InClusterCopy& copy);

// Once the release points at the targets, nothing asks for the copies' run again: a Job of
// the image drops their journals on the targets (each copy with --forget-run, which drops
// only a journal that records this run complete), needing neither the internal databases
// nor their Services, which the upgrade removes; waits for it at most `copy.timeout`.
// Throws the first failure.
void forget_copies_in_cluster(const InClusterCopy& copy);

// Deletes the copies' Jobs (and their pods and Secrets) that a migration of this namespace left
// running (its CLI lost the API server): what --rollback does first.
void stop_copies_in_cluster(const k8s::Cluster& cluster);

// What a pod of decant's image needs to reach the databases the options move: the sources by
// their Services (with the release's credentials) and the targets, as the variables of the
// Job's Secret (kPgSourceVariable, ...), read in the pod with `env:NAME`.
std::map<std::string, std::string> data_path_variables(const k8s::Cluster& cluster, const PlanOptions& options,
                                                       const ReleaseState& release);
inline constexpr const char* kPgSourceVariable = "DECANT_PG_SOURCE";
inline constexpr const char* kPgTargetVariable = "DECANT_PG_TARGET";
inline constexpr const char* kMongoSourceVariable = "DECANT_MONGO_SOURCE";
inline constexpr const char* kMongoTargetVariable = "DECANT_MONGO_TARGET";
// "env:NAME", as decant's connection options read a variable.
inline std::string from_env(const char* variable) { return std::string("env:") + variable; }

// The Jobs' names: one in-cluster copy per database (and one plan probe) per namespace at
// a time; a copy's Job is named by its container ("decant-migrate-copy-postgresql").
inline constexpr const char* kCopyJobPrefix = "decant-migrate-copy-";
std::string copy_job_name(const std::string& container);
inline constexpr const char* kProbeJobName = "decant-plan-probe";
inline constexpr const char* kForgetJobName = "decant-migrate-forget";
// Each in-cluster copy's --jobs when migrate is given none.
inline constexpr int kDefaultCopyJobs = 4;
// Each database's copy by name: its Job's container, and its report's key in migrate's.
inline constexpr const char* kPgCopyName = "postgresql";
inline constexpr const char* kMongoCopyName = "mongodb";

}  // namespace decant::migrate
