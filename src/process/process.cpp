#include "process/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "common/error.hpp"
#include "io/file_descriptor.hpp"
#include "io/files.hpp"
#include "process/run_context.hpp"
#include "process/signals.hpp"

extern char** environ;

namespace decant {
namespace {

using Clock = std::chrono::steady_clock;


struct PipeFds {
  FileDescriptor read, write;
};

PipeFds make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error(ExitCode::local_io, std::string("pipe: ") + std::strerror(errno));
  return {FileDescriptor(fds[0]), FileDescriptor(fds[1])};
}

void set_nonblocking(const FileDescriptor& fd) {
  if (fd.valid()) ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
}

// Our environment with `extra` applied, and the locale pinned to C: a child's messages
// must not depend on the user's language.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> pinned = {{"LC_ALL", "C"}, {"LC_MESSAGES", "C"}};
  for (const auto& [k, v] : extra) pinned[k] = v;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    if (eq == std::string::npos || pinned.count(name) || name == "LANGUAGE") continue;
    env.push_back(std::move(entry));
  }
  for (const auto& [k, v] : pinned) env.push_back(k + "=" + v);
  return env;
}

// Owns the posix_spawn attribute objects for their lifetime.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// A running child, leader of its own process group. Destroying it kills the group and
// reaps the child if that has not happened.
class Child {
 public:
  enum class Output { capture, file, discard };

