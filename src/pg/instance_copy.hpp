#pragma once
// `decant pg copy`: a whole PostgreSQL instance (roles, databases, schema, data, large
// objects, sequences), server to server, in parallel, verified, resumable.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace decant::pg {

struct CopyOptions {
  std::string source;
  std::string target;
  std::vector<std::string> databases;  // empty: every non-template database
  int jobs = 0;                        // 0: number of CPUs
  bool clean = false;
  bool resume = false;
  std::optional<std::string> report_path;
  std::optional<std::string> state_dir;
  std::optional<std::string> pg_bin;
  std::chrono::milliseconds progress_interval{10000};
};

// Runs the copy; returns the process exit code. Errors that stop the copy are thrown
// as decant::Error after the report (if asked for) is written.
int copy_instance(const CopyOptions& options);

}  // namespace decant::pg
