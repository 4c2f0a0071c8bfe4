#pragma once
// Replaces a small file (a report, a values overlay) so that a reader sees the old
// content or the new, never a mix: the text goes to a temporary file of its own beside
// it, is synced, then renamed over it. Two writers at once (the main thread and the
// signal watcher's last words) each rename a whole file; the later one wins.
#include <filesystem>
#include <string>
#include <string_view>

namespace decant {

// The file is private to the user (0600). Throws Error(local_io) naming the path, with
// `hint` as what to do.
void replace_file(const std::filesystem::path& path, std::string_view text, const std::string& hint);

}  // namespace decant
