#include "process/run_context.hpp"

#include <algorithm>

#include "common/error.hpp"

namespace decant {

void RunContext::request_stop(StopReason reason) {
  StopReason expected = StopReason::none;
  if (!reason_.compare_exchange_strong(expected, reason, std::memory_order_acq_rel)) return;
  run_hooks();
}

void RunContext::repeat_stop_hooks() {
  if (stop_requested()) run_hooks();
}

void RunContext::throw_if_stopped() const {
  if (stop_requested())
    throw Error(ExitCode::interrupted, "interrupted", "run the same command with --resume to continue where it stopped");
}

void RunContext::run_hooks() {
  std::vector<std::shared_ptr<Hook::State>> live;
  int round = 0;
  {
    std::lock_guard lock(mutex_);
    round = ++rounds_;
    for (const auto& weak : hooks_)
      if (auto state = weak.lock()) live.push_back(std::move(state));
  }
  // Outside mutex_: a hook may block briefly (a cancel request travels to a server), and
  // others must still be able to register and unregister meanwhile.
  for (const auto& state : live) {
    std::lock_guard lock(state->mutex);
    if (state->active) state->fn(round);
  }
}

RunContext::Hook RunContext::on_stop(std::function<void(int)> fn) {
  auto state = std::make_shared<Hook::State>();
  state->fn = std::move(fn);
  int round = 0;
  {
    std::lock_guard lock(mutex_);
    hooks_.erase(std::remove_if(hooks_.begin(), hooks_.end(), [](const auto& w) { return w.expired(); }),
                 hooks_.end());
    hooks_.push_back(state);
    round = rounds_;
  }
  if (round > 0) {
    // Registered after the stop: what it guards must stop too.
    std::lock_guard lock(state->mutex);
    state->fn(1);
  }
  return Hook(state);
}

RunContext::Hook& RunContext::Hook::operator=(Hook&& other) noexcept {
  if (this != &other) {
    reset();
    state_ = std::move(other.state_);
  }
  return *this;
}

void RunContext::Hook::reset() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->mutex);  // waits for a call in progress
    state_->active = false;
  }
  state_.reset();
}

RunContext& run_context() {
  // Never destroyed: children and connections may still use it from static destructors.
  static RunContext* context = new RunContext();
  return *context;
}

bool interrupted() { return run_context().stop_requested(); }

void throw_if_interrupted() { run_context().throw_if_stopped(); }

}  // namespace decant
