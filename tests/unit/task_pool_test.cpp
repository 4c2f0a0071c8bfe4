#include "engine/task_pool.hpp"

#include <gtest/gtest.h>

#include <deque>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"

namespace decant::engine {
namespace {

// Occupies the pool's only worker until release(), so that what is submitted meanwhile
// queues up behind it.
class Blocker {
 public:
  explicit Blocker(TaskPool& pool, int priority = 1000) {
    pool.submit(priority, [this](int) {
      started_.set_value();
      release_future_.wait();
    });
    started_.get_future().wait();
  }
  void release() { release_.set_value(); }

 private:
  std::promise<void> started_;
  std::promise<void> release_;
  std::shared_future<void> release_future_ = release_.get_future().share();
};

// A run context of the test's own: a failing task stops it, not the process's run that
// other tests share.
RunContext& isolated() {
  static std::deque<RunContext> contexts;
  return contexts.emplace_back();
}

TEST(TaskPool, WorkerCountIsAtLeastOne) {
  EXPECT_EQ(TaskPool(3).workers(), 3);
  EXPECT_EQ(TaskPool(1).workers(), 1);
  EXPECT_EQ(TaskPool(0).workers(), 1);
  EXPECT_EQ(TaskPool(-4).workers(), 1);
}

TEST(TaskPool, WaitWithNothingSubmittedReturns) {
  TaskPool pool(2, isolated());
  pool.wait();
  SUCCEED();
}

TEST(TaskPool, AllTasksRun) {
  TaskPool pool(4, isolated());
  std::atomic<int> count{0};
  std::vector<std::atomic<int>> seen(500);
  for (int i = 0; i < 500; ++i)
    pool.submit(i % 5, [&, i](int) {
      ++count;
      ++seen[static_cast<size_t>(i)];
    });
  pool.wait();
  EXPECT_EQ(count.load(), 500);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].load(), 1) << "task " << i;
}

TEST(TaskPool, HigherPriorityRunsFirstAndEqualPrioritiesInSubmissionOrder) {
  TaskPool pool(1, isolated());
  std::mutex m;
  std::vector<std::string> order;
  auto record = [&](std::string name) {
    return [&, name](int) {
      std::lock_guard lock(m);
      order.push_back(name);
    };
  };
  Blocker blocker(pool);
  pool.submit(1, record("p1"));
  pool.submit(5, record("p5a"));
  pool.submit(-2, record("p-2"));
  pool.submit(3, record("p3"));
  pool.submit(5, record("p5b"));
  pool.submit(0, record("p0"));
  pool.submit(5, record("p5c"));
  blocker.release();
  pool.wait();
  EXPECT_EQ(order, (std::vector<std::string>{"p5a", "p5b", "p5c", "p3", "p1", "p0", "p-2"}));
}

TEST(TaskPool, TasksCanSubmitTasksAndWaitCoversThem) {
  TaskPool pool(3, isolated());
  std::atomic<int> count{0};
  std::function<void(int)> spawn = [&](int depth) {
    pool.submit(depth, [&, depth](int) {
      // Children finish later than their parent: wait() must not return in between.
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++count;
      if (depth < 4)
        for (int i = 0; i < 3; ++i) spawn(depth + 1);
    });
  };
  spawn(0);
  pool.wait();
  EXPECT_EQ(count.load(), 1 + 3 + 9 + 27 + 81);
}

TEST(TaskPool, SubmittedTaskRunsAfterItsParentEvenWithOneWorker) {
  TaskPool pool(1, isolated());
  std::vector<int> order;
  pool.submit(0, [&](int) {
    order.push_back(1);
    pool.submit(0, [&](int) { order.push_back(3); });
    order.push_back(2);
  });
  pool.wait();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TaskPool, FirstFailureIsRethrownAndQueuedTasksAreDropped) {
  TaskPool pool(1, isolated());
  std::atomic<int> ran_after{0};
  Blocker blocker(pool);
  pool.submit(10, [](int) { throw Error(ExitCode::copy_failed, "first failure"); });
  pool.submit(9, [](int) { throw std::runtime_error("second failure"); });
  for (int i = 0; i < 5; ++i) pool.submit(5, [&](int) { ++ran_after; });
  blocker.release();
  try {
    pool.wait();
    FAIL() << "wait() did not rethrow";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::copy_failed);
    EXPECT_STREQ(e.what(), "first failure");
  }
  EXPECT_EQ(ran_after.load(), 0);
}

