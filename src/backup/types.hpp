#pragma once
// The options of the backup commands, as the command line and `migrate --backup-repo` fill
// them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/run_options.hpp"
#include "backup/repository.hpp"

namespace decant::backup {

struct KeyOptions {
  std::vector<std::string> identity_files;  // age identity files (AGE-SECRET-KEY-1...)
};

// Public keys given as --recipient and --recipients-file.
struct RecipientOptions {
  std::vector<std::string> recipients;       // age1...
  std::vector<std::string> recipient_files;  // one age1... per line, '#' comments
};

struct CreateOptions {
  RepositoryOptions repo;
  std::optional<std::string> pg;
  std::vector<std::string> pg_databases;  // empty: every database but the templates
  std::optional<std::string> pg_bin;
  std::optional<std::string> mongo;
  std::vector<std::string> mongo_databases;  // empty: all but admin, local, config
  std::string reason = "manual";
  RecipientOptions recipients;
  size_t chunk_bytes = 64u << 20;
  engine::RunOptions run;
};

struct ListOptions {
  RepositoryOptions repo;
  bool json = false;
};

struct VerifyOptions {
  RepositoryOptions repo;
  std::optional<std::string> id;  // default: the newest complete backup
  bool quick = false;
  std::optional<std::string> restore_mongo;  // a scratch server: restore into it and compare
  std::optional<std::string> restore_pg;     // a scratch server: restore into it and compare
  std::optional<std::string> pg_bin;
  KeyOptions keys;
  engine::RunOptions run;  // never resumed
};

struct RestoreOptions {
  RepositoryOptions repo;
  std::string id;
  std::optional<std::string> pg;
  std::optional<std::string> pg_bin;
  std::set<std::string> extension_update;  // created at the target's default version (pg copy's option)
  bool clean = false;
  std::optional<std::string> mongo;
  bool drop = false;
  KeyOptions keys;
  engine::RunOptions run;
};

struct PruneOptions {
  RepositoryOptions repo;
  int keep_days = 30;
  bool apply = false;  // without it, only say what would go
  bool json = false;
};

struct RotateOptions {
  RepositoryOptions repo;
  std::optional<std::string> id;  // default: every complete backup
  KeyOptions keys;                // the identities that open them today
  RecipientOptions recipients;    // the keys they are encrypted to after
  bool data = false;  // re-encrypt the chunks too, not only the manifests
  int jobs = 0;
};

struct ExportOptions {
  RepositoryOptions repo;
  std::string id;
  std::string format = "mongodump";  // the mongodump directory layout, or pg_dump's directory format
  std::string out_dir;
  KeyOptions keys;
  engine::RunOptions run;  // never resumed
};

struct UpgradeCheckOptions {
  RepositoryOptions repo;
  int64_t max_age_seconds = 24 * 3600;
};

}  // namespace decant::backup
