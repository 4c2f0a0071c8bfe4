#include "backup/chunks.hpp"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>
#include <future>
#include <cstdint>
#include <cstring>

#include "backup/repository.hpp"
#include "common/error.hpp"
#include "crypto/primitives.hpp"
#include "engine/task_pool.hpp"
#include "common/c_handle.hpp"

namespace decant::backup {
namespace {


void check_zstd(size_t rc, const char* what) {
  if (ZSTD_isError(rc)) throw Error(ExitCode::internal, fmt::format("zstd {} failed: {}", what, ZSTD_getErrorName(rc)));
}

uint32_t little_endian32(const char* p) {
  auto b = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24;
}

void append_record(std::string& out, std::string_view row, Framing framing) {
  switch (framing) {
    case Framing::lines:
      if (row.empty() || std::memchr(row.data(), '\n', row.size()) != row.data() + row.size() - 1)
        throw Error(ExitCode::internal, "a row to frame by lines is not one line");
      break;
    case Framing::bson:
      if (row.size() < 5 || little_endian32(row.data()) != row.size())
        throw Error(ExitCode::internal, "a row to frame as BSON does not start with its length");
      break;
    case Framing::length_prefixed: {
      uint32_t n = static_cast<uint32_t>(row.size());
      if (n != row.size()) throw Error(ExitCode::internal, "a row of 4 GiB or more");
      char header[4] = {static_cast<char>(n & 0xff), static_cast<char>(n >> 8 & 0xff), static_cast<char>(n >> 16 & 0xff),
                        static_cast<char>(n >> 24 & 0xff)};
      out.append(header, 4);
      break;
    }
  }
  out.append(row);
}

// The next record of `plain` from `at`; false at its end, throws `bad` when cut short.
template <typename Bad>
bool next_record(const std::string& plain, size_t& at, std::string_view& row, Framing framing, Bad bad) {
  if (at == plain.size()) return false;
  size_t left = plain.size() - at;
  size_t header = 0, n = 0;  // the record's own length field, then its row
  switch (framing) {
    case Framing::lines: {
      const void* nl = std::memchr(plain.data() + at, '\n', left);
      if (!nl) bad();
      n = static_cast<size_t>(static_cast<const char*>(nl) - (plain.data() + at)) + 1;
      break;
    }
    case Framing::bson:  // the document's length counts itself
      if (left < 5) bad();
      n = little_endian32(plain.data() + at);
      if (n < 5 || n > left) bad();
      break;
    case Framing::length_prefixed:
      if (left < 4) bad();
      header = 4;
      n = little_endian32(plain.data() + at);
      if (left - 4 < n) bad();
      break;
  }
  if (header + n == 0) bad();  // a framing this build does not know
  row = std::string_view(plain).substr(at + header, n);
  at += header + n;
  return true;
}

}  // namespace

std::string framing_name(Framing f) {
  switch (f) {
    case Framing::lines: return "lines";
    case Framing::bson: return "bson";
    case Framing::length_prefixed: break;
  }
  return "length";
}

Framing framing_from_name(const std::string& name) {
  if (name == "length") return Framing::length_prefixed;
  if (name == "lines") return Framing::lines;
  if (name == "bson") return Framing::bson;
  throw Error(ExitCode::backup_manifest, "the manifest names a framing this decant does not know: " + name,
              "restore with a newer decant");
}

namespace {

// One zstd frame back to its bytes; false when it is not a whole valid frame or gives more
// than `limit` bytes (a chunk says how many it holds: a forged one cannot exhaust memory).
bool decompress(std::string_view frame, std::string& out, size_t limit = SIZE_MAX) {
  CHandle<ZSTD_DCtx, ZSTD_freeDCtx> d(ZSTD_createDCtx());
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  std::string buffer(ZSTD_DStreamOutSize(), '\0');
  for (;;) {
    ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
    size_t rc = ZSTD_decompressStream(d.get(), &o, &in);
    if (ZSTD_isError(rc)) return false;
    if (o.pos > limit - std::min(limit, out.size())) return false;
    out.append(buffer.data(), o.pos);
    if (rc == 0 && in.pos == in.size) return true;
    if (in.pos == in.size && o.pos < o.size) return false;  // the input is used up inside the frame
  }
}

}  // namespace

struct ChunkWriter::Compressor {
  CHandle<ZSTD_CCtx, ZSTD_freeCCtx> ctx{ZSTD_createCCtx()};
  std::string staged;  // records gathered before they go through zstd in one call

