#include "common/memory_file.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace decant {

MemoryFile::MemoryFile(const std::string& name) : fd_(::memfd_create(name.c_str(), MFD_CLOEXEC)) {
  if (fd_ < 0) throw Error(ExitCode::local_io, std::string("cannot create an in-memory file: ") + std::strerror(errno));
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
    if (n < 0) throw Error(ExitCode::local_io, std::string("cannot read an in-memory file: ") + std::strerror(errno));
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
    at += n;
  }
}

void MemoryFile::write_all(std::string_view bytes) {
  if (::ftruncate(fd_, 0) != 0)
    throw Error(ExitCode::local_io, std::string("cannot write an in-memory file: ") + std::strerror(errno));
  for (size_t at = 0; at < bytes.size();) {
    ssize_t n = ::pwrite(fd_, bytes.data() + at, bytes.size() - at, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(ExitCode::local_io, std::string("cannot write an in-memory file: ") + std::strerror(errno));
    at += static_cast<size_t>(n);
  }
}

}  // namespace decant
