#include "pg/schema_split.hpp"

#include <map>
#include <set>
#include <tuple>

namespace decant::pg {
namespace {

bool in_table_run(const TocEntry& e) {
  return e.desc == "TABLE" || e.desc == "COMMENT" || e.desc == "ACL" || e.desc == "SECURITY LABEL";
}

}  // namespace

std::vector<int> split_pre_data(const std::vector<TocEntry>& toc, size_t min_tables) {
  size_t begin = 0, end = 0, tables_in_best = 0;
  for (size_t i = 0; i < toc.size();) {
    if (!in_table_run(toc[i])) {
      ++i;
      continue;
    }
    size_t j = i, tables = 0;
    for (; j < toc.size() && in_table_run(toc[j]); ++j)
      if (toc[j].desc == "TABLE") ++tables;
    if (tables > tables_in_best) std::tie(begin, end, tables_in_best) = std::tuple(i, j, tables);
    i = j;
  }
  if (tables_in_best < min_tables) return {};

  constexpr int kLast = kSchemaParts + 1;
  std::vector<int> part(toc.size(), kLast);
  std::map<int, size_t> index_of;  // dump id -> position in toc
  for (size_t i = 0; i < toc.size(); ++i) index_of[toc[i].dump_id] = i;
  for (size_t i = 0; i < begin; ++i) part[i] = 0;

  // pg_dump 14 and later create a partition on its own (its CREATE TABLE does not name
  // the parent) and attach it in a TABLE ATTACH entry that depends on both; the
  // partition's dependency on its parent is the attachment's, not its creation's.
  std::set<std::pair<int, int>> attached;
  for (const auto& e : toc)
    if (e.desc == "TABLE ATTACH")
      for (int a : e.dependencies)
        for (int b : e.dependencies) attached.emplace(a, b);

  size_t parallel = 0;
  int next = 0;
  for (size_t i = begin; i < end; ++i) {
    if (toc[i].desc != "TABLE") continue;
    // The parts of what it depends on; part 0 is committed before any other starts.
    std::set<int> after;
    for (int dep : toc[i].dependencies) {
      if (attached.count({toc[i].dump_id, dep})) continue;
      auto at = index_of.find(dep);
      if (at == index_of.end()) continue;  // not restored (not listed): nothing to wait for
      if (at->second >= i) {
        after.insert(kLast);  // a dependency the TOC puts later: only TOC order is safe
        continue;
      }
      if (part[at->second] != 0) after.insert(part[at->second]);
    }
    if (after.empty()) {
      part[i] = 1 + next++ % kSchemaParts;
      ++parallel;
    } else if (after.size() == 1 && *after.begin() != kLast) {
      part[i] = *after.begin();  // the same session, after what it needs
      ++parallel;
    }
  }
  if (parallel < min_tables) return {};
  return part;
}

}  // namespace decant::pg
