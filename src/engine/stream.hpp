#pragma once
// The engine's view of data: a source yields rows, a sink takes them. A live server
// (PostgreSQL COPY) or, later, a backup archive can sit on either end. Rows are opaque
// bytes in a format both ends agree on; the engine only counts, hashes and moves them.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "engine/row_hash.hpp"

namespace decant::engine {

struct ProgressItem;

class RowSource {
 public:
  virtual ~RowSource() = default;
  // Sets `row` to the next row (valid until the next call); false at the end.
  virtual bool next(std::string_view& row) = 0;
};

// No rows: a collection dumped without documents.
class EmptySource : public RowSource {
 public:
  bool next(std::string_view&) override { return false; }
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

}  // namespace decant::engine
