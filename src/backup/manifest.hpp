#pragma once
// What a backup is: its manifest (encrypted, like the data: names, counts, digests and
// chunk hashes) and its index entry (plain: no names, no data, so that `list` and `prune`
// work without keys). Repository layout:
//   index/ID.json                         the index entry; written first as "writing",
//                                         rewritten "complete" only after the manifest
//   backups/ID/manifest.json.age          the manifest
//   backups/ID/chunks.json                the chunks' keys and sizes, plain: what
//                                         `verify --quick` checks without a key
//   backups/ID/data/ITEM/NNNNNN.zst.age   an item's chunks
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crypto/age.hpp"

#include "backup/repository.hpp"
#include "engine/run_frame.hpp"

namespace decant::backup {

struct ChunkInfo {
  std::string key;     // in the repository
  std::string sha256;  // hex, of the stored (encrypted) bytes
  uint64_t size = 0;   // stored bytes
  uint64_t rows = 0;
  uint64_t raw_bytes = 0;  // the rows' bytes before compression
};

// One thing restored as a whole: a collection, a table's data, a schema section.
struct ItemEntry {
  std::string engine;  // "mongo", "pg"
  std::string group;   // the database
  std::string name;
  std::string kind;  // "collection", "view", ...
  uint64_t rows = 0;
  std::string digest;  // the engine's content digest of the rows (engine::RowDigest hex)
  uint64_t raw_bytes = 0;
  nlohmann::json metadata;  // what recreates it (a collection's options and indexes)
  std::string framing = "length";  // how its chunks' rows are told apart (chunks.hpp)
  std::vector<ChunkInfo> chunks;
  std::string display() const { return group.empty() ? name : group + "." + name; }
};

struct Manifest {
  int format = 1;
  std::string id;
  std::string created;  // UTC, ISO 8601
  std::string reason;   // daily, pre-upgrade, manual
  nlohmann::json sources = nlohmann::json::object();  // per engine: address, version, snapshot
  std::vector<ItemEntry> items;
};

struct IndexEntry {
  std::string id;
  std::string created;
  std::string reason;
  // "writing" until the manifest is stored, then "complete"; "abandoned" when a new create
  // replaced an interrupted one instead of resuming it (prune may then remove it).
  std::string state = "writing";
  std::vector<std::string> engines;
  uint64_t items = 0;
  uint64_t rows = 0;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;
  std::vector<std::string> recipients;  // fingerprints
  std::optional<std::string> verified_at;  // the last full verify that passed
  std::string verified_how;                // "full" or "restore"
};

nlohmann::json to_json(const ChunkInfo& c);
ChunkInfo chunk_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Manifest& m);
Manifest manifest_from_json(const nlohmann::json& j);
nlohmann::json to_json(const IndexEntry& e);
IndexEntry index_from_json(const nlohmann::json& j);

// "20261201T041500Z-3fa2": sorts by time; the suffix keeps two backups of one second apart.
std::string new_backup_id();
bool valid_backup_id(const std::string& id);
std::string utc_now_iso();
// Seconds since the epoch of "2026-12-01T04:16:46Z"; nothing when it is not that form.
std::optional<int64_t> parse_utc(const std::string& text);
// A recipient's short public name for the index (no key material is needed to compute it
// from the key, and it says which key a backup needs).
std::string recipient_fingerprint(const crypto::AgeRecipient& r);

std::string manifest_key(const std::string& id);
std::string index_key(const std::string& id);
std::string data_prefix(const std::string& id);
std::string chunks_key(const std::string& id);
// Every chunk of the manifest's items, as chunks.json lists them.
nlohmann::json chunk_list(const Manifest& m);

// The backup `id` among `all`, which must be complete; without an id, the newest complete
// one. Throws Error(usage) when there is none, Error(backup_manifest) when it is unfinished.
const IndexEntry& find_backup(const std::vector<IndexEntry>& all, const std::optional<std::string>& id,
                              const Repository& repo);

// A repository and one complete backup in it (find_backup), as verify, restore and export
// read one.
struct BackupAt {
  std::unique_ptr<Repository> repo;
  IndexEntry entry;
  void open(const RepositoryOptions& options, const std::optional<std::string>& id);
  // "REPOSITORY ID": how reports and resume states name it.
  std::string name() const { return repo->describe() + " " + entry.id; }
};

// Runs a command that reads one backup (verify, restore, export) in the frame: the backup
// `id` of `repo` is opened first; the run goes from it to `to`.
int run_on_backup(const engine::RunSettings& settings, const RepositoryOptions& repo,
                  const std::optional<std::string>& id, const std::string& to,
                  const std::function<int(engine::RunFrame&, BackupAt&)>& body);

void store_index(Repository& repo, const IndexEntry& entry);
std::optional<IndexEntry> load_index(const Repository& repo, const std::string& id);
// Every index entry, oldest first.
std::vector<IndexEntry> load_all_indexes(const Repository& repo);
void store_manifest(Repository& repo, const Manifest& m, const std::vector<crypto::AgeRecipient>& recipients);
// Decrypts and checks the manifest of `id` (throws: missing, wrong key, tampered, another
// backup's).
Manifest load_manifest(const Repository& repo, const std::string& id, const crypto::AgeKeys& keys);

}  // namespace decant::backup
