#pragma once
// `decant mongo copy`: MongoDB databases, server to server: collections with their
// options, views, every document byte for byte, then indexes; parallel, verified,
// resumable.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace decant::mongo {

struct CopyOptions {
  std::string source;
  std::string target;
  std::vector<std::string> databases;  // empty: every non-system database
  int jobs = 0;                        // 0: number of CPUs
  bool drop = false;
  bool resume = false;
  std::optional<std::string> report_path;
  std::optional<std::string> state_dir;
  std::chrono::milliseconds progress_interval{10000};
};

int copy_instance(const CopyOptions& options);

}  // namespace decant::mongo
