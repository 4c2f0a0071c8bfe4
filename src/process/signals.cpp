#include "process/signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
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
int g_guard = -1;  // the write end of the guard's pipe; its end of file is decant's end

// What decant tells its guard: a group to kill should decant die, or one it reaped.
struct GuardMessage {
  char kind;  // 'r' registered, 'u' unregistered
  pid_t pgid;
};

void tell_guard(char kind, pid_t pgid) {
  if (g_guard < 0) return;
  GuardMessage m;
  std::memset(&m, 0, sizeof m);  // no stack bytes in the padding
  m.kind = kind;
  m.pgid = pgid;
  // One write of a few bytes into a pipe is atomic, whichever thread makes it.
  [[maybe_unused]] ssize_t n = ::write(g_guard, &m, sizeof m);
}

// The guard's life: it keeps the registered groups until the pipe ends, then kills what
// is left. It runs in a session of its own, so a signal to decant's terminal or process
// group does not reach it, and holds no descriptor of decant's but its pipe.
[[noreturn]] void guard(int from_decant) {
  ::setsid();
  ::prctl(PR_SET_NAME, "decant-guard");
  // The pipe above the standard descriptors first: decant started with one of them closed
  // has its pipe there, and /dev/null must not take its place.
  int pipe_fd = ::fcntl(from_decant, F_DUPFD, 3);
  int null = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
  ::dup2(pipe_fd, 3);
  ::close_range(4, ~0U, 0);
  std::array<pid_t, 1024> groups{};
  GuardMessage m{};
  for (;;) {
    ssize_t n = ::read(3, &m, sizeof m);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof m)) break;  // decant has ended
    for (auto& g : groups) {
      if (m.kind == 'r' && g == 0) {
        g = m.pgid;
        break;
      }
      if (m.kind == 'u' && g == m.pgid) {
        g = 0;
        break;
      }
    }
  }
  for (pid_t g : groups)
    if (g > 0) ::kill(-g, SIGKILL);
  _exit(0);
}

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

std::function<void()> add_last_words(std::function<void()> fn) {
  std::lock_guard lock(g_last_words_mutex);
  std::function<void()> outer = g_last_words;
  g_last_words = [fn = std::move(fn), outer] {
    fn();
    if (outer) outer();
  };
  return outer;
}

bool claim_exit() { return !g_exit_claimed.exchange(true); }

void start_child_guard() {
  int fds[2];
  if (g_guard >= 0 || ::pipe2(fds, O_CLOEXEC) != 0) return;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[1]);
    guard(fds[0]);
  }
  ::close(fds[0]);
  if (pid < 0) {
    ::close(fds[1]);
    return;
  }
  g_guard = fds[1];
}

void register_child_group(pid_t pgid) {
  tell_guard('r', pgid);
  for (auto& slot : g_child_groups) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pgid)) return;
  }
}

void unregister_child_group(pid_t pgid) {
  tell_guard('u', pgid);
  for (auto& slot : g_child_groups) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

}  // namespace decant
