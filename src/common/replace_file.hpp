#pragma once
// Replaces a file (a report, a values overlay, a backup repository's object) so that a
// reader sees the old content or the new, never a mix, even after a crash: the bytes go to
// a hidden temporary file of its own beside it (".decant-<name>.XXXXXX"), are synced, the
// file is renamed over the old one and the directory synced. Two writers at once (the
// main thread and the signal watcher's last words) each rename a whole file; the later
// one wins.
#include <filesystem>
#include <string>
#include <string_view>

namespace decant {

// The file is private to the user (0600); missing directories are created. Throws
// Error(local_io) naming the path, with `hint` as what to do.
void replace_file(const std::filesystem::path& path, std::string_view bytes, const std::string& hint);

}  // namespace decant
