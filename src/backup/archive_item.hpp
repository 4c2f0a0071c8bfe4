#pragma once
// The backup end of an item, the same for every engine: when a backup is created, the
// sink that cuts its rows into chunks, how they are checked, and what the resume state
// records; when it is restored or verified, the source that reads them back.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "backup/chunks.hpp"
#include "backup/manifest.hpp"
#include "engine/item_lifecycle.hpp"

namespace decant::engine {
class ResumeState;
}

namespace decant::backup {

class Repository;
class GroupSpans;

struct CreateContext {
  Repository& repo;
  std::string backup_id;
  const ChunkSettings& chunks;
  engine::ResumeState& state;
  GroupSpans& spans;  // what a part does for a database before its tasks counts in its seconds
};

// What an engine says of an item it backs up.
struct ArchiveItem {
  std::string engine;  // "mongo", "pg"
  std::string group;
  std::string name;
  std::string kind;
  nlohmann::json metadata = nlohmann::json::object();
  Framing framing = Framing::length_prefixed;
};

// Makes `spec` (whose source, progress and names the engine set) write into the backup:
// an earlier attempt's chunks are removed first; the rows go to chunks; what is checked is
// the digest of the rows decompressed back from them (an item an earlier run finished:
// its chunks' hashes); the record keeps the chunk list and the metadata.
void write_to_backup(engine::ItemSpec& spec, const CreateContext& ctx, const ArchiveItem& item);

// The manifest entry of an item this backup has finished (from the resume state), or
// nothing when it is not finished.
std::optional<ItemEntry> finished_entry(const engine::ResumeState& state, const std::string& resume_key,
                                        const ArchiveItem& item);

// A manifest entry for something that has no rows (a view: its metadata is all).
ItemEntry metadata_entry(const ArchiveItem& item);

}  // namespace decant::backup
