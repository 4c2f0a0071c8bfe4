#include "process/identity.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

namespace decant {
namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string link_target(const char* path) {
  char target[256];
  ssize_t n = readlink(path, target, sizeof target);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

// The start time of /proc/PID/stat (0 when unreadable), whose second field (the command name
// in parentheses) may itself hold spaces and ')': the fields are counted after its last ')'.
uint64_t start_time(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = stat.rfind(')');
  if (at == std::string::npos) return 0;
  std::istringstream fields(stat.substr(at + 1));
  std::string value;
  for (int field = 3; field <= 22; ++field)  // field 3 (state) follows the ')'
    if (!(fields >> value)) return 0;
  uint64_t ticks = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), ticks);
  return error == std::errc() && end == value.data() + value.size() ? ticks : 0;
}

}  // namespace

ProcessIdentity ProcessIdentity::self() { return of(getpid()); }

ProcessIdentity ProcessIdentity::of(pid_t pid) {
  return {first_line("/proc/sys/kernel/random/boot_id"), link_target("/proc/self/ns/pid"), pid, start_time(pid)};
}

bool ProcessIdentity::sees_ended(const ProcessIdentity& other) const {
  if (boot.empty() || pid_namespace.empty() || other.pid <= 0 || other.started == 0) return false;
  if (other.boot != boot || other.pid_namespace != pid_namespace) return false;
  uint64_t now = start_time(other.pid);
  if (now != 0) return now != other.started;  // another process under its pid: it ended
  // Unreadable: gone only when the kernel has no such process (/proc mounted with hidepid
  // hides other users' live ones, which kill(0) still reports as EPERM).
  return kill(other.pid, 0) != 0 && errno == ESRCH;
}

}  // namespace decant
