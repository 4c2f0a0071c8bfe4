#include "process/run_context.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "engine/task_pool.hpp"

namespace decant {
namespace {

TEST(RunContext, AStopRunsEveryHookOnceAndTheFirstReasonWins) {
  RunContext context;
  std::vector<int> rounds_a, rounds_b;
  auto a = context.on_stop([&](int round) { rounds_a.push_back(round); });
  auto b = context.on_stop([&](int round) { rounds_b.push_back(round); });
  EXPECT_FALSE(context.stop_requested());
  EXPECT_NO_THROW(context.throw_if_stopped());
  context.request_stop(StopReason::failure);
  context.request_stop(StopReason::signal);  // not a second stop
  EXPECT_EQ(context.stop_reason(), StopReason::failure);
  EXPECT_EQ(rounds_a, std::vector<int>{1});
  EXPECT_EQ(rounds_b, std::vector<int>{1});
  context.repeat_stop_hooks();
  EXPECT_EQ(rounds_a, (std::vector<int>{1, 2}));
  try {
    context.throw_if_stopped();
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::interrupted);
    EXPECT_NE(e.one_line().find("--resume"), std::string::npos);
  }
}

TEST(RunContext, AHookRegisteredAfterTheStopRunsAtOnce) {
  RunContext context;
  context.request_stop(StopReason::signal);
  int calls = 0;
  auto hook = context.on_stop([&](int round) {
    EXPECT_EQ(round, 1);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(RunContext, AnUnregisteredHookIsNotCalled) {
  RunContext context;
  int calls = 0;
  {
    auto hook = context.on_stop([&](int) { ++calls; });
  }
  auto kept = context.on_stop([&](int) { ++calls; });
  kept.reset();
  context.request_stop(StopReason::signal);
  EXPECT_EQ(calls, 0);
}

TEST(RunContext, UnregisteringWaitsForAHookThatIsRunning) {
  RunContext context;
  std::promise<void> entered;
  std::atomic<bool> finished{false};
  auto hook = context.on_stop([&](int) {
    entered.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    finished = true;
  });
  std::thread stopper([&] { context.request_stop(StopReason::signal); });
  entered.get_future().wait();
  hook.reset();  // must not return while the hook runs: it may use what it guards
  EXPECT_TRUE(finished.load());
  stopper.join();
}

TEST(RunContext, TheFirstFailedTaskStopsTheRunAndCancelsTheOthers) {
  RunContext context;
  engine::TaskPool pool(2, context);
  std::promise<void> waiting;
  std::atomic<bool> cancelled{false};
  // A "statement" that runs until its stop hook cancels it, as PQcancel does.
  pool.submit(0, [&](int) {
    std::atomic<bool> cancel{false};
    auto hook = context.on_stop([&](int) { cancel = true; });
    waiting.set_value();
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cancel && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancelled = cancel.load();
    context.throw_if_stopped();
  });
  waiting.get_future().wait();
  pool.submit(0, [](int) { throw std::runtime_error("the real failure"); });
  try {
    pool.wait();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "the real failure") << "the first failure is the one reported";
  }
  EXPECT_TRUE(cancelled.load());
  EXPECT_EQ(context.stop_reason(), StopReason::failure);
}

}  // namespace
}  // namespace decant
