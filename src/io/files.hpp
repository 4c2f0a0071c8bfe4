#pragma once
// Writing files so that a crash or a full disk loses nothing and says so in one line.
#include <filesystem>
#include <string>
#include <string_view>

namespace decant {

// Error(local_io) "<what> <path>: <strerror(err)>" with `hint` as what to do: the one way
// a failed system call on a file becomes decant's error.
[[noreturn]] void throw_io_error(const std::string& what, const std::filesystem::path& path, int err,
                                 const std::string& hint);

// Writes all of `bytes` to `fd` (retrying short writes and EINTR): 0, or the errno that
// stopped it.
int write_fully(int fd, std::string_view bytes);
// The same, throwing the error with `path` and `hint`.
void write_all(int fd, std::string_view bytes, const std::filesystem::path& path, const std::string& hint);

// Makes the directory's entries (a rename into it) durable.
void sync_directory(const std::filesystem::path& dir, const std::string& hint);

// Replaces a file (a report, a values overlay, a journal, a backup repository's object) so
// that a reader sees the old content or the new, never a mix, even after a crash: the
// bytes go to a hidden temporary file of its own beside it (".decant-<name>.XXXXXX"), are
// synced, the file is renamed over the old one and the directory synced. Two writers at
// once (the main thread and the signal watcher's last words) each rename a whole file;
// the later one wins. The file is private to the user (0600); missing directories are
// created.
void replace_file(const std::filesystem::path& path, std::string_view bytes, const std::string& hint);

}  // namespace decant
