#pragma once
// Live progress: on a terminal a redrawn block (overall line + one line per active
// item); otherwise a plain line every few seconds, fit for logs.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace decant::engine {

// What an item's records are called in progress lines: a table's rows, a collection's
// documents.
inline constexpr const char* kRows = "rows";
inline constexpr const char* kDocuments = "documents";

struct ProgressItem {
  ProgressItem(std::string item_name, uint64_t expected, std::string counted)
      : name(std::move(item_name)), expected_bytes(expected), unit(std::move(counted)) {}
  const std::string name;
  const uint64_t expected_bytes;  // an estimate, for the ETA
  const std::string unit;         // what `rows` counts: "rows", "documents"
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> rows{0};
  std::atomic<int> state{0};  // 0 pending, 1 active, 2 done
  std::chrono::steady_clock::time_point started;

  void begin() {
    started = std::chrono::steady_clock::now();
    state = 1;
  }
  void finish() { state = 2; }
};

class ProgressBoard {
 public:
  ProgressBoard() = default;
  ~ProgressBoard();
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;

  // `unit`: what the item's records are called ("documents" for a collection).
  ProgressItem& add(std::string name, uint64_t expected_bytes, std::string unit = kRows);
  void set_phase(std::string phase);
  // live: redraw on a terminal; otherwise print a line every `interval`.
  void start(bool live, std::chrono::milliseconds interval);
  void stop();

 private:
  void loop();
  std::string overall_line() const;
  void draw_live();
  void clear_live();

  mutable std::mutex mutex_;
  std::deque<std::unique_ptr<ProgressItem>> items_;
  std::string phase_;
  bool live_ = false;
  int drawn_lines_ = 0;
  std::chrono::milliseconds interval_{10000};
  std::chrono::steady_clock::time_point started_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

class TaskPool;

// Runs the tasks `schedule` submits on `jobs` workers while `progress` shows them: live
// when stdout is a terminal, a line every `interval` otherwise. Rethrows the first failure.
void run_tasks(ProgressBoard& progress, const std::string& phase, std::chrono::milliseconds interval, int jobs,
               const std::function<void(TaskPool&)>& schedule);

double seconds_since(std::chrono::steady_clock::time_point start);
std::string human_bytes(uint64_t bytes);
std::string human_duration(double seconds);

}  // namespace decant::engine
