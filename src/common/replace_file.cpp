#include "common/replace_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace decant {

void replace_file(const std::filesystem::path& path, std::string_view bytes, const std::string& hint) {
  auto fail = [&](int err) {
    throw Error(ExitCode::local_io, "cannot write " + path.string() + ": " + std::strerror(err), hint);
  };
  std::error_code ec;
  auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(ec.value());
  // mkostemp: a name no other writer uses, created 0600. Listings skip ".decant-" names.
  std::string temp = (dir / (".decant-" + path.filename().string() + ".XXXXXX")).string();
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) fail(errno);
  int err = 0;
  for (size_t at = 0; at < bytes.size() && err == 0;) {
    ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) err = n < 0 ? errno : EIO;
    else at += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    fail(err);
  }
  // The rename is durable once the directory is.
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail(errno);
  if (::fsync(dir_fd) != 0) err = errno;
  ::close(dir_fd);
  if (err != 0) fail(err);
}

}  // namespace decant
