#include "engine/journal_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>

#include "io/files.hpp"

namespace decant::engine {
namespace fs = std::filesystem;

namespace {

constexpr const char* kStateHint =
    "free disk space there, or make the state directory writable (or choose another with --state-dir or "
    "XDG_STATE_HOME); then run the same command, with --resume to continue a run that had begun";

class FileJournal final : public JournalStore {
 public:
  explicit FileJournal(fs::path dir) : dir_(std::move(dir)) {}
  ~FileJournal() override { close(); }

  std::optional<std::string> read() override {
    std::ifstream in(path(), std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream whole;
    whole << in.rdbuf();
    return whole.str();
  }

  void replace(const std::string& text) override {
    close();
    // A new journal replaces the old one atomically (and makes the directory).
    replace_file(path(), text, kStateHint);
    last_sync_ = std::chrono::steady_clock::now();
  }

  void append(const std::string& lines) override {
    if (fd_ < 0) fd_ = ::open(path().c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) throw_io_error("cannot write", path(), errno, kStateHint);
    write_all(fd_, lines, path(), kStateHint);
    auto now = std::chrono::steady_clock::now();
    if (now - last_sync_ >= std::chrono::seconds(1)) {
      if (::fdatasync(fd_) != 0) throw_io_error("cannot write", path(), errno, kStateHint);
      last_sync_ = now;
    }
  }

  void remove() override {
    close();
    std::error_code ec;
    fs::remove(path(), ec);
  }

  bool present() override {
    std::error_code ec;
    return fs::exists(path(), ec) || ec;
  }

  std::string where() const override { return dir_.string(); }

 private:
  fs::path path() const { return dir_ / "journal"; }
  void close() {
    if (fd_ < 0) return;
    ::fdatasync(fd_);
    ::close(fd_);
    fd_ = -1;
  }

  fs::path dir_;
  int fd_ = -1;  // the journal, open for appending
  std::chrono::steady_clock::time_point last_sync_;
};

}  // namespace

std::unique_ptr<JournalStore> file_journal(fs::path dir) { return std::make_unique<FileJournal>(std::move(dir)); }

}  // namespace decant::engine