  Compressor(int level, int workers) {
    check_zstd(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_compressionLevel, level), "level");
    if (workers > 0) check_zstd(ZSTD_CCtx_setParameter(ctx.get(), ZSTD_c_nbWorkers, workers), "workers");
  }
  void feed(std::string& out, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{staged.data(), staged.size(), 0};
    size_t remaining = 1;
    do {
      size_t at = out.size();
      out.resize(at + ZSTD_CStreamOutSize());
      ZSTD_outBuffer o{out.data() + at, ZSTD_CStreamOutSize(), 0};
      remaining = ZSTD_compressStream2(ctx.get(), &o, &in, mode);
      check_zstd(remaining, "compression");
      out.resize(at + o.pos);
    } while (mode == ZSTD_e_end ? remaining != 0 : in.pos < in.size);
    staged.clear();
  }
};

ChunkWriter::ChunkWriter(Repository& repo, std::string key_prefix, const ChunkSettings& settings, Framing framing,
                         StoredChunks& out)
    : repo_(repo), key_prefix_(std::move(key_prefix)), settings_(settings), framing_(framing),
      compressor_(std::make_unique<Compressor>(settings.zstd_level, settings.zstd_workers)), out_(out) {
  out_ = StoredChunks();
}

ChunkWriter::~ChunkWriter() {
  // An abandoned writer (a failed pump) still waits for the chunk being sealed.
  if (sealing_.valid()) sealing_.wait();
}

void ChunkWriter::write(std::string_view row) {
  if (chunk_rows_ > 0 && chunk_raw_ + row.size() > settings_.chunk_bytes) store_chunk();
  append_record(compressor_->staged, row, framing_);
  chunk_digest_.add_row(row);
  ++chunk_rows_;
  chunk_raw_ += row.size();
  if (compressor_->staged.size() >= (1u << 20)) compressor_->feed(compressed_, ZSTD_e_continue);
}

void ChunkWriter::store_chunk() {
  compressor_->feed(compressed_, ZSTD_e_end);
  // The chunk is checked, sealed and stored beside the reading of the next one; one at a
  // time, so that chunks are stored in order and memory stays bounded.
  wait_for_sealing();
  Pending chunk{std::move(compressed_), chunk_rows_, chunk_raw_, chunk_digest_, out_.chunks.size() + 1};
  sealing_ = std::async(std::launch::async, [this, c = std::move(chunk)] { seal(c); });
  compressed_ = std::string();
  chunk_rows_ = chunk_raw_ = 0;
  chunk_digest_ = engine::RowDigest();
}

void ChunkWriter::wait_for_sealing() {
  if (sealing_.valid()) sealing_.get();  // rethrows the sealer's failure
}

void ChunkWriter::seal(const Pending& chunk) {
  // The compressor's output must give back exactly the rows that went in.
  std::string plain;
  engine::RowDigest back;
  size_t at = 0;
  std::string_view row;
  auto cut = [&] { throw Error(ExitCode::internal, "a compressed chunk does not give back its rows"); };
  if (!decompress(chunk.compressed, plain)) cut();
  while (next_record(plain, at, row, framing_, cut)) back.add_row(row);
  if (!(back == chunk.digest)) cut();
  std::string sealed = crypto::age_encrypt(chunk.compressed, settings_.recipients);
  ChunkInfo info;
  info.key = fmt::format("{}{:06}.zst.age", key_prefix_, chunk.number);
  info.sha256 = crypto::to_hex(crypto::sha256(sealed));
  info.size = sealed.size();
  info.rows = chunk.rows;
  info.raw_bytes = chunk.raw_bytes;
  repo_.put(info.key, sealed);
  if (repo_.size(info.key) != info.size)
    throw Error(ExitCode::local_io, "the repository did not keep the chunk " + info.key + " as written",
                "check the repository's storage, then run again with --resume");
  out_.digest.merge(back);
  out_.chunks.push_back(std::move(info));
}

uint64_t ChunkWriter::finish() {
  if (chunk_rows_ > 0) store_chunk();
  wait_for_sealing();
  out_.written = true;
  uint64_t rows = 0;
  for (const auto& c : out_.chunks) rows += c.rows;
  return rows;
}

ChunkReader::ChunkReader(const Repository& repo, const ItemEntry& item, const crypto::AgeKeys& keys)
    : repo_(repo), item_(item), keys_(keys), framing_(framing_from_name(item.framing)) {}

ChunkReader::~ChunkReader() = default;

void ChunkReader::load(size_t index) {
  const ChunkInfo& chunk = item_.chunks[index];
  std::string compressed = prefetched_.valid() ? prefetched_.get() : open_chunk(repo_, item_, chunk, keys_);
  if (index + 1 < item_.chunks.size())
    prefetched_ = std::async(std::launch::async, [this, following = &item_.chunks[index + 1]] {
      return open_chunk(repo_, item_, *following, keys_);
    });
  plain_.clear();
  at_ = 0;
  if (!decompress(compressed, plain_, chunk.raw_bytes + 4 * chunk.rows))
    throw Error(ExitCode::backup_corrupt,
                fmt::format("{} {}: the chunk {} does not decompress to its rows", item_.kind, item_.display(), chunk.key),
                "restore another backup (decant backup list); decant backup verify tells which are intact");
  chunk_rows_left_ = chunk.rows;
}

