#include "process/signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/error.hpp"

namespace decant {
namespace {

int g_pipe[2] = {-1, -1};
std::atomic<int> g_signals{0};
std::array<std::atomic<pid_t>, 128> g_child_groups{};
std::atomic<bool> g_exit_claimed{false};
std::mutex g_last_words_mutex;
std::function<void()> g_last_words;

void kill_child_groups() {
  for (auto& slot : g_child_groups) {
    pid_t pgid = slot.load();
    if (pgid > 0) ::kill(-pgid, SIGKILL);
  }
}

extern "C" void on_signal(int signo) {
  int count = g_signals.fetch_add(1) + 1;
  if (count >= 3) {
    // The watcher did not end the process: do it here, with what is async-signal-safe.
    kill_child_groups();
    _exit(static_cast<int>(ExitCode::interrupted));
  }
  auto byte = static_cast<unsigned char>(signo);
  [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &byte, 1);
}

[[noreturn]] void end_now(const char* why) {
  if (claim_exit()) {
    kill_child_groups();
    {
      std::lock_guard lock(g_last_words_mutex);
      if (g_last_words) {
        try {
          g_last_words();
        } catch (...) {
          // Exiting is what matters now.
        }
      }
    }
    std::fprintf(stderr, "decant: error: interrupted (%s); run the same command with --resume to continue\n", why);
    std::fflush(stderr);
    _exit(static_cast<int>(ExitCode::interrupted));
  }
  // The command is printing its own final line: it exits by itself.
  for (;;) pause();
}

// Reads signals from the self-pipe. The first one stops the run (its hooks run on a
// thread of their own: a cancel request to a dead server can block) and arms the grace
// period; a second one, or the end of the grace period, ends the process.
void watch() {
  bool stopping = false;
  auto deadline = std::chrono::steady_clock::now();
  for (;;) {
    int timeout = -1;
    if (stopping) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) end_now("it did not stop within the grace period");
      timeout = static_cast<int>(left.count());
    }
    pollfd pfd{g_pipe[0], POLLIN, 0};
    int rc = ::poll(&pfd, 1, timeout);
    if (rc <= 0) continue;
    unsigned char byte = 0;
    if (::read(g_pipe[0], &byte, 1) != 1) continue;
    if (stopping) end_now("second signal");
    stopping = true;
    deadline = std::chrono::steady_clock::now() + kStopGrace;
    std::thread([] {
      run_context().request_stop(StopReason::signal);
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        run_context().repeat_stop_hooks();
      }
    }).detach();
  }
}

}  // namespace

void install_signal_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(g_pipe, O_CLOEXEC) != 0) return;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // A closed pipe (e.g. `decant ... | head`) must not kill us mid-copy.
    std::signal(SIGPIPE, SIG_IGN);
    std::thread(watch).detach();
  });
}

void set_last_words(std::function<void()> fn) {
  std::lock_guard lock(g_last_words_mutex);
  g_last_words = std::move(fn);
}

bool claim_exit() { return !g_exit_claimed.exchange(true); }

void register_child_group(pid_t pgid) {
  for (auto& slot : g_child_groups) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pgid)) return;
  }
}

void unregister_child_group(pid_t pgid) {
  for (auto& slot : g_child_groups) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace decant
