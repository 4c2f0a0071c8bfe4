#pragma once
// A backup's parts restored into servers: what `backup restore` does, and `backup verify
// --restore-*` into scratch servers.
#include <optional>
#include <set>
#include <string>

#include "backup/manifest.hpp"
#include "crypto/age.hpp"

namespace decant::engine {
class RunFrame;
}

namespace decant::backup {

class Repository;

// Where a restore writes, and what it may replace there.
struct RestoreTargets {
  std::optional<std::string> mongo_uri, pg_uri, pg_bin;
  std::set<std::string> extension_update;
  bool drop = false, clean = false;
  // A scratch restore (verify --restore-*) refuses the servers the backup came from.
  bool scratch = false;
};

// Checks the targets, then restores the manifest's parts into them in the frame.
void restore_parts(const Manifest& manifest, const Repository& repo, const crypto::AgeKeys& keys,
                   const RestoreTargets& to, engine::RunFrame& frame);

// The targets as messages, reports and state identities show them: never the password.
std::string display_of(const std::optional<std::string>& pg, const std::optional<std::string>& mongo);

}  // namespace decant::backup
