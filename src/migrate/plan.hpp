#pragma once
// `decant plan`: everything `decant migrate` would do, checked without downtime and
// without writing anything: the release and its application layer, the internal
// databases' credentials and contents (through port-forwards), each external target's
// preflight from decant and from inside the cluster, the permissions migrate needs, the
// sizing advice for the daily active users, and the downtime to expect. Every blocker is
// one line that says what to do.
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "k8s/cluster.hpp"
#include "migrate/release.hpp"
#include "migrate/requirements.hpp"
#include "mongo/instance_copy.hpp"
#include "pg/instance_copy.hpp"

namespace decant::migrate {

struct PlanOptions {
  k8s::ClusterOptions cluster;
  std::optional<std::string> release;
  std::optional<std::string> pg_target;     // libpq URI of the external PostgreSQL
  std::optional<std::string> mongo_target;  // MongoDB URI of the external MongoDB
  std::vector<std::string> mongo_dbs{"circle_ghe"};
  bool all_mongo_dbs = false;
  std::optional<int> daily_active_users;
  bool allow_single_server = false;  // fewer than two PostgreSQL servers is a warning only
  // A PostgreSQL major the release does not support is a warning only (in the report).
  bool allow_unsupported_target = false;
  bool clean = false;                // what --clean / --drop would replace is no blocker
  bool drop = false;
  std::optional<std::string> pg_bin;
  std::set<std::string> extension_update;  // pg copy's --extension-update
  // Where migrate's copies run: in the cluster, a Job of decant's `image` (no byte passes
  // this machine), or "local"ly through kubectl port-forward (--data-path local).
  std::optional<std::string> image;
  std::string image_pull_policy;  // the pods' imagePullPolicy; empty: the cluster's default
  std::string data_path;  // "cluster", "local", or empty: cluster when an image is given
};

// True when the copies run in the cluster. Throws Error(usage) for --data-path cluster
// without --image; `required`: also when neither says where (migrate must know).
bool copies_in_cluster(const PlanOptions& options, bool required);

struct Finding {
  ExitCode code = ExitCode::ok;
  std::string what;
  std::string todo;
};

struct Sizing {
  std::string users;  // "50-250"
  int cores = 0;
  int ram_gb = 0;
  int disk_gb = 0;
  int nic_gbps = 0;
};

struct Plan {
  ReleaseState release;
  RequirementsForChart requirements;  // what the release's CircleCI Server requires of its targets
  std::optional<pg::CopyPreflight> pg;
  std::optional<mongo::CopyPreflight> mongo;
  std::string pg_target_display, mongo_target_display;
  std::vector<std::string> checks;  // what passed, one line each
  std::vector<Finding> blockers;
  std::vector<Finding> warnings;
  std::optional<Sizing> sizing;
  std::optional<int> pg_standbys;       // streaming standbys the target reports
  double sample_bytes_per_second = 0;   // the slower of the measured read and write samples
  double estimated_copy_seconds = 0;
  // Bringing the application back: its pods' creation-to-ready time as measured on the
  // cluster (the slowest pod), or a default when no pod said.
  double restart_seconds = 0;
  bool restart_measured = false;
  double estimated_downtime_seconds = 0;
  std::string data_path;  // which path migrate's copies take, and why
  std::string where;      // where the data path was checked from: "" (here) or " in the pod ..."
};

// The copies plan checks and migrate runs, from the internal database at `source` (its
// connection string) to the targets the options name.
pg::CopyOptions pg_copy_options(const PlanOptions& options, const std::string& source);
mongo::CopyOptions mongo_copy_options(const PlanOptions& options, const std::string& source);

// The data path's checks (the copies' preflights, the targets against the requirements of
// the release's `chart`, standbys, the sampled speed) from `pg_source` / `mongo_source` to
// the options' targets, as JSON: what `decant probe` prints in the cluster for plan.
nlohmann::json probe_data_path(const PlanOptions& options, const std::string& chart,
                               const std::optional<std::string>& pg_source, const std::optional<std::string>& mongo_source);
// The line of the probe's output that holds that JSON starts with this.
inline constexpr const char* kProbePrefix = "decant-probe: ";

// Runs every check. Throws only what makes a plan impossible (no cluster, no release,
// a tool missing); everything else is a blocker or warning in the plan.
Plan make_plan(const PlanOptions& options);
// The sizing advice for a number of daily active users.
Sizing recommended_sizing(int daily_active_users);

void print_plan(const Plan& plan);
nlohmann::json plan_json(const Plan& plan);
// 0 when nothing blocks; else the first blocker's exit code.
int plan_exit_code(const Plan& plan);

}  // namespace decant::migrate
