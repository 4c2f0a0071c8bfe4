#include "archive/bson_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/error.hpp"
#include "io/file_descriptor.hpp"
#include "io/files.hpp"

namespace decant::archive {
namespace fs = std::filesystem;

namespace {

constexpr uint32_t kMaxDocument = 48u << 20;  // well above MongoDB's 16 MiB limit

[[noreturn]] void io_error(const std::string& what, const fs::path& path, int err) {
  throw_io_error(what, path, err,
                 err == ENOSPC ? "free disk space, then run the same command with --resume"
                               : "check the path and its permissions");
}

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

BsonFileSource::BsonFileSource(const fs::path& path) : path_(path) {
  file_ = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (!file_) io_error("cannot open", path, errno ? errno : ENOENT);
  gzbuffer(file_, 1 << 20);
}

BsonFileSource::~BsonFileSource() {
  if (file_) gzclose(file_);
}

bool BsonFileSource::next(std::string_view& row) {
  unsigned char header[4];
  int n = gzread(file_, header, 4);
  if (n == 0) {
    // A clean end, or a compressed stream cut short (a document boundary can fall there).
    int err = Z_OK;
    gzerror(file_, &err);
    if (err != Z_OK)
      throw Error(ExitCode::copy_failed, "the BSON file " + path_.string() + " is truncated or corrupt (gzip)",
                  "dump it again");
    return false;
  }
  if (n != 4)
    throw Error(ExitCode::copy_failed, "the BSON file " + path_.string() + " ends inside a document",
                "the file is truncated or not a BSON file; dump it again");
  uint32_t len = static_cast<uint32_t>(header[0]) | static_cast<uint32_t>(header[1]) << 8 |
                 static_cast<uint32_t>(header[2]) << 16 | static_cast<uint32_t>(header[3]) << 24;
  if (len < 5 || len > kMaxDocument)
    throw Error(ExitCode::copy_failed, "the BSON file " + path_.string() + " holds a document of invalid length " +
                                           std::to_string(len),
                "the file is corrupt or not a BSON file");
  buffer_.resize(len);
  std::memcpy(buffer_.data(), header, 4);
  if (gzread(file_, buffer_.data() + 4, len - 4) != static_cast<int>(len - 4) || buffer_.back() != '\0')
    throw Error(ExitCode::copy_failed, "the BSON file " + path_.string() + " ends inside a document",
                "the file is truncated or corrupt; dump it again");
  row = buffer_;
  return true;
}

FileSink::FileSink(const fs::path& path, bool gzip) : path_(path), gzip_(gzip) {
  // A short temporary name beside the final one (the rename stays on one file system):
  // "<name>.partial" would not fit where mongodump's name takes nearly all of NAME_MAX.
  // It ends in neither .bson nor .metadata.json, so a restore never takes it for a collection.
  std::string name = (path.parent_path() / ".decant-XXXXXX").string();
  FileDescriptor fd(::mkostemp(name.data(), O_CLOEXEC));
  if (fd.get() < 0) io_error("cannot write a temporary file for", path, errno);
  temp_ = name;
  try {
    // mkostemp creates the file 0600; a dump file is readable by others, as mongodump's are.
    if (::fchmod(fd.get(), 0644) != 0) io_error("cannot write", temp_, errno);
    if (gzip_) {
      gz_ = gzdopen(fd.get(), "wb6");
      if (!gz_) io_error("cannot write", temp_, errno ? errno : ENOMEM);
      fd.release();
      gzbuffer(gz_, 1 << 20);
    } else {
      plain_ = ::fdopen(fd.get(), "wb");
      if (!plain_) io_error("cannot write", temp_, errno);
      fd.release();
      std::setvbuf(plain_, nullptr, _IOFBF, 1 << 20);
    }
  } catch (...) {
    ::unlink(temp_.c_str());
    throw;
  }
}

FileSink::~FileSink() {
  close();
  std::error_code ec;
  if (!temp_.empty()) fs::remove(temp_, ec);  // unfinished: never leave a partial file under the real name
}

void FileSink::close() {
  if (gz_) gzclose(gz_);
  if (plain_) std::fclose(plain_);
  gz_ = nullptr;
  plain_ = nullptr;
}

void FileSink::write(std::string_view row) {
  bool ok = gzip_ ? gzwrite(gz_, row.data(), static_cast<unsigned>(row.size())) == static_cast<int>(row.size())
                  : std::fwrite(row.data(), 1, row.size(), plain_) == row.size();
  if (!ok) io_error("cannot write", temp_, errno ? errno : EIO);
  ++rows_;
}

uint64_t FileSink::finish() {
  bool ok = gzip_ ? gzclose(gz_) == Z_OK : (std::fflush(plain_) == 0 && ::fsync(fileno(plain_)) == 0 &&
                                            std::fclose(plain_) == 0);
  gz_ = nullptr;
  plain_ = nullptr;
  if (!ok) io_error("cannot write", temp_, errno ? errno : EIO);
  if (gzip_) fsync_path(temp_);
  std::error_code ec;
  fs::rename(temp_, path_, ec);
  if (ec) io_error("cannot rename", temp_, ec.value());
  temp_.clear();
  return rows_;
}

void write_text_file(const fs::path& path, const std::string& text, bool gzip) {
  FileSink sink(path, gzip);  // the same atomic write; the bytes are just text here
  sink.write(text);
  sink.finish();
}

std::string read_text_file(const fs::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) io_error("cannot open", path, errno ? errno : ENOENT);
  std::string out;
  char buf[65536];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int err = Z_OK;
  gzerror(f, &err);
  gzclose(f);
  if (n < 0 || err != Z_OK) throw Error(ExitCode::copy_failed, "cannot read " + path.string(), "the file is truncated or corrupt");
  return out;
}

}  // namespace decant::archive
