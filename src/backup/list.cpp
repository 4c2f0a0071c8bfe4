// `backup list`: the index entries, which need no key.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/manifest.hpp"
#include "backup/repository.hpp"
#include "engine/progress.hpp"

namespace decant::backup {
using nlohmann::json;

int list(const ListOptions& options) {
  auto repo = open_repository(options.repo, RepositoryUse::existing);
  auto all = load_all_indexes(*repo);
  if (options.json) {
    json out = json::array();
    for (const auto& e : all) out.push_back(to_json(e));
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{:<24} {:<20} {:<11} {:<9} {:>6} {:>12} {:>10} {:>10}  {}\n", "id", "created", "reason", "state", "items",
             "rows", "data", "stored", "verified");
  for (const auto& e : all)
    fmt::print("{:<24} {:<20} {:<11} {:<9} {:>6} {:>12} {:>10} {:>10}  {}\n", e.id, e.created, e.reason, e.state,
               e.items, e.rows, engine::human_bytes(e.raw_bytes), engine::human_bytes(e.stored_bytes),
               e.verified_at ? *e.verified_at + " (" + e.verified_how + ")" : "-");
  if (all.empty()) fmt::print("(no backups in {})\n", repo->describe());
  return 0;
}

}  // namespace decant::backup
