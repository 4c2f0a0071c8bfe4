#pragma once
// Where backups live: a store of named objects ("backups/ID/manifest.age"), behind one
// interface so that the commands never know which driver holds them: a local directory or
// an S3 bucket (chosen by the --repo URL).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace decant::backup {

class Repository {
 public:
  virtual ~Repository() = default;
  // Stores an object durably and atomically: a reader sees all of it or nothing, and it
  // survives a crash once put() returns.
  virtual void put(const std::string& key, std::string_view bytes) = 0;
  // The whole object, or nothing when it does not exist.
  virtual std::optional<std::string> get(const std::string& key) const = 0;
  // Its size, or nothing when it does not exist.
  virtual std::optional<uint64_t> size(const std::string& key) const = 0;
  // Keys that start with `prefix`, sorted.
  virtual std::vector<std::string> list(const std::string& prefix) const = 0;
  // Removes the objects under `prefix` (a key or a "folder/"); absent ones are no error.
  virtual void remove_prefix(const std::string& prefix) = 0;
  // For messages: the directory or URL.
  virtual std::string describe() const = 0;
};

// Where the repository is: --repo and, for S3, where the store is.
struct RepositoryOptions {
  std::string url;          // DIR, file://DIR or s3://BUCKET[/PREFIX]
  std::string s3_endpoint;  // http(s)://HOST[:PORT]; default AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS
  std::string s3_region;    // default AWS_REGION, AWS_DEFAULT_REGION, us-east-1
  std::string s3_addressing = "path";  // path (HOST/BUCKET/KEY) or virtual (BUCKET.HOST/KEY)
};

// What a command does with the repository: backup create makes a local directory that does
// not exist yet; every other command reads or changes backups that must be there, so a
// mistyped --repo is an error (exit 20), not an empty repository made on the spot.
enum class RepositoryUse { create, existing };

// A directory. Objects are files under it; put() writes a temporary file, syncs it, renames
// it into place and syncs the directory.
std::unique_ptr<Repository> open_local_repository(const std::string& dir, RepositoryUse use);
// Chooses the driver from the --repo value (backup/s3_repository.hpp for S3): s3://BUCKET/PREFIX is a bucket, a path (or
// file://PATH) a local directory.
std::unique_ptr<Repository> open_repository(const RepositoryOptions& options, RepositoryUse use);

// `key` when it stays inside the repository (no "..", not absolute); keys are decant's own,
// so anything else is a bug: Error(internal).
const std::string& checked_key(const std::string& key);
// `prefix` as a key remove_prefix() may remove: an object or a backup's folder, never the
// repository, a top folder or anything climbing out. Throws Error(internal) otherwise.
std::string removable_key(const std::string& prefix);

}  // namespace decant::backup
