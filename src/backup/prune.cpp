// `backup prune`: which backups go by age, and which are kept whatever their age.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/manifest.hpp"
#include "backup/repository.hpp"
#include "common/log.hpp"

namespace decant::backup {
using nlohmann::json;

namespace {

struct PruneDecision {
  const IndexEntry* entry;
  bool remove = false;
  std::string why;
};

std::vector<PruneDecision> decide_prune(const std::vector<IndexEntry>& all, int keep_days, int64_t now) {
  // Each protected role goes to the newest backup that has it (the list is oldest first).
  auto newest = [&](auto pred) -> const IndexEntry* {
    for (auto it = all.rbegin(); it != all.rend(); ++it)
      if (pred(*it)) return &*it;
    return nullptr;
  };
  const IndexEntry* newest_verified = newest([](const IndexEntry& e) { return e.state == "complete" && e.verified_at; });
  const IndexEntry* newest_pre_upgrade =
      newest([](const IndexEntry& e) { return e.state == "complete" && e.reason == "pre-upgrade"; });
  const IndexEntry* newest_complete = newest([](const IndexEntry& e) { return e.state == "complete"; });
  std::vector<PruneDecision> out;
  for (const auto& e : all) {
    PruneDecision d{&e, false, ""};
    auto created = parse_utc(e.created);
    double age_days = created ? static_cast<double>(now - *created) / 86400.0 : 0;
    if (!created) d.why = "keep: its creation time cannot be read";
    else if (age_days < keep_days) d.why = fmt::format("keep: {:.1f} days old, within {} days", age_days, keep_days);
    else if (&e == newest_verified) d.why = "keep: the newest verified backup";
    else if (&e == newest_pre_upgrade) d.why = "keep: the newest pre-upgrade backup";
    else if (&e == newest_complete) d.why = "keep: the newest complete backup";
    else if (e.state == "abandoned") {
      d.remove = true;
      d.why = fmt::format("delete: {:.1f} days old, interrupted and replaced by a later create", age_days);
    } else if (e.state != "complete") d.why = "keep: still being written (or interrupted: finish it with --resume)";
    else {
      d.remove = true;
      d.why = fmt::format("delete: {:.1f} days old", age_days);
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace

int prune(const PruneOptions& options) {
  auto repo = open_repository(options.repo, RepositoryUse::existing);
  auto all = load_all_indexes(*repo);
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto decisions = decide_prune(all, options.keep_days, now);
  size_t removing = 0;
  json out = json::array();
  for (const auto& d : decisions) {
    removing += d.remove;
    out.push_back({{"id", d.entry->id}, {"delete", d.remove}, {"why", d.why}});
    if (!options.json) fmt::print("{:<24} {:<11} {:<9} {}\n", d.entry->id, d.entry->reason, d.entry->state, d.why);
  }
  if (options.json) fmt::print("{}\n", out.dump(2));
  if (!options.apply) {
    if (!options.json)
      fmt::print("{} of {} backup(s) would be deleted (dry run: add --apply to delete them)\n", removing, all.size());
    return 0;
  }
  for (const auto& d : decisions) {
    if (!d.remove) continue;
    // The index entry first: a backup half deleted is never listed as complete.
    repo->remove_prefix(index_key(d.entry->id));
    repo->remove_prefix("backups/" + d.entry->id + "/");
    log::info("deleted backup {}", d.entry->id);
  }
  if (!options.json) fmt::print("{} of {} backup(s) deleted\n", removing, all.size());
  return 0;
}

}  // namespace decant::backup
