#include "engine/stream.hpp"

#include "process/run_context.hpp"
#include "engine/progress.hpp"

namespace decant::engine {

PumpResult pump(RowSource& source, RowSink& sink, ProgressItem* progress) {
  PumpResult result;
  std::string_view row;
  uint64_t since_check = 0;
  while (source.next(row)) {
    result.digest.add_row(row);
    sink.write(row);
    result.bytes += row.size();
    if (progress) {
      progress->bytes.fetch_add(row.size(), std::memory_order_relaxed);
      progress->rows.fetch_add(1, std::memory_order_relaxed);
    }
    if (++since_check == 4096) {
      since_check = 0;
      throw_if_interrupted();
    }
  }
  return result;
}

RowDigest digest_of(RowSource& source) {
  RowDigest digest;
  std::string_view row;
  uint64_t since_check = 0;
  while (source.next(row)) {
    digest.add_row(row);
    if (++since_check == 4096) {
      since_check = 0;
      throw_if_interrupted();
    }
  }
  return digest;
}

}  // namespace decant::engine
