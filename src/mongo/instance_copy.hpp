#pragma once
// `decant mongo copy`: MongoDB databases, server to server: collections with their
// options, views, every document byte for byte, then indexes; parallel, verified,
// resumable.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/run_options.hpp"

namespace decant::mongo {

struct CopyOptions {
  std::string source;
  std::string target;
  std::vector<std::string> databases;  // empty: every non-system database
  bool drop = false;
  engine::RunOptions run;
};

struct CollectionSummary {
  std::string name;  // DB.COLLECTION
  uint64_t bytes = 0;
  uint64_t documents = 0;
};
struct CopyPreflight {
  std::string source_version;
  std::string target_version;
  std::string target_privileges;  // "granted", or why they could not be checked
  std::vector<CollectionSummary> collections;
  uint64_t bytes = 0;
  uint64_t documents = 0;
};

// Every check the copy makes before it writes anything (both servers reached and logged
// into, the target not the source, the target login's privileges, target collections
// empty unless `drop`), and what it would copy. Writes nothing. Throws the first failure as the copy would.
CopyPreflight preflight_copy(const CopyOptions& options);

int copy_instance(const CopyOptions& options);

}  // namespace decant::mongo
