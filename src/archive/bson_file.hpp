#pragma once
// BSON files as mongodump writes them: documents back to back, each starting with its
// little-endian int32 length; plain or gzip-compressed (".bson.gz"). They plug into the
// engine as a RowSource and a RowSink, so a dump or a restore is the same pump() as a
// server-to-server copy.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/stream.hpp"

namespace decant::archive {

// Reads documents from a .bson or .bson.gz file (gzip is detected from the content).
class BsonFileSource : public engine::RowSource {
 public:
  explicit BsonFileSource(const std::filesystem::path& path);
  ~BsonFileSource() override;
  BsonFileSource(const BsonFileSource&) = delete;
  BsonFileSource& operator=(const BsonFileSource&) = delete;
  bool next(std::string_view& row) override;

 private:
  std::filesystem::path path_;
  gzFile file_ = nullptr;
  std::string buffer_;
};

// Writes rows as they are (BSON documents, COPY text, large-object bytes) to a file,
// gzip-compressed when `gzip`. finish() flushes and syncs; the file is written under a
// short temporary name in the same directory (".decant-XXXXXX") and renamed into place,
// so a reader never sees half a file.
class FileSink : public engine::RowSink {
 public:
  FileSink(const std::filesystem::path& path, bool gzip);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  void write(std::string_view row) override;
  uint64_t finish() override;

 private:
  void close();
  std::filesystem::path path_;
  std::filesystem::path temp_;
  bool gzip_;
  gzFile gz_ = nullptr;
  std::FILE* plain_ = nullptr;
  uint64_t rows_ = 0;
};

// Writes a small text file (metadata.json), gzip-compressed when `gzip`, atomically.
void write_text_file(const std::filesystem::path& path, const std::string& text, bool gzip);
// Reads a text file written plain or gzip-compressed.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace decant::archive
