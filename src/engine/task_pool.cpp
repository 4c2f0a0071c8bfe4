#include "engine/task_pool.hpp"

#include <algorithm>
#include <utility>

namespace decant::engine {

int resolve_jobs(int requested) {
  return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

TaskPool::TaskPool(int workers, RunContext& context) : context_(context) {
  if (workers < 1) workers = 1;
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { run(i); });
}

TaskPool::~TaskPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  work_ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void TaskPool::submit(int priority, Task task) {
  {
    std::lock_guard lock(mutex_);
    if (failure_) return;  // a failed run takes no new work
    queue_[priority].push_back(std::move(task));
  }
  work_ready_.notify_one();
}

void TaskPool::wait() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
  if (failure_) {
    auto f = std::exchange(failure_, nullptr);
    lock.unlock();
    std::rethrow_exception(f);
  }
}

void TaskPool::run(int worker) {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto it = queue_.begin();
      task = std::move(it->second.front());
      it->second.pop_front();
      if (it->second.empty()) queue_.erase(it);
      ++running_;
    }
    std::exception_ptr error;
    try {
      task(worker);
    } catch (...) {
      error = std::current_exception();
    }
    bool first_failure = false;
    {
      std::lock_guard lock(mutex_);
      --running_;
      if (error && !failure_) {
        failure_ = std::move(error);
        queue_.clear();
        first_failure = true;
      }
      // Dropped under the lock: libstdc++'s exception_ptr count is invisible to TSan, and
      // the failure is the only owner once wait() has taken it.
      error = nullptr;
      if (queue_.empty() && running_ == 0) idle_.notify_all();
    }
    // Outside the lock: the stop hooks cancel statements that other tasks are waiting on.
    if (first_failure) context_.request_stop(StopReason::failure);
  }
}

}  // namespace decant::engine
