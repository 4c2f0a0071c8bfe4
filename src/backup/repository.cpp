#include "backup/repository.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "backup/s3_repository.hpp"
#include "common/error.hpp"
#include "io/file_descriptor.hpp"
#include "io/files.hpp"

namespace decant::backup {
namespace fs = std::filesystem;
namespace {

constexpr const char* kRepositoryHint = "free space or fix permissions in the repository, then run again with --resume";

class LocalRepository : public Repository {
 public:
  LocalRepository(fs::path root, RepositoryUse use) : root_(std::move(root)) {
    std::error_code ec;
    // exists() reports "not found" (ENOENT, ENOTDIR) without an error; others (EACCES) with one.
    bool there = fs::exists(root_, ec);
    if (!ec && !there && use == RepositoryUse::existing)
      throw Error(ExitCode::repository, "there is no backup repository at " + root_.string() + " (no such directory)",
                  "check --repo (decant backup create makes the directory)");
    if (!ec) fs::create_directories(root_, ec);
    if (ec || !fs::is_directory(root_))
      throw Error(ExitCode::local_io, "cannot use " + root_.string() + " as a backup repository: " +
                                          (ec ? ec.message() : "not a directory"),
                  "give a directory decant can create and write (--repo)");
  }

  void put(const std::string& key, std::string_view bytes) override {
    fs::path path = at(key);
    make_directories(path.parent_path());
    replace_file(path, bytes, kRepositoryHint);
  }

  std::optional<std::string> get(const std::string& key) const override {
    fs::path path = at(key);
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) return std::nullopt;
      throw_io_error("cannot read", path, errno, kRepositoryHint);
    }
    std::string out;
    char buffer[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_io_error("cannot read", path, errno, kRepositoryHint);
      if (n == 0) return out;
      out.append(buffer, static_cast<size_t>(n));
    }
  }

  std::optional<uint64_t> size(const std::string& key) const override {
    std::error_code ec;
    auto n = fs::file_size(at(key), ec);
    if (ec) return std::nullopt;
    return n;
  }

  std::vector<std::string> list(const std::string& prefix) const override {
    std::vector<std::string> keys;
    // Walk only the directory the prefix names, not the whole repository.
    fs::path dir = at(prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/')));
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return keys;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      std::string key = it->path().lexically_relative(root_).generic_string();
      if (key.rfind(prefix, 0) == 0 && it->path().filename().string().rfind(".decant-", 0) != 0) keys.push_back(key);
    }
    if (ec) throw_io_error("cannot list", dir, ec.value(), kRepositoryHint);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  void remove_prefix(const std::string& prefix) override {
    std::error_code ec;
    fs::path path = at(removable_key(prefix));
    auto removed = fs::remove_all(path, ec);
    if (ec) throw_io_error("cannot remove", path, ec.value(), kRepositoryHint);
    if (removed > 0) sync_directory(path.parent_path(), kRepositoryHint);
  }

  std::string describe() const override { return root_.string(); }

 private:
  // Creates the missing directories down to `dir`, each synced into its parent, so that a
  // file put() reports as stored is reachable after a crash.
  void make_directories(const fs::path& dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    make_directories(dir.parent_path());
    if (!fs::create_directory(dir, ec) && ec) throw_io_error("cannot create", dir, ec.value(), kRepositoryHint);
    sync_directory(dir.parent_path(), kRepositoryHint);
  }

 public:

 private:
  // Keys are decant's own ("backups/ID/..."); anything climbing out is a bug.
  fs::path at(const std::string& key) const { return key.empty() ? root_ : root_ / checked_key(key); }
  fs::path root_;
};

}  // namespace

const std::string& checked_key(const std::string& key) {
  if (key.find("..") != std::string::npos || (!key.empty() && key[0] == '/'))
    throw Error(ExitCode::internal, "a repository key leaves the repository: " + key);
  return key;
}

std::string removable_key(const std::string& prefix) {
  std::string key = prefix;
  while (!key.empty() && key.back() == '/') key.pop_back();
  // Only ever an object or a backup's folder: never the repository or a top folder.
  if (key.find('/') == std::string::npos || key.find("//") != std::string::npos || key.back() == '.')
    throw Error(ExitCode::internal, "refusing to remove \"" + prefix + "\" from the repository");
  return checked_key(key);
}

std::unique_ptr<Repository> open_local_repository(const std::string& dir, RepositoryUse use) {
  return std::make_unique<LocalRepository>(fs::absolute(dir).lexically_normal(), use);
}

std::unique_ptr<Repository> open_repository(const RepositoryOptions& options, RepositoryUse use) {
  std::string_view u = options.url;
  if (u.rfind("file://", 0) == 0) return open_local_repository(std::string(u.substr(7)), use);
  if (u.rfind("s3://", 0) == 0) return open_s3_repository(options);
  if (auto scheme = u.find("://"); scheme != std::string_view::npos)
    throw Error(ExitCode::usage, "the repository " + options.url + " has a scheme decant does not know",
                "give a local directory (or file://DIR) or s3://BUCKET/PREFIX");
  return open_local_repository(options.url, use);
}

}  // namespace decant::backup
