#include "backup/archive_item.hpp"

#include <fmt/format.h>

#include "backup/repository.hpp"
#include "common/error.hpp"
#include "crypto/primitives.hpp"
#include "engine/resume_state.hpp"

namespace decant::backup {
namespace {

// A stable folder per item (names can hold any character; the manifest keeps the name).
std::string item_prefix(const CreateContext& ctx, const ArchiveItem& item) {
  std::string digest = crypto::sha256(item.engine + '\0' + item.group + '\0' + item.name);
  return data_prefix(ctx.backup_id) + crypto::to_hex(digest).substr(0, 20) + "/";
}

}  // namespace

void write_to_backup(engine::ItemSpec& spec, const CreateContext& ctx, const ArchiveItem& item) {
  auto stored = std::make_shared<StoredChunks>();
  std::string prefix = item_prefix(ctx, item);
  spec.target_side = "the backup";
  auto engine_prepare = spec.prepare;
  spec.prepare = [&ctx, prefix, engine_prepare] {
    ctx.repo.remove_prefix(prefix);  // what an interrupted attempt stored
    if (engine_prepare) engine_prepare();
  };
  spec.sink = [&ctx, prefix, stored, framing = item.framing] {
    return std::make_unique<ChunkWriter>(ctx.repo, prefix, ctx.chunks, framing, *stored);
  };
  std::string key = spec.resume_key;
  spec.readback_digest = [&ctx, stored, key, item]() -> engine::RowDigest {
    if (stored->written) return stored->digest;
    // Finished by an earlier run: without a key, its chunks can only be checked as stored.
    auto entry = finished_entry(ctx.state, key, item);
    if (!entry) throw Error(ExitCode::internal, "no record of a finished backup item " + key);
    try {
      for (const auto& chunk : entry->chunks) fetch_chunk(ctx.repo, *entry, chunk);
    } catch (const Error& e) {
      throw Error(e.code(), e.what(), "run the backup again without --resume");
    }
    auto digest = engine::RowDigest::from_hex(entry->rows, entry->digest);
    if (!digest) throw Error(ExitCode::internal, "a malformed digest in the resume state of " + key);
    return *digest;
  };
  spec.add_to_record = [stored, item](nlohmann::json& record) {
    nlohmann::json chunks = nlohmann::json::array();
    for (const auto& c : stored->chunks) chunks.push_back(to_json(c));
    record["chunks"] = chunks;
    record["metadata"] = item.metadata;
  };
}

std::optional<ItemEntry> finished_entry(const engine::ResumeState& state, const std::string& resume_key,
                                        const ArchiveItem& item) {
  auto record = state.get(resume_key);
  if (!record || !record->is_object()) return std::nullopt;
  ItemEntry e = metadata_entry(item);
  e.rows = record->value("rows", uint64_t{0});
  e.digest = record->value("digest", std::string());
  e.metadata = record->value("metadata", item.metadata);
  for (const auto& c : record->value("chunks", nlohmann::json::array())) {
    e.chunks.push_back(chunk_from_json(c));
    e.raw_bytes += e.chunks.back().raw_bytes;
  }
  return e;
}

ItemEntry metadata_entry(const ArchiveItem& item) {
  ItemEntry e;
  e.engine = item.engine;
  e.group = item.group;
  e.name = item.name;
  e.kind = item.kind;
  e.digest = engine::RowDigest().hex();
  e.metadata = item.metadata;
  e.framing = framing_name(item.framing);
  return e;
}

}  // namespace decant::backup
