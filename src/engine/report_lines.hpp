#pragma once
// A run's JSON report carried through a container's log, the only way back from a Job's pod
// to the CLI that started it: cut into lines no container runtime splits (containerd cuts
// lines past 16 KiB, and `kubectl logs --timestamps` would then stamp the middle of one),
// each "decant-report I/N CHUNK", and put together again on the CLI's side.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace decant::engine {

// The report's lines (ASCII only: a chunk never cuts a character in two).
std::vector<std::string> report_lines(const nlohmann::json& report);

class ReportLines {
 public:
  // True when `line` is a report's line (not for the reader's eyes); the report is whole
  // once its last line came. A report begun again (a pod that restarted) replaces a partial one.
  bool take(std::string_view line);
  // The last report, once whole; none while a later one is incomplete.
  const std::optional<nlohmann::json>& report() const { return report_; }

 private:
  std::string text_;
  size_t next_ = 1;   // the chunk expected next
  size_t count_ = 0;  // of the report being put together
  std::optional<nlohmann::json> report_;
};

}  // namespace decant::engine
