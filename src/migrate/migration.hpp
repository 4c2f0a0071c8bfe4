#pragma once
// `decant migrate`: the externalization runbook as one resumable command.
//   preflight (the plan; any blocker stops it before the downtime)
//   -> record (Helm revision, replica counts: a ConfigMap in the namespace and the local
//      state, before anything changes)
//   -> scale the application layer to zero and wait until its pods are gone
//   -> copy PostgreSQL and MongoDB through port-forwards with the copy engines, verified
//   -> a Secret with the external credentials (on kubectl's stdin), the values overlay
//      (no password in it), `helm upgrade --dry-run`, `helm upgrade --reuse-values --wait`
//   -> wait until every deployment is back at its recorded replicas and ready, and check
//      that the release points at the external servers.
// Each finished phase is journalled: `--resume` continues after the last one, whatever
// killed the run. `--rollback` puts the cluster back as recorded. A failure before the
// upgrade scales the application back up by itself. The internal databases are only read.
#include <optional>
#include <string>

#include "backup/backup.hpp"
#include "migrate/plan.hpp"

namespace decant::migrate {

struct MigrateOptions {
  PlanOptions plan;
  std::optional<std::string> chart;       // what `helm upgrade` installs; without it, the command is printed
  std::optional<std::string> values_out;  // the overlay file; default: in the state directory
  std::optional<std::string> state_dir;
  std::optional<std::string> report_path;
  std::string secret_name = "decant-external-databases";
  int jobs = 0;
  int wait_seconds = 600;  // for the pods to go, and for the upgrade to become ready
  bool dry_run = false;
  bool resume = false;
  bool rollback = false;
  bool auto_rollback = true;
  // With a repository (repo.url set): a backup create --reason pre-upgrade of the internal
  // databases before anything is changed (recipients, chunk size and jobs as for create).
  backup::CreateOptions backup;
};

int migrate(const MigrateOptions& options);

// The Helm values that point the release at the targets (no password: the credentials
// are in `secret_name`), from the target URIs; `pg_secure_mode`: the chart's
// postgresql.secureMode, its connections to PostgreSQL over TLS (Server 4.9 and later).
nlohmann::json external_values(const std::optional<std::string>& pg_target,
                               const std::optional<std::string>& mongo_target, const std::string& secret_name,
                               bool pg_secure_mode = false);

}  // namespace decant::migrate
