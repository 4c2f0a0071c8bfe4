#pragma once
// An item's rows in a backup: cut into chunks of about `chunk_bytes` of rows, each a run of
// records compressed with zstd and then encrypted with age, stored as one repository
// object. How records are told apart is the item's framing (see Framing). A chunk names nothing but its key;
// the manifest says which item it belongs to, its SHA-256 and size.
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "backup/manifest.hpp"
#include "engine/row_hash.hpp"
#include "crypto/age.hpp"
#include "engine/stream.hpp"

namespace decant::backup {

class Repository;

// How the rows of a chunk are told apart. Rows that delimit themselves are stored as they
// are: a COPY text row ends with its only newline, a BSON document starts with its length.
enum class Framing { length_prefixed, lines, bson };
std::string framing_name(Framing f);
Framing framing_from_name(const std::string& name);  // throws Error(backup_manifest)

struct ChunkSettings {
  std::vector<crypto::AgeRecipient> recipients;
  size_t chunk_bytes = 64u << 20;
  int zstd_level = 3;
  int zstd_workers = 0;  // zstd's own threads per chunk stream (0: in the caller's thread)
};

// What a ChunkWriter stored: filled as it goes, kept after the writer is gone.
struct StoredChunks {
  std::vector<ChunkInfo> chunks;
  engine::RowDigest digest;  // of the rows as decompressed back from the stored chunks
  bool written = false;  // finish() returned
};

// Writes an item's rows as chunks under `key_prefix`. Before a chunk is stored its
// compressed bytes are decompressed and hashed again, so that what is stored is known to
// give back the rows; after, its stored size is checked. Nothing in plaintext touches disk.
class ChunkWriter : public engine::RowSink {
 public:
  ChunkWriter(Repository& repo, std::string key_prefix, const ChunkSettings& settings, Framing framing,
              StoredChunks& out);
  ~ChunkWriter() override;
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;
  void write(std::string_view row) override;
  uint64_t finish() override;  // stores the last chunk; the rows that went in

 private:
  struct Compressor;
  struct Pending {
    std::string compressed;
    uint64_t rows = 0, raw_bytes = 0;
    engine::RowDigest digest;
    size_t number = 0;
  };
  void store_chunk();
  void seal(const Pending& chunk);
  void wait_for_sealing();
  Repository& repo_;
  std::string key_prefix_;
  const ChunkSettings& settings_;
  Framing framing_;
  std::unique_ptr<Compressor> compressor_;
  std::string compressed_;
  uint64_t chunk_rows_ = 0, chunk_raw_ = 0;
  engine::RowDigest chunk_digest_;
  StoredChunks& out_;
  std::future<void> sealing_;  // the previous chunk being checked, sealed and stored
};

// Reads an item's rows back from its chunks, each checked against the manifest (present,
// its size, its SHA-256) before it is decrypted, and at the end the rows' count and digest
// against the manifest's. Throws decant::Error: backup_corrupt naming the item and chunk,
// backup_key when no identity opens it.
class ChunkReader : public engine::RowSource {
 public:
  ChunkReader(const Repository& repo, const ItemEntry& item, const crypto::AgeKeys& keys);
  ~ChunkReader() override;
  bool next(std::string_view& row) override;

 private:
  void load(size_t index);
  const Repository& repo_;
  const ItemEntry& item_;
  const crypto::AgeKeys& keys_;
  Framing framing_;
  size_t next_chunk_ = 0;
  std::string plain_;
  size_t at_ = 0;
  uint64_t chunk_rows_left_ = 0;
  engine::RowDigest digest_;
  // The next chunk, fetched and decrypted while this one is read: on an object store the
  // round trips then overlap the restore instead of adding to it.
  std::future<std::string> prefetched_;
};

// A chunk's stored bytes, checked against its manifest entry (present, its size, its
// SHA-256) before anything reads them. Throws Error(backup_corrupt) naming item and chunk.
std::string fetch_chunk(const Repository& repo, const ItemEntry& item, const ChunkInfo& chunk);
// fetch_chunk, decrypted: the chunk's compressed bytes. Throws Error(backup_key) when no
// identity opens it, Error(backup_corrupt) when it does not decrypt.
std::string open_chunk(const Repository& repo, const ItemEntry& item, const ChunkInfo& chunk,
                       const crypto::AgeKeys& keys);
// Every chunk of the item present with its size: what `verify --quick` checks without a
// key. Returns the problems, one line each.
std::vector<std::string> check_chunks(const Repository& repo, const ItemEntry& item);
// The same for several items, `jobs` at a time (an object store answers one at a time).
std::vector<std::string> check_chunks(const Repository& repo, const std::vector<const ItemEntry*>& items, int jobs);
// Throws Error(backup_corrupt) saying how many chunks of backup `id` are missing or of
// another size, naming the first problem; `outcome` ends the message ("nothing was written").
[[noreturn]] void throw_damaged(const std::vector<std::string>& problems, const std::string& id,
                                const std::string& outcome);

}  // namespace decant::backup
