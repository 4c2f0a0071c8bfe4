#pragma once
// `decant pg copy`: a whole PostgreSQL instance (roles, databases, schema, data, large
// objects, sequences), server to server, in parallel, verified, resumable.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/run_options.hpp"

namespace decant::pg {

struct CopyOptions {
  std::string source;
  std::string target;
  std::vector<std::string> databases;  // empty: every non-template database
  bool clean = false;
  std::optional<std::string> pg_bin;
  // Extensions created at the target's default version instead of the source's
  // (--extension-update); every other one keeps its version or the copy is refused.
  std::set<std::string> extension_update;
  engine::RunOptions run;
};

// What a copy would move, as read by its preflight.
struct DatabaseSummary {
  std::string name;
  uint64_t bytes = 0;
  uint64_t tables = 0;
  uint64_t rows = 0;  // estimated (pg_class.reltuples): the plan's figures, not a count
  std::map<std::string, std::string> extensions;  // name -> version on the source
};
struct CopyPreflight {
  int source_major = 0;
  int target_major = 0;
  std::string tools;  // pg_dump's version line and directory
  std::vector<DatabaseSummary> databases;
  uint64_t bytes = 0;
};

// Every check the copy makes before it writes anything (both servers reached and logged
// into, the target not the source and not a standby, its privileges, the tools, the
// versions, what the target cannot hold, non-empty targets unless `clean`), and what it
// would copy. Writes nothing. Throws the first failure as the copy would.
CopyPreflight preflight_copy(const CopyOptions& options);

// Runs the copy; returns the process exit code. Errors that stop the copy are thrown
// as decant::Error after the report (if asked for) is written.
int copy_instance(const CopyOptions& options);

}  // namespace decant::pg
