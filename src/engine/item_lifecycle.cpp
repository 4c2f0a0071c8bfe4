#include "engine/item_lifecycle.hpp"

#include <fmt/format.h>

#include "common/log.hpp"
#include "common/run_context.hpp"
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
  auto now = item.recheck_source ? item.recheck_source() : item.readback();
  RowDigest digest = digest_of(*now);
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

ItemReport ItemLifecycle::move_and_verify(const ItemSpec& item, std::optional<nlohmann::json>& record) {
  if (auto done = state_.get(item.resume_key)) {
    // Finished by an earlier run: not moved again, but checked again against the digest
    // recorded then, so that a target changed since is caught.
    ItemReport r = recheck(item, *done);
    if (item.progress) {
      item.progress->bytes = r.bytes;
      item.progress->rows = r.rows;
    }
    return r;
  }
  throw_if_interrupted();
  if (item.progress) item.progress->begin();
  auto started = Clock::now();
  if (item.prepare) item.prepare();
  PumpResult moved;
  uint64_t stored = 0;
  {
    auto source = item.source();
    auto sink = item.sink();
    moved = pump(*source, *sink, item.progress);
    stored = sink->finish();
  }
  if (item.complete) item.complete();
  double moved_seconds = seconds_since(started);
  // Verification reads the target back and hashes it exactly as the rows were hashed in
  // flight: count and content, independent of order.
  RowDigest held;
  {
    auto back = item.readback();
    held = digest_of(*back);
  }
  ItemReport r = named(item);
  r.rows = moved.digest.rows();
  r.bytes = moved.bytes;
  r.seconds = seconds_since(started);
  r.source_digest = moved.digest.hex();
  r.target_digest = held.hex();
  r.verified = moved.digest == held && stored == moved.digest.rows();
  if (!r.verified)
    r.problem = describe_difference(item.source_side, item.target_side, item.noun, moved.digest.rows(), r.source_digest,
                                    stored, held.rows(), r.target_digest);
  if (r.verified && item.other_checks) {
    r.problem = item.other_checks(false);
    r.verified = r.problem.empty();
  }
  log::debug("{} {}.{}: moved in {:.2f}s, verified in {:.2f}s", item.kind, item.group, item.name, moved_seconds,
             r.seconds - moved_seconds);
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
  std::optional<nlohmann::json> record;
  ItemReport r = move_and_verify(item, record);
  if (record) state_.mark_done(item.resume_key, std::move(*record));
  conclude(item, r);
  return r;
}

std::vector<ItemReport> ItemLifecycle::run_batch(const std::vector<ItemSpec>& items,
                                                 const std::function<void()>& commit) {
  std::vector<ItemReport> reports;
  std::vector<std::pair<std::string, nlohmann::json>> records;
  for (const auto& item : items) {
    std::optional<nlohmann::json> record;
    reports.push_back(move_and_verify(item, record));
    if (record) records.emplace_back(item.resume_key, std::move(*record));
  }
  commit();
  state_.mark_done(std::move(records));
  for (size_t i = 0; i < items.size(); ++i) conclude(items[i], reports[i]);
  return reports;
}

}  // namespace decant::engine
