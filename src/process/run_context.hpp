#pragma once
// The run context owns cancellation for one command. A stop is requested by SIGINT or
// SIGTERM, or by the first task that fails; every party that can block for long
// registers a stop hook with it: a database connection cancels its running statement
// (PQcancel), a child process has its process group signalled. Loops poll
// stop_requested() between rows or batches. After a stop by signal the command exits
// within a grace period even if some call cannot be cancelled (see signals.hpp).
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace decant {

enum class StopReason { none, signal, failure };

class RunContext {
 public:
  RunContext() = default;
  RunContext(const RunContext&) = delete;
  RunContext& operator=(const RunContext&) = delete;

  // The first reason wins. Runs every registered hook once (in the calling thread).
  void request_stop(StopReason reason);
  bool stop_requested() const noexcept { return reason_.load(std::memory_order_acquire) != StopReason::none; }
  StopReason stop_reason() const noexcept { return reason_.load(std::memory_order_acquire); }
  // Throws Error(interrupted) once a stop was requested.
  void throw_if_stopped() const;
  // Runs the hooks again: a statement sent just after the first round is cancelled too,
  // a child that ignored SIGTERM gets SIGKILL.
  void repeat_stop_hooks();

  // A hook is called with the number of the round (1 for the first) when the run stops,
  // at once if it already has; it must not block for long and never throws. It is
  // unregistered when the returned handle is destroyed, which waits for a running call.
  class Hook {
   public:
    Hook() = default;
    Hook(Hook&&) noexcept = default;
    Hook& operator=(Hook&& other) noexcept;
    Hook(const Hook&) = delete;
    Hook& operator=(const Hook&) = delete;
    ~Hook() { reset(); }
    void reset();

   private:
    friend class RunContext;
    struct State {
      std::mutex mutex;
      std::function<void(int)> fn;
      bool active = true;
    };
    explicit Hook(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
  };
  [[nodiscard]] Hook on_stop(std::function<void(int round)> fn);

 private:
  void run_hooks();
  std::atomic<StopReason> reason_{StopReason::none};
  std::mutex mutex_;
  std::vector<std::weak_ptr<Hook::State>> hooks_;
  int rounds_ = 0;  // under mutex_
};

// The process's run context: what signal handlers, connections and child processes use.
RunContext& run_context();

bool interrupted();
// Throws Error(interrupted) when the process's run was asked to stop.
void throw_if_interrupted();

}  // namespace decant
