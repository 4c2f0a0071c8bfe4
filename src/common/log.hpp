#pragma once
// Thread-safe logging to stderr. The live progress display registers itself so that
// a log line does not tear through the redrawn lines.
#include <fmt/core.h>

#include <functional>
#include <string>

namespace decant::log {

enum class Level { debug, info, warn };

void set_verbose(bool verbose);
void write(Level level, const std::string& line);
// Called with the log mutex held, before and after a line is written: the progress
// display clears and redraws itself.
void set_display_hooks(std::function<void()> before, std::function<void()> after);

template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace decant::log

namespace decant::log {
// Runs `draw` under the log mutex, so a display redraw and a log line never interleave.
void locked(const std::function<void()>& draw);
}  // namespace decant::log