TEST(TaskPool, WorkSubmittedAfterAFailureIsRefused) {
  TaskPool pool(1, isolated());
  std::atomic<bool> late_ran{false};
  std::promise<void> failing;
  pool.submit(0, [&](int) {
    failing.set_value();
    throw std::runtime_error("boom");
  });
  failing.get_future().wait();
  // Give the worker time to record the failure; submitted before or after, it must not run.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pool.submit(0, [&](int) { late_ran = true; });
  EXPECT_THROW(pool.wait(), std::runtime_error);
  EXPECT_FALSE(late_ran.load());
}

// Submits a task that sleeps 100 ms and then sets `done`; returns once it has started.
void start_slow_task(TaskPool& pool, std::atomic<bool>& done) {
  std::promise<void> started;
  pool.submit(0, [&](int) {
    started.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    done = true;
  });
  started.get_future().wait();
}

TEST(TaskPool, WaitLetsRunningTasksFinishBeforeRethrowing) {
  TaskPool pool(2, isolated());
  std::atomic<bool> slow_done{false};
  start_slow_task(pool, slow_done);
  pool.submit(0, [](int) { throw std::runtime_error("fast failure"); });
  EXPECT_THROW(pool.wait(), std::runtime_error);
  EXPECT_TRUE(slow_done.load()) << "wait() returned while a task was still running";
}

TEST(TaskPool, WaitBlocksWhileTheLastTaskIsStillRunning) {
  // Nothing is queued any more, but a task is running: wait() must wait for it.
  TaskPool pool(1, isolated());
  std::atomic<bool> done{false};
  start_slow_task(pool, done);
  pool.wait();
  EXPECT_TRUE(done.load());
}

TEST(TaskPool, ALaterFailureDoesNotReplaceTheFirst) {
  // Both tasks run at the same time; the second fails only after the first has failed.
  TaskPool pool(2, isolated());
  std::promise<void> second_started, first_threw;
  std::shared_future<void> first_threw_f = first_threw.get_future().share();
  pool.submit(0, [&](int) {
    second_started.get_future().wait();
    first_threw.set_value();
    throw std::runtime_error("first");
  });
  pool.submit(0, [&, first_threw_f](int) {
    second_started.set_value();
    first_threw_f.wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    throw std::runtime_error("second");
  });
  try {
    pool.wait();
    FAIL() << "wait() did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "first");
  }
}

TEST(TaskPool, WorkerIndexesAreInRange) {
  constexpr int kWorkers = 3;
  TaskPool pool(kWorkers, isolated());
  std::mutex m;
  std::set<int> seen;
  for (int i = 0; i < 300; ++i)
    pool.submit(0, [&](int worker) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard lock(m);
      seen.insert(worker);
    });
  pool.wait();
  ASSERT_FALSE(seen.empty());
  EXPECT_GE(*seen.begin(), 0);
  EXPECT_LT(*seen.rbegin(), kWorkers);
}

TEST(TaskPool, EachWorkerHasItsOwnIndex) {
  // Three tasks held at a barrier at the same time must be on three different workers.
  constexpr int kWorkers = 3;
  TaskPool pool(kWorkers, isolated());
  std::mutex m;
  std::condition_variable cv;
  int arrived = 0;
  std::set<int> seen;
  for (int i = 0; i < kWorkers; ++i)
    pool.submit(0, [&](int worker) {
      std::unique_lock lock(m);
      seen.insert(worker);
      ++arrived;
      cv.notify_all();
      cv.wait(lock, [&] { return arrived == kWorkers; });
    });
  pool.wait();
  EXPECT_EQ(seen, (std::set<int>{0, 1, 2}));
}

}  // namespace
}  // namespace decant::engine
