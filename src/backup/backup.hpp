#pragma once
// `decant backup create|list|verify|restore`: logical backups into a repository, each
// item's rows through the copy engines into compressed, encrypted chunks, with an
// encrypted manifest that restores and verifications check every byte against.
#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "backup/repository.hpp"
#include <vector>

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
  int jobs = 0;
  bool resume = false;
  size_t chunk_bytes = 64u << 20;
  std::optional<std::string> state_dir;
  std::optional<std::string> report_path;
  std::chrono::milliseconds progress_interval{10000};
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
  int jobs = 0;
  std::optional<std::string> report_path;
  std::chrono::milliseconds progress_interval{10000};
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
  int jobs = 0;
  bool resume = false;
  std::optional<std::string> state_dir;
  std::optional<std::string> report_path;
  std::chrono::milliseconds progress_interval{10000};
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
  int jobs = 0;
  std::optional<std::string> report_path;
  std::chrono::milliseconds progress_interval{10000};
};

int create(const CreateOptions& options);
struct UpgradeCheckOptions {
  RepositoryOptions repo;
  int64_t max_age_seconds = 24 * 3600;
};

int list(const ListOptions& options);
// 0 when a complete, fully verified pre-upgrade backup newer than max_age exists; throws
// Error(no_recent_backup) saying what is missing otherwise.
int upgrade_check(const UpgradeCheckOptions& options);
int verify(const VerifyOptions& options);
int restore(const RestoreOptions& options);
// Deletes backups older than keep_days, except: the newest verified one, the newest
// pre-upgrade one, the newest complete one, and any still being written.
int prune(const PruneOptions& options);
int rotate_keys(const RotateOptions& options);
// Writes a backup in a format its engine's own tools read (mongodump's directory layout).
int export_backup(const ExportOptions& options);

}  // namespace decant::backup
