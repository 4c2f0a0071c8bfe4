#pragma once
// A fixed set of worker threads taking tasks from a priority queue. Tasks may submit
// more tasks (a table's index builds once its data is in). The first failure cancels
// what is still queued and stops the run (its running statements are cancelled, so the
// other tasks end quickly); wait() rethrows that first failure once they have ended.
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "process/run_context.hpp"

namespace decant::engine {

// `requested` workers, or one per CPU when it is 0 (the default of --jobs).
int resolve_jobs(int requested);

class TaskPool {
 public:
  // `worker` is the index of the thread running the task, for per-worker caches.
  using Task = std::function<void(int worker)>;

  // `context`: whose stop a failure requests (the process's run by default).
  explicit TaskPool(int workers, RunContext& context = run_context());
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Higher priority runs first; equal priorities run in submission order.
  void submit(int priority, Task task);
  // Blocks until every task has run; rethrows the first failure.
  void wait();
  int workers() const { return static_cast<int>(threads_.size()); }

 private:
  void run(int worker);

  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable idle_;
  std::map<int, std::deque<Task>, std::greater<>> queue_;
  int running_ = 0;
  bool stopping_ = false;
  std::exception_ptr failure_;
  RunContext& context_;
  std::vector<std::thread> threads_;
};

}  // namespace decant::engine
