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

#include "engine/run_options.hpp"
#include "backup/backup.hpp"
#include "migrate/plan.hpp"
#include "migrate/values.hpp"

namespace decant::migrate {

struct MigrateOptions {
  PlanOptions plan;
  std::optional<std::string> chart;       // what `helm upgrade` installs; without it, the command is printed
  std::optional<std::string> values_out;  // the overlay file; default: in the state directory
  std::string secret_name = "decant-external-databases";
  int wait_seconds = 600;  // for the pods to go, and for the upgrade to become ready
  bool dry_run = false;
  bool rollback = false;
  bool auto_rollback = true;
  // With a repository (repo.url set): a backup create --reason pre-upgrade of the internal
  // databases before anything is changed (recipients, chunk size and jobs as for create).
  backup::CreateOptions backup;
  engine::RunOptions run;  // --jobs, --progress-interval: the copies'; --resume: of the migration
};

int migrate(const MigrateOptions& options);


}  // namespace decant::migrate
