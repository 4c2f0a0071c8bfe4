#include "engine/stream.hpp"

#include "common/signals.hpp"
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

nlohmann::json finished_record(const ItemReport& item) {
  return {{"rows", item.rows}, {"bytes", item.bytes}, {"seconds", item.seconds}, {"digest", item.source_digest}};
}

ItemReport recheck_finished(const nlohmann::json& record, RowSource& now) {
  RowDigest digest = digest_of(now);
  ItemReport item;
  item.rows = record.value("rows", uint64_t{0});
  item.bytes = record.value("bytes", uint64_t{0});
  item.seconds = record.value("seconds", 0.0);
  item.source_digest = record.value("digest", std::string());
  item.target_digest = digest.hex();
  item.resumed = true;
  item.verified = item.source_digest == item.target_digest && digest.rows() == item.rows;
  if (!item.verified) item.problem = "changed on the target since an earlier run finished it";
  return item;
}

void report_finished_earlier(Report& report, const std::string& group, const ItemReport& item, ProgressItem& progress) {
  progress.bytes = item.bytes;
  progress.rows = item.rows;
  report.add_item(group, item);
  progress.finish();
}

}  // namespace decant::engine
