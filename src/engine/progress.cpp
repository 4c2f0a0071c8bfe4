#include "engine/progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "common/log.hpp"
#include "engine/task_pool.hpp"

namespace decant::engine {

void run_tasks(ProgressBoard& progress, const std::string& phase, std::chrono::milliseconds interval, int jobs,
               const std::function<void(TaskPool&)>& schedule) {
  progress.set_phase(phase);
  bool live = isatty(STDOUT_FILENO) != 0;
  progress.start(live, live ? std::chrono::milliseconds(500) : interval);
  try {
    TaskPool pool(jobs);
    schedule(pool);
    pool.wait();
  } catch (...) {
    progress.stop();
    throw;
  }
  progress.stop();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string human_duration(double seconds) {
  auto s = static_cast<long>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

ProgressBoard::~ProgressBoard() { stop(); }

ProgressItem& ProgressBoard::add(std::string name, uint64_t expected_bytes, std::string unit) {
  std::lock_guard lock(mutex_);
  items_.push_back(std::make_unique<ProgressItem>(std::move(name), expected_bytes, std::move(unit)));
  return *items_.back();
}

void ProgressBoard::set_phase(std::string phase) {
  {
    std::lock_guard lock(mutex_);
    phase_ = std::move(phase);
  }
  if (!live_ && thread_.joinable()) log::info("{}", phase_);
}

void ProgressBoard::start(bool live, std::chrono::milliseconds interval) {
  live_ = live;
  interval_ = interval;
  started_ = std::chrono::steady_clock::now();
  stopping_ = false;
  if (live_) log::set_display_hooks([this] { clear_live(); }, [this] { draw_live(); });
  thread_ = std::thread([this] { loop(); });
}

void ProgressBoard::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (live_) {
    log::set_display_hooks(nullptr, nullptr);
    log::locked([this] { clear_live(); });
  }
}

std::string ProgressBoard::overall_line() const {
  uint64_t expected = 0, bytes = 0, rows = 0;
  size_t done = 0;
  // The items' own word when they share one; "records" for a mix (a backup of both).
  std::string unit = items_.empty() ? kRows : items_.front()->unit;
  for (const auto& item : items_) {
    if (item->unit != unit) unit = "records";
    expected += item->expected_bytes;
    uint64_t b = item->bytes.load();
    // A finished item counts as its estimate so that a wrong estimate cannot stall the ETA.
    bytes += item->state == 2 ? std::max(b, item->expected_bytes) : std::min(b, item->expected_bytes);
    rows += item->rows.load();
    if (item->state == 2) ++done;
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  double rate = elapsed > 0 ? static_cast<double>(rows) / elapsed : 0;
  double fraction = expected ? std::min(1.0, static_cast<double>(bytes) / static_cast<double>(expected)) : 0.0;
  std::string eta = fraction > 0.01 && fraction < 1.0 ? human_duration(elapsed / fraction - elapsed) : "-";
  return fmt::format("{}: {}/{} done, {:.0f}% of ~{}, {} {}, {:.0f} {}/s, elapsed {}, ETA {}", phase_, done,
                     items_.size(), fraction * 100, human_bytes(expected), rows, unit, rate, unit,
                     human_duration(elapsed), eta);
}

void ProgressBoard::clear_live() {
  for (int i = 0; i < drawn_lines_; ++i) std::fputs("\x1b[1A\x1b[2K", stdout);
  std::fputs("\r", stdout);
  drawn_lines_ = 0;
  std::fflush(stdout);
}

void ProgressBoard::draw_live() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> lines{overall_line()};
  auto now = std::chrono::steady_clock::now();
  for (const auto& item : items_) {
    if (item->state != 1 || lines.size() > 16) continue;
    double secs = std::chrono::duration<double>(now - item->started).count();
    uint64_t b = item->bytes, r = item->rows;
    lines.push_back(fmt::format("  {:<48} {:>10} {:>12} {} {:>9.0f} {}/s", item->name, human_bytes(b), r, item->unit,
                                secs > 0 ? static_cast<double>(r) / secs : 0.0, item->unit));
  }
  for (const auto& l : lines) std::fprintf(stdout, "%s\n", l.c_str());
  drawn_lines_ = static_cast<int>(lines.size());
  std::fflush(stdout);
}

void ProgressBoard::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (live_) {
      log::locked([this] {
        clear_live();
        draw_live();
      });
    } else {
      std::string line;
      {
        std::lock_guard l(mutex_);
        line = overall_line();
      }
      log::locked([&] {
        std::fprintf(stdout, "progress: %s\n", line.c_str());
        std::fflush(stdout);
      });
    }
    lock.lock();
  }
}

}  // namespace decant::engine
