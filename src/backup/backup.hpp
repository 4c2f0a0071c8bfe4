#pragma once
// `decant backup create|list|verify|restore|prune|rotate-keys|export` and `upgrade-check`:
// logical backups into a repository, each item's rows through the copy engines into
// compressed, encrypted chunks, with an encrypted manifest that restores and verifications
// check every byte against. Each command is its own unit (backup/create.cpp, ...).
#include "backup/types.hpp"

namespace decant::backup {

// Each returns 0 or throws decant::Error with the exit code of what went wrong.
int create(const CreateOptions& options);
int list(const ListOptions& options);
int verify(const VerifyOptions& options);
int restore(const RestoreOptions& options);
// Deletes backups older than keep_days, except: the newest verified one, the newest
// pre-upgrade one, the newest complete one, and any still being written.
int prune(const PruneOptions& options);
int rotate_keys(const RotateOptions& options);
// Writes a backup in a format its engine's own tools read (mongodump's directory layout,
// pg_dump's directory format).
int export_backup(const ExportOptions& options);
// 0 when a complete, fully verified pre-upgrade backup newer than max_age exists; throws
// Error(no_recent_backup) saying what is missing otherwise.
int upgrade_check(const UpgradeCheckOptions& options);

}  // namespace decant::backup
