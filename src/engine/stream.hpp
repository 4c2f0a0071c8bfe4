#pragma once
// The engine's view of data: a source yields rows, a sink takes them. A live server
// (PostgreSQL COPY) or, later, a backup archive can sit on either end. Rows are opaque
// bytes in a format both ends agree on; the engine only counts, hashes and moves them.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/row_hash.hpp"
#include "engine/report.hpp"

namespace decant::engine {

struct ProgressItem;

class RowSource {
 public:
  virtual ~RowSource() = default;
  // Sets `row` to the next row (valid until the next call); false at the end.
  virtual bool next(std::string_view& row) = 0;
};

class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void write(std::string_view row) = 0;
  // Ends the stream; returns the number of rows the sink says it stored.
  virtual uint64_t finish() = 0;
};

struct PumpResult {
  RowDigest digest;  // of the rows as they left the source
  uint64_t bytes = 0;
};

// Moves every row from source to sink, hashing each and counting into `progress`.
PumpResult pump(RowSource& source, RowSink& sink, ProgressItem* progress);
// Reads a source to its end, for verification.
RowDigest digest_of(RowSource& source);

// What --resume keeps of a finished item: rows, bytes, seconds and the source digest.
nlohmann::json finished_record(const ItemReport& item);
// An item an earlier run finished, checked again: `now` (the target read back) must hold
// the rows and digest recorded when it was finished. The report item is marked resumed.
ItemReport recheck_finished(const nlohmann::json& record, RowSource& now);
// Accounts for an item an earlier run finished: its progress shows it done, and it joins
// the report under `group`.
void report_finished_earlier(Report& report, const std::string& group, const ItemReport& item, ProgressItem& progress);

}  // namespace decant::engine