  Child(const ProcessSpec& spec, bool stdin_pipe) : argv0_(spec.argv.at(0)) {
    // Writing to a consumer that has died must be an error (EPIPE) we handle, not a
    // signal that kills decant.
    static std::once_flag ignore_sigpipe;
    std::call_once(ignore_sigpipe, [] { std::signal(SIGPIPE, SIG_IGN); });
    SpawnSetup setup;
    PipeFds in, out, err = make_pipe();
    FileDescriptor out_file;
    if (stdin_pipe) {
      in = make_pipe();
      posix_spawn_file_actions_adddup2(&setup.actions, in.read.get(), 0);
    } else {
      posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    }
    if (spec.stdout_path) {
      out_file = FileDescriptor(::open(spec.stdout_path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (!out_file.valid())
        throw_io_error("cannot write", *spec.stdout_path, errno,
                       errno == ENOSPC ? "free disk space there, then run the same command with --resume"
                                       : "check the state directory's permissions and free space");
      posix_spawn_file_actions_adddup2(&setup.actions, out_file.get(), 1);
    } else {
      out = make_pipe();
      posix_spawn_file_actions_adddup2(&setup.actions, out.write.get(), 1);
    }
    posix_spawn_file_actions_adddup2(&setup.actions, err.write.get(), 2);

    // Its own process group (a terminal's Ctrl-C reaches decant only; decant stops its
    // children itself), default signal handling (we ignore SIGPIPE) and an empty mask.
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, s);
    sigemptyset(&empty);
    posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    posix_spawnattr_setsigmask(&setup.attr, &empty);

    std::vector<char*> argv;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto env_strings = child_environment(spec.extra_env);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    RunContext& context = spec.context ? *spec.context : run_context();
    context.throw_if_stopped();  // never start work after a stop
    int rc = posix_spawnp(&pid_, argv[0], &setup.actions, &setup.attr, argv.data(), envp.data());
    if (rc != 0)
      throw Error(ExitCode::missing_tool, "cannot run " + argv0_ + ": " + std::strerror(rc),
                  "install it or point decant at it");
    register_child_group(pid_);
    stdin_ = std::move(in.write);
    stdout_ = std::move(out.read);
    stderr_ = std::move(err.read);
    set_nonblocking(stdin_);
    set_nonblocking(stdout_);
    set_nonblocking(stderr_);
    // Round 1 of a stop asks politely; later rounds (every half second) insist.
    stop_hook_ = context.on_stop([this](int round) {
      stopped_ = true;
      signal_group(round == 1 ? SIGTERM : SIGKILL);
    });
  }

  ~Child() {
    stop_hook_.reset();
    if (!reaped()) {
      signal_group(SIGKILL);
      wait_blocking();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void signal_group(int sig) {
    std::lock_guard lock(mutex_);  // never signal a group whose leader was reaped (its id may be reused)
    if (!reaped_) ::kill(-pid_, sig);
  }
  // True once the child has exited (its status is then in result.exit_status).
  bool poll_exit() {
    if (reaped()) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      record(status);
      return true;
    }
    return false;
  }
  void wait_blocking() {
    int status = 0;
    while (!reaped()) {
      if (::waitpid(pid_, &status, 0) == pid_)
        record(status);
      else if (errno != EINTR)
        break;
    }
  }
  bool stopped() const { return stopped_; }

  FileDescriptor stdin_, stdout_, stderr_;
  ProcessResult result;

 private:
  void record(int status) {
    std::lock_guard lock(mutex_);
    reaped_ = true;
    unregister_child_group(pid_);
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  bool reaped() {
    std::lock_guard lock(mutex_);
    return reaped_;
  }
  std::string argv0_;
  pid_t pid_ = -1;
  std::mutex mutex_;
  bool reaped_ = false;  // under mutex_
  std::atomic<bool> stopped_{false};
  RunContext::Hook stop_hook_;
};

enum class Read { data, again, eof };

Read read_some(FileDescriptor& fd, std::string& into) {
  char buf[65536];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n > 0) {
    into.append(buf, static_cast<size_t>(n));
    return Read::data;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return Read::again;
  fd.reset();
  return Read::eof;
}

// Kills a child once its deadline has passed.
void enforce_deadline(Child* child, const std::optional<Clock::time_point>& deadline) {
  if (child && deadline && Clock::now() >= *deadline && !child->result.timed_out) {
    child->result.timed_out = true;
    child->signal_group(SIGKILL);
  }
}

// Writes what a lone child's stdin takes of `feed`; closes it once all is written, or
// when the child refuses more.
void feed_stdin(Child& child, std::string& feed) {
  ssize_t n = ::write(child.stdin_.get(), feed.data(), feed.size());
  if (n > 0) feed.erase(0, static_cast<size_t>(n));
  if ((n < 0 && errno != EAGAIN && errno != EINTR) || feed.empty()) child.stdin_.reset();
}

// Passes the whole lines of `partial` (the last one too `at_end`) through `filter`,
// appending what it keeps to `out` (nothing when out is null: the consumer is gone).
void filter_lines(std::string& partial, const LineFilter& filter, std::string* out, bool at_end) {
  size_t start = 0;
  for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
    if (auto kept = filter(std::string_view(partial).substr(start, nl - start)))
      if (out) *out += *kept + "\n";
  partial.erase(0, start);
  if (at_end && !partial.empty()) {
    if (auto kept = filter(partial))
      if (out) *out += *kept;
    partial.clear();
  }
}

// The one event loop: drains every output of `producer` and (when there is one)
// `consumer`, streams the producer's stdout through `filter` into the consumer's stdin,
// and enforces the timeouts.
void drive(Child& producer, const ProcessSpec& producer_spec, Child* consumer, const LineFilter* filter,
           const ProcessSpec* consumer_spec, const std::string& prologue = {}, const std::string& epilogue = {}) {
  constexpr size_t kMaxPending = 1 << 20;  // back pressure: stop reading the producer
  std::string pending = prologue, partial_line;
  bool consumer_gone = false, producer_done = false;
  auto deadline_of = [](const ProcessSpec* s) {
    return s && s->timeout ? std::optional<Clock::time_point>(Clock::now() + *s->timeout) : std::nullopt;
  };
  auto producer_deadline = deadline_of(&producer_spec);
  // A lone child's stdin_data, written as it takes it, then its stdin closed.
  std::string feed = consumer ? std::string() : producer_spec.stdin_data.value_or("");
  if (!consumer && feed.empty()) producer.stdin_.reset();
  auto consumer_deadline = deadline_of(consumer_spec);

  auto pass_lines = [&](bool at_end) { filter_lines(partial_line, *filter, consumer_gone ? nullptr : &pending, at_end); };

  for (;;) {
    // The producer has ended: the consumer gets EOF only if it succeeded; a consumer fed
    // a truncated stream (psql in one transaction would commit it) is killed instead.
    if (consumer && !producer_done && !producer.stdout_.valid() && producer.poll_exit()) {
      producer_done = true;
      pass_lines(true);
      if (producer.result.exit_status != 0) {
        consumer->signal_group(SIGKILL);
        consumer->stdin_.reset();
        pending.clear();
      } else if (!consumer_gone) {
        pending += epilogue;
      }
    }
    if (consumer && producer_done && pending.empty()) consumer->stdin_.reset();

    std::vector<pollfd> fds;
    std::vector<std::pair<FileDescriptor*, std::string*>> readers;
    auto want_read = [&](FileDescriptor& fd, std::string* sink) {
      if (!fd.valid()) return;
      fds.push_back({fd.get(), POLLIN, 0});
      readers.emplace_back(&fd, sink);
    };
    if (consumer) {
      if (pending.size() < kMaxPending) want_read(producer.stdout_, &partial_line);
    } else {
      want_read(producer.stdout_, &producer.result.output);
    }
    want_read(producer.stderr_, &producer.result.errors);
    if (consumer) {
      want_read(consumer->stdout_, &consumer->result.output);
      want_read(consumer->stderr_, &consumer->result.errors);
    }
    bool writing = consumer && consumer->stdin_.valid() && !pending.empty();
    if (writing) fds.push_back({consumer->stdin_.get(), POLLOUT, 0});
    bool feeding = !consumer && producer.stdin_.valid();
    if (feeding) fds.push_back({producer.stdin_.get(), POLLOUT, 0});
    bool waiting_for_producer = consumer && !producer_done && !producer.stdout_.valid();
    if (fds.empty() && !waiting_for_producer) break;

    enforce_deadline(&producer, producer_deadline);
    enforce_deadline(consumer, consumer_deadline);
    // Wake up now and then: deadlines, and a producer that closed stdout before exiting.
    int rc = ::poll(fds.data(), fds.size(), 100);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    for (size_t i = 0; i < readers.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      auto [fd, sink] = readers[i];
      read_some(*fd, *sink);
      if (consumer && fd == &producer.stdout_) pass_lines(false);
    }
    if (feeding && (fds.back().revents & (POLLOUT | POLLERR | POLLHUP))) feed_stdin(producer, feed);
    if (writing && (fds.back().revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(consumer->stdin_.get(), pending.data(), pending.size());
      if (n > 0) {
        pending.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        // The consumer stopped reading (it failed): nothing more can reach it, and the
        // producer's work is pointless.
        consumer_gone = true;
        pending.clear();
        consumer->stdin_.reset();
        producer.signal_group(SIGTERM);
      }
    }
  }
  producer.wait_blocking();
  if (consumer) consumer->wait_blocking();
  producer.result.stopped = producer.stopped();
  if (consumer) consumer->result.stopped = consumer->stopped();
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec) {
  Child child(spec, spec.stdin_data.has_value());
  drive(child, spec, nullptr, nullptr, nullptr);
  return std::move(child.result);
}

PipelineResult run_pipeline(const ProcessSpec& producer, const LineFilter& filter, const ProcessSpec& consumer,
                            const std::string& prologue, const std::string& epilogue) {
  ProcessSpec producer_spec = producer;
  producer_spec.stdout_path.reset();  // its output is the consumer's input
  Child consumer_child(consumer, true);
  Child producer_child(producer_spec, false);
  drive(producer_child, producer_spec, &consumer_child, &filter, &consumer, prologue, epilogue);
  return {std::move(producer_child.result), std::move(consumer_child.result)};
}

struct BackgroundProcess::State {
  explicit State(const ProcessSpec& spec) : child(spec, false) {}
  Child child;
  std::mutex mutex;
  std::condition_variable changed;
  std::string output, errors;  // under mutex
  size_t scanned = 0;          // output up to here was offered to wait_for_line
  bool ended = false;          // under mutex: both streams closed
  std::atomic<bool> closing{false};
  std::thread drainer;

  void drain() {
    while (!closing && (child.stdout_.valid() || child.stderr_.valid())) {
      std::vector<pollfd> fds;
      std::vector<std::pair<FileDescriptor*, bool>> readers;  // bool: is stdout
      for (auto [fd, out] : {std::pair{&child.stdout_, true}, std::pair{&child.stderr_, false}})
        if (fd->valid()) {
          fds.push_back({fd->get(), POLLIN, 0});
          readers.emplace_back(fd, out);
        }
      int rc = ::poll(fds.data(), fds.size(), 100);
      if (rc <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        std::string got;
        read_some(*readers[i].first, got);
        std::lock_guard lock(mutex);
        (readers[i].second ? output : errors) += got;
      }
      changed.notify_all();
    }
    {
      std::lock_guard lock(mutex);
      ended = true;
    }
    changed.notify_all();
  }
};

BackgroundProcess::BackgroundProcess(const ProcessSpec& spec) : state_(std::make_unique<State>(spec)) {
  state_->drainer = std::thread([s = state_.get()] { s->drain(); });
}

BackgroundProcess::~BackgroundProcess() {
  state_->closing = true;
  state_->drainer.join();
  // ~Child kills the group and reaps it.
}

std::optional<std::string> BackgroundProcess::wait_for_line(const std::function<bool(std::string_view)>& match,
                                                            std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::unique_lock lock(state_->mutex);
  for (;;) {
    for (size_t nl; (nl = state_->output.find('\n', state_->scanned)) != std::string::npos;) {
      std::string line = state_->output.substr(state_->scanned, nl - state_->scanned);
      state_->scanned = nl + 1;
      if (match(line)) return line;
    }
    if (state_->ended || run_context().stop_requested()) return std::nullopt;
    if (state_->changed.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

bool BackgroundProcess::exited() { return state_->child.poll_exit(); }

int BackgroundProcess::exit_status() { return exited() ? state_->child.result.exit_status : -1; }

std::string BackgroundProcess::errors() {
  std::lock_guard lock(state_->mutex);
  return state_->errors;
}

std::optional<std::string> program_version_line(const std::string& program) {
  try {
    auto r = run_process({{program, "--version"}, {}, std::nullopt, std::chrono::seconds(10)});
    if (r.exit_status != 0) return std::nullopt;
    auto nl = r.output.find('\n');
    return r.output.substr(0, nl);
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted) throw;
    return std::nullopt;
  }
}

}  // namespace decant
