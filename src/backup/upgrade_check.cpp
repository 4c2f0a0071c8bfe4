// `upgrade-check`: the gate before an upgrade, a recent fully verified pre-upgrade backup.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/manifest.hpp"
#include "backup/repository.hpp"
#include "common/error.hpp"

namespace decant::backup {
using nlohmann::json;

int upgrade_check(const UpgradeCheckOptions& options) {
  auto repo = open_repository(options.repo, RepositoryUse::existing);
  auto all = load_all_indexes(*repo);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto age_of = [&](const IndexEntry& e) { return now - parse_utc(e.created).value_or(0); };
  const IndexEntry* newest = nullptr;  // the newest complete pre-upgrade backup
  for (const auto& e : all)
    if (e.reason == "pre-upgrade" && e.state == "complete" && (!newest || e.created > newest->created)) newest = &e;
  auto hours = [](int64_t seconds) { return fmt::format("{:.1f} h", static_cast<double>(seconds) / 3600.0); };
  for (const auto& e : all) {
    if (e.reason != "pre-upgrade" || e.state != "complete" || !e.verified_at || age_of(e) > options.max_age_seconds)
      continue;
    fmt::print("ok: pre-upgrade backup {} in {}, taken {} ago, verified {} ({})\n", e.id, repo->describe(),
               hours(age_of(e)), *e.verified_at, e.verified_how);
    return 0;
  }
  std::string limit = hours(options.max_age_seconds);
  if (!newest)
    throw Error(ExitCode::no_recent_backup, "no complete pre-upgrade backup in " + repo->describe(),
                "take one: decant backup create --reason pre-upgrade, then decant backup verify --id ID");
  if (age_of(*newest) > options.max_age_seconds)
    throw Error(ExitCode::no_recent_backup,
                fmt::format("the newest pre-upgrade backup in {} ({}) is {} old, over --max-age {}", repo->describe(),
                            newest->id, hours(age_of(*newest)), limit),
                "take a new one: decant backup create --reason pre-upgrade, then decant backup verify --id ID");
  throw Error(ExitCode::no_recent_backup,
              fmt::format("the pre-upgrade backup {} in {} was never fully verified", newest->id, repo->describe()),
              "verify it: decant backup verify --id " + newest->id);
}

}  // namespace decant::backup
