#include "io/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "io/file_descriptor.hpp"

namespace decant {

void throw_io_error(const std::string& what, const std::filesystem::path& path, int err, const std::string& hint) {
  throw Error(ExitCode::local_io, what + " " + path.string() + ": " + std::strerror(err), hint);
}

int write_fully(int fd, std::string_view bytes) {
  for (size_t at = 0; at < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    at += static_cast<size_t>(n);
  }
  return 0;
}

void write_all(int fd, std::string_view bytes, const std::filesystem::path& path, const std::string& hint) {
  if (int err = write_fully(fd, bytes)) throw_io_error("cannot write", path, err, hint);
}

void sync_directory(const std::filesystem::path& dir, const std::string& hint) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) throw_io_error("cannot sync the directory", dir, errno, hint);
}

void replace_file(const std::filesystem::path& path, std::string_view bytes, const std::string& hint) {
  std::error_code ec;
  auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_io_error("cannot write", path, ec.value(), hint);
  // mkostemp: a name no other writer uses, created 0600. Listings skip ".decant-" names.
  std::string temp = (dir / (".decant-" + path.filename().string() + ".XXXXXX")).string();
  FileDescriptor fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd.valid()) throw_io_error("cannot write", path, errno, hint);
  try {
    write_all(fd.get(), bytes, path, hint);
    if (::fsync(fd.get()) != 0) throw_io_error("cannot write", path, errno, hint);
    if (::close(fd.release()) != 0) throw_io_error("cannot write", path, errno, hint);
    if (::rename(temp.c_str(), path.c_str()) != 0) throw_io_error("cannot write", path, errno, hint);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  sync_directory(dir, hint);  // the rename is durable once the directory is
}

}  // namespace decant
