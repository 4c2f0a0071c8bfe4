#pragma once
// A file that lives only in memory (memfd), for a child tool that wants a path (pg_dump
// --file, pg_restore FILE) where decant must not put plaintext on disk. Children open it
// by the path /proc/<decant's pid>/fd/<fd>; it is gone when the object is.
#include <string>
#include <string_view>

namespace decant {

class MemoryFile {
 public:
  explicit MemoryFile(const std::string& name);
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  const std::string& path() const { return path_; }
  std::string read_all() const;
  void write_all(std::string_view bytes);

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace decant
