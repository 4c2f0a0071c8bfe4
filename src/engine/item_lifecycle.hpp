#pragma once
// The life of one copied item (a table, a database's large objects, a collection, a dump
// file), the same for every command:
//
//   finished by an earlier run?  -> read it back, compare with the digest recorded then
//   prepare (empty the target)   -> pump rows source -> sink, hashing them in flight
//   complete (commit, indexes)   -> read the target back, hash it the same way
//   compare (rows, digest, other checks) -> record it as finished -> report it
//
// A command describes an item with an ItemSpec (what its steps are for this kind of
// source and sink) and runs it here. Several items can share one transaction: run_batch
// records them as finished only once `commit` has succeeded.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/row_hash.hpp"
#include "engine/report.hpp"
#include "engine/stream.hpp"

namespace decant::engine {

class ResumeState;
struct ProgressItem;

struct ItemSpec {
  std::string group;       // the report's group: a database
  std::string name;        // table, collection, ...
  std::string kind;        // "table", "collection", "large objects"
  std::string resume_key;  // where the resume state records it
  // How a difference is told: "the source has 10 rows, the target holds 9".
  std::string noun = "row";
  std::string source_side = "the source";
  std::string target_side = "the target";
  ProgressItem* progress = nullptr;

  std::function<void()> prepare;  // optional: before the rows move (TRUNCATE, drop and create)
  std::function<std::unique_ptr<RowSource>()> source;
  std::function<std::unique_ptr<RowSink>()> sink;
  std::function<void()> complete;  // optional: once the rows are in (commit, build indexes)
  std::function<std::unique_ptr<RowSource>()> readback;
  // Instead of `readback`, where the rows cannot be read back as rows (an encrypted
  // backup written without its key): the digest of what the sink stored, as it checked it.
  std::function<RowDigest()> readback_digest;
  // Optional: checks beyond the rows (an index set); "" or what differs. `again` is true
  // when an earlier run finished the item.
  std::function<std::string(bool again)> other_checks;
  // Optional: more to record with a finished item, and to check in that record later
  // (what a restore read: a dump file's size and time); "" or what changed.
  std::function<void(nlohmann::json& record)> add_to_record;
  std::function<std::string(const nlohmann::json& record)> check_record;
  // Optional: what is rechecked when an earlier run finished it; `readback` by default.
  std::function<std::unique_ptr<RowSource>()> recheck_source;
};

// What a failed comparison says, for every command alike: with equal counts that the
// contents differ, otherwise how the counts differ. `source`/`target` name the ends ("the
// source", "the file", "the target"); `noun` what is counted ("row", "document").
std::string describe_difference(const std::string& source, const std::string& target, const std::string& noun,
                                uint64_t source_count, const std::string& source_digest, uint64_t stored, uint64_t held,
                                const std::string& target_digest);

// An item whose rows have moved and are committed, not yet read back.
struct MovedItem {
  PumpResult moved;
  uint64_t stored = 0;    // what the sink said it stored
  double seconds = 0;     // moving them took
};

class ItemLifecycle {
 public:
  ItemLifecycle(ResumeState& state, Report& report) : state_(state), report_(report) {}

  // Runs one item to its end and returns what the report got.
  ItemReport run(const ItemSpec& item);
  // run() in two steps, so that the read-back can wait (behind index builds) and run on
  // another worker: move() moves the rows, or rechecks and reports an item an earlier run
  // finished (`rechecked`, nullopt returned); verify() reads back, records and reports.
  std::optional<MovedItem> move(const ItemSpec& item, ItemReport& rechecked);
  ItemReport verify(const ItemSpec& item, const MovedItem& moved);
  // Runs items one after another, then `commit`; records the verified ones as finished
  // only after it. An exception leaves none of them recorded.
  std::vector<ItemReport> run_batch(const std::vector<ItemSpec>& items, const std::function<void()>& commit);

 private:
  std::optional<MovedItem> move_or_recheck(const ItemSpec& item, ItemReport& rechecked);
  // Reads back and compares; the record to write once committed is set when verified.
  ItemReport compare(const ItemSpec& item, const MovedItem& moved, std::optional<nlohmann::json>& record);
  ItemReport recheck(const ItemSpec& item, const nlohmann::json& record);
  void conclude(const ItemSpec& item, const ItemReport& report);

  ResumeState& state_;
  Report& report_;
};

}  // namespace decant::engine