bool ChunkReader::next(std::string_view& row) {
  for (;;) {
    auto cut = [&] {
      throw Error(ExitCode::backup_corrupt,
                  fmt::format("{} {}: the chunk {} ends inside a row", item_.kind, item_.display(),
                              item_.chunks[next_chunk_ - 1].key),
                  "restore another backup (decant backup list)");
    };
    if (next_chunk_ > 0 && next_record(plain_, at_, row, framing_, cut)) {
      if (chunk_rows_left_-- == 0) break;
      digest_.add_row(row);
      return true;
    }
    if (next_chunk_ > 0 && chunk_rows_left_ != 0) break;
    if (next_chunk_ == item_.chunks.size()) {
      if (digest_.rows() != item_.rows || digest_.hex() != item_.digest)
        throw Error(ExitCode::backup_corrupt,
                    fmt::format("{} {}: its chunks hold {} rows (digest {}) where the manifest says {} ({}): a chunk "
                                "is missing from the manifest or belongs to another item",
                                item_.kind, item_.display(), digest_.rows(), digest_.hex(), item_.rows, item_.digest),
                    "restore another backup (decant backup list)");
      return false;
    }
    load(next_chunk_++);
  }
  throw Error(ExitCode::backup_corrupt,
              fmt::format("{} {}: the chunk {} holds another number of rows than the manifest says", item_.kind,
                          item_.display(), item_.chunks[next_chunk_ - 1].key),
              "restore another backup (decant backup list)");
}

namespace {
[[noreturn]] void damaged(const ItemEntry& item, const ChunkInfo& chunk, const std::string& what) {
  throw Error(ExitCode::backup_corrupt, fmt::format("{} {}: the chunk {} {}", item.kind, item.display(), chunk.key, what),
              "restore another backup (decant backup list); decant backup verify tells which are intact");
}
}  // namespace

std::string fetch_chunk(const Repository& repo, const ItemEntry& item, const ChunkInfo& chunk) {
  auto bytes = repo.get(chunk.key);
  if (!bytes) damaged(item, chunk, "is missing");
  if (bytes->size() != chunk.size)
    damaged(item, chunk,
            fmt::format("has {} bytes where the manifest says {} (truncated or replaced)", bytes->size(), chunk.size));
  if (crypto::to_hex(crypto::sha256(*bytes)) != chunk.sha256)
    damaged(item, chunk, "was altered or belongs to another backup (its SHA-256 is not the manifest's)");
  return std::move(*bytes);
}

std::string open_chunk(const Repository& repo, const ItemEntry& item, const ChunkInfo& chunk,
                       const crypto::AgeKeys& keys) {
  std::string sealed = fetch_chunk(repo, item, chunk);
  try {
    return crypto::age_decrypt(sealed, keys);
  } catch (const crypto::AgeError& e) {
    if (e.failure() == crypto::AgeFailure::no_match)
      throw Error(ExitCode::backup_key, "none of the given identities opens the chunk " + chunk.key,
                  "give the identity file (--identity) whose public key the backup was made for");
    damaged(item, chunk, std::string("does not decrypt: ") + e.what());
  }
}

std::vector<std::string> check_chunks(const Repository& repo, const ItemEntry& item) {
  std::vector<std::string> problems;
  for (const auto& c : item.chunks) {
    auto size = repo.size(c.key);
    if (!size)
      problems.push_back(fmt::format("{} {}: the chunk {} is missing", item.kind, item.display(), c.key));
    else if (*size != c.size)
      problems.push_back(fmt::format("{} {}: the chunk {} has {} bytes where the manifest says {}", item.kind,
                                     item.display(), c.key, *size, c.size));
  }
  return problems;
}

std::vector<std::string> check_chunks(const Repository& repo, const std::vector<const ItemEntry*>& items, int jobs) {
  std::vector<std::vector<std::string>> found(items.size());
  {
    engine::TaskPool pool(std::max(1, jobs));
    for (size_t i = 0; i < items.size(); ++i)
      pool.submit(0, [&repo, &items, &found, i](int) { found[i] = check_chunks(repo, *items[i]); });
    pool.wait();
  }
  std::vector<std::string> problems;
  for (auto& f : found) problems.insert(problems.end(), f.begin(), f.end());
  return problems;
}

void throw_damaged(const std::vector<std::string>& problems, const std::string& id, const std::string& outcome) {
  throw Error(ExitCode::backup_corrupt,
              fmt::format("backup {} is damaged: {} chunk problem(s), first: {}; {}", id, problems.size(),
                          problems.front(), outcome),
              "restore another backup (decant backup list)");
}

}  // namespace decant::backup
