#include "common/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace decant::log {
namespace {
std::mutex g_mutex;
bool g_verbose = false;
std::function<void()> g_before;
std::function<void()> g_after;

std::string timestamp() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}
}  // namespace

void set_verbose(bool verbose) { g_verbose = verbose; }

void set_display_hooks(std::function<void()> before, std::function<void()> after) {
  std::lock_guard lock(g_mutex);
  g_before = std::move(before);
  g_after = std::move(after);
}

void write(Level level, const std::string& line) {
  if (level == Level::debug && !g_verbose) return;
  std::lock_guard lock(g_mutex);
  if (g_before) g_before();
  const char* tag = level == Level::warn ? "warning: " : "";
  std::fprintf(stderr, "%s %s%s\n", timestamp().c_str(), tag, line.c_str());
  std::fflush(stderr);
  if (g_after) g_after();
}

}  // namespace decant::log

namespace decant::log {
void locked(const std::function<void()>& draw) {
  std::lock_guard lock(g_mutex);
  draw();
}
}  // namespace decant::log
