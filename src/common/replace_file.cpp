#include "common/replace_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/error.hpp"

namespace decant {

void replace_file(const std::filesystem::path& path, std::string_view text, const std::string& hint) {
  auto fail = [&](int err) {
    throw Error(ExitCode::local_io, "cannot write " + path.string() + ": " + std::strerror(err), hint);
  };
  std::error_code ec;
  auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(ec.value());
  // mkstemp: a name no other writer uses, created 0600.
  std::string pattern = path.string() + ".XXXXXX";
  std::vector<char> tmp(pattern.begin(), pattern.end());
  tmp.push_back('\0');
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) fail(errno);
  const char* at = text.data();
  size_t left = text.size();
  int err = 0;
  while (left > 0 && err == 0) {
    ssize_t n = ::write(fd, at, left);
    if (n < 0 && errno != EINTR) err = errno;
    if (n > 0) {
      at += n;
      left -= static_cast<size_t>(n);
    }
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  ::close(fd);
  if (err == 0 && ::rename(tmp.data(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.data());
    fail(err);
  }
}

}  // namespace decant
