#pragma once
// Where backups live: a store of named objects ("backups/ID/manifest.age"), behind one
// interface so that the commands never know which driver holds them. Today's driver is a
// local directory; an S3 bucket is the next (chosen by the --repo URL).
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

// A directory, created if needed. Objects are files under it; put() writes a temporary
// file, syncs it, renames it into place and syncs the directory.
std::unique_ptr<Repository> open_local_repository(const std::string& dir);
// Chooses the driver from the --repo value: a path (or file://PATH) is a local directory.
std::unique_ptr<Repository> open_repository(const std::string& url);

}  // namespace decant::backup
