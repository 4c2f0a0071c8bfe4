#include "io/memory_file.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/files.hpp"

namespace decant {
namespace {
constexpr const char* kHint = "free memory (an in-memory file holds a schema while it is restored), then run again";
}  // namespace

MemoryFile::MemoryFile(const std::string& name) : fd_(::memfd_create(name.c_str(), MFD_CLOEXEC)) {
  if (fd_ < 0) throw_io_error("cannot create the in-memory file", name, errno, kHint);
  path_ = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd_);
}

MemoryFile::~MemoryFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string MemoryFile::read_all() const {
  std::string out;
  char buffer[1 << 16];
  for (off_t at = 0;;) {
    ssize_t n = ::pread(fd_, buffer, sizeof buffer, at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io_error("cannot read the in-memory file", path_, errno, kHint);
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
    at += n;
  }
}

void MemoryFile::write_all(std::string_view bytes) {
  if (::ftruncate(fd_, 0) != 0) throw_io_error("cannot write the in-memory file", path_, errno, kHint);
  for (size_t at = 0; at < bytes.size();) {
    ssize_t n = ::pwrite(fd_, bytes.data() + at, bytes.size() - at, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw_io_error("cannot write the in-memory file", path_, n < 0 ? errno : EIO, kHint);
    at += static_cast<size_t>(n);
  }
}

}  // namespace decant
