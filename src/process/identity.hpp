#pragma once
// Who a process is, so that another process can tell whether it still lives: the kernel's
// boot, the pid namespace, the pid and the pid's start time. Two processes that share the
// boot and the namespace see one process table, where a pid whose start time changed or
// that is gone names a process that has ended. Any other pair cannot tell (another
// machine, another pod): that one stays "maybe alive".
#include <sys/types.h>

#include <cstdint>
#include <string>

namespace decant {

struct ProcessIdentity {
  std::string boot;           // /proc/sys/kernel/random/boot_id
  std::string pid_namespace;  // /proc/self/ns/pid's link, e.g. "pid:[4026531836]"
  pid_t pid = 0;
  uint64_t started = 0;       // field 22 of /proc/PID/stat: clock ticks after boot

  // This process's identity; fields it could not read stay empty (or 0).
  static ProcessIdentity self();
  // `pid`'s identity as this process sees it (its boot and namespace): started is 0 when
  // the pid is not there.
  static ProcessIdentity of(pid_t pid);

  // True only when `other` shares this process's process table (same boot and pid
  // namespace, both known) and its process is gone: no such pid, or one started at another
  // time.
  bool sees_ended(const ProcessIdentity& other) const;
};

}  // namespace decant
