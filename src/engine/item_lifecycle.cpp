#include "engine/item_lifecycle.hpp"

#include <fmt/format.h>

#include "common/log.hpp"
#include "process/run_context.hpp"
#include "engine/progress.hpp"
#include "engine/resume_state.hpp"

namespace decant::engine {
namespace {

using Clock = std::chrono::steady_clock;

ItemReport named(const ItemSpec& item) {
  ItemReport r;
  r.name = item.name;
  r.kind = item.kind;
  return r;
}

RowDigest held_digest(const ItemSpec& item) {
  if (item.readback_digest) return item.readback_digest();
  auto back = item.readback();
  return digest_of(*back);
}

}  // namespace

std::string describe_difference(const std::string& source, const std::string& target, const std::string& noun,
                                uint64_t source_count, const std::string& source_digest, uint64_t stored, uint64_t held,
                                const std::string& target_digest) {
  if (stored == source_count && held == source_count)
    return fmt::format("the contents differ: {} and {} hold the same number of {}s ({}), but their digests differ ({} "
                       "and {})",
                       source, target, noun, source_count, source_digest, target_digest);
  std::string what = stored == held ? fmt::format("{} holds {}", target, held)
                                    : fmt::format("{} stored {} and holds {}", target, stored, held);
  return fmt::format("the {} counts differ: {} has {}, {}", noun, source, source_count, what);
}

ItemReport ItemLifecycle::recheck(const ItemSpec& item, const nlohmann::json& record) {
  RowDigest digest = item.recheck_source ? digest_of(*item.recheck_source()) : held_digest(item);
  ItemReport r = named(item);
  r.rows = record.value("rows", uint64_t{0});
  r.bytes = record.value("bytes", uint64_t{0});
  r.seconds = record.value("seconds", 0.0);
  r.source_digest = record.value("digest", std::string());
  r.target_digest = digest.hex();
  r.resumed = true;
  r.verified = r.source_digest == r.target_digest && digest.rows() == r.rows;
  if (!r.verified) {
    r.problem = fmt::format("changed since an earlier run finished it: it had {} {}s (digest {}), {} now holds {} "
                            "(digest {})",
                            r.rows, item.noun, r.source_digest, item.target_side, digest.rows(), r.target_digest);
    return r;
  }
  std::string problem = item.check_record ? item.check_record(record) : "";
  if (problem.empty() && item.other_checks) problem = item.other_checks(true);
  if (!problem.empty()) {
    r.verified = false;
    r.problem = problem;
  }
  return r;
}

std::optional<MovedItem> ItemLifecycle::move_or_recheck(const ItemSpec& item, ItemReport& rechecked) {
  if (auto done = state_.get(item.resume_key)) {
    // Finished by an earlier run: not moved again, but checked again against the digest
    // recorded then, so that a target changed since is caught.
    rechecked = recheck(item, *done);
    if (item.progress) {
      item.progress->bytes = rechecked.bytes;
      item.progress->rows = rechecked.rows;
    }
    return std::nullopt;
  }
  throw_if_interrupted();
  if (item.progress) item.progress->begin();
  MovedItem m;
  auto started = Clock::now();
  if (item.prepare) item.prepare();
  {
    auto source = item.source();
    auto sink = item.sink();
    m.moved = pump(*source, *sink, item.progress);
    m.stored = sink->finish();
  }
  if (item.complete) item.complete();
  m.seconds = seconds_since(started);
  return m;
}

ItemReport ItemLifecycle::compare(const ItemSpec& item, const MovedItem& m, std::optional<nlohmann::json>& record) {
  // Verification reads the target back and hashes it exactly as the rows were hashed in
  // flight: count and content, independent of order.
  auto read_from = Clock::now();
  RowDigest held = held_digest(item);
  ItemReport r = named(item);
  r.rows = m.moved.digest.rows();
  r.bytes = m.moved.bytes;
  r.seconds = m.seconds + seconds_since(read_from);
  r.source_digest = m.moved.digest.hex();
  r.target_digest = held.hex();
  r.verified = m.moved.digest == held && m.stored == m.moved.digest.rows();
  if (!r.verified)
    r.problem = describe_difference(item.source_side, item.target_side, item.noun, m.moved.digest.rows(),
                                    r.source_digest, m.stored, held.rows(), r.target_digest);
  if (r.verified && item.other_checks) {
    r.problem = item.other_checks(false);
    r.verified = r.problem.empty();
  }
  log::debug("{} {}.{}: moved in {:.2f}s, verified in {:.2f}s", item.kind, item.group, item.name, m.seconds,
             seconds_since(read_from));
  if (r.verified) {
    nlohmann::json rec = {{"rows", r.rows}, {"bytes", r.bytes}, {"seconds", r.seconds}, {"digest", r.source_digest}};
    if (item.add_to_record) item.add_to_record(rec);
    record = std::move(rec);
  }
  return r;
}

void ItemLifecycle::conclude(const ItemSpec& item, const ItemReport& r) {
  report_.add_item(item.group, r);
  if (item.progress) item.progress->finish();
  if (!r.verified) log::warn("{} {}.{} differs: {}", item.kind, item.group, item.name, r.problem);
}

ItemReport ItemLifecycle::run(const ItemSpec& item) {
  ItemReport r;
  if (auto m = move(item, r)) return verify(item, *m);
  return r;
}

std::optional<MovedItem> ItemLifecycle::move(const ItemSpec& item, ItemReport& rechecked) {
  auto m = move_or_recheck(item, rechecked);
  if (!m) conclude(item, rechecked);
  return m;
}

ItemReport ItemLifecycle::verify(const ItemSpec& item, const MovedItem& moved) {
  std::optional<nlohmann::json> record;
  ItemReport r = compare(item, moved, record);
  if (record) state_.mark_done(item.resume_key, std::move(*record));
  conclude(item, r);
  return r;
}

std::vector<ItemReport> ItemLifecycle::run_batch(const std::vector<ItemSpec>& items,
                                                 const std::function<void()>& commit) {
  std::vector<ItemReport> reports;
  std::vector<std::pair<std::string, nlohmann::json>> records;
  for (const auto& item : items) {
    ItemReport rechecked;
    auto m = move_or_recheck(item, rechecked);
    if (!m) {
      reports.push_back(std::move(rechecked));
      continue;
    }
    std::optional<nlohmann::json> record;
    reports.push_back(compare(item, *m, record));
    if (record) records.emplace_back(item.resume_key, std::move(*record));
  }
  commit();
  state_.mark_done(std::move(records));
  for (size_t i = 0; i < items.size(); ++i) conclude(items[i], reports[i]);
  return reports;
}

}  // namespace decant::engine
