#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/error.hpp"

extern char** environ;

namespace decant {
namespace {

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() {
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(ExitCode::local_io, std::string("pipe: ") + std::strerror(errno));
  }
  ~Pipe() { close_all(); }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_end(int i) {
    if (fds[i] >= 0) ::close(fds[i]);
    fds[i] = -1;
  }
  void close_all() { close_end(0); close_end(1); }
};

// Owns the posix_spawn_file_actions_t for its lifetime.
struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos && extra.count(entry.substr(0, eq))) continue;
    env.push_back(std::move(entry));
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec) {
  Pipe out, err;
  FileActions fa;
  int out_file = -1;
  if (spec.stdout_path) {
    out_file = ::open(spec.stdout_path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out_file < 0)
      throw Error(ExitCode::local_io, "cannot write " + *spec.stdout_path + ": " + std::strerror(errno),
                  "check the state directory's permissions and free space");
    posix_spawn_file_actions_adddup2(&fa.actions, out_file, 1);
  } else {
    posix_spawn_file_actions_adddup2(&fa.actions, out.fds[1], 1);
  }
  posix_spawn_file_actions_adddup2(&fa.actions, err.fds[1], 2);
  posix_spawn_file_actions_addopen(&fa.actions, 0, "/dev/null", O_RDONLY, 0);

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto env_strings = child_environment(spec.extra_env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa.actions, nullptr, argv.data(), envp.data());
  if (out_file >= 0) ::close(out_file);
  out.close_end(1);
  err.close_end(1);
  if (rc != 0)
    throw Error(ExitCode::missing_tool, "cannot run " + spec.argv[0] + ": " + std::strerror(rc),
                "install it or point decant at it");

  ProcessResult result;
  std::array<pollfd, 2> fds{{{out.fds[0], POLLIN, 0}, {err.fds[0], POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&result.output, &result.errors};
  int open_fds = spec.stdout_path ? 1 : 2;
  if (spec.stdout_path) fds[0].fd = -1;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::optional<std::string> program_version_line(const std::string& program) {
  try {
    auto r = run_process({{program, "--version"}, {}, std::nullopt});
    if (r.exit_status != 0) return std::nullopt;
    auto nl = r.output.find('\n');
    return r.output.substr(0, nl);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace decant
