#pragma once
// The one place that defines decant's error kinds and their exit codes.
// Exit codes are part of the interface: scripts rely on them; docs/exit-codes.md lists them.
#include <stdexcept>
#include <string>
#include <string_view>

namespace decant {

enum class ExitCode : int {
  ok = 0,
  internal = 1,          // a bug: unexpected state
  usage = 2,             // bad command line or malformed URI
  unreachable = 3,       // host unreachable, connection refused, connect timeout
  auth = 4,              // authentication failed
  missing_tool = 5,      // pg_dump / pg_restore missing or too old
  privileges = 6,        // a login lacks a needed privilege
  target_not_empty = 7,  // target holds data; nothing was touched
  verify_failed = 8,     // copy finished but verification found a difference
  copy_failed = 9,       // a server rejected a statement during the copy
  interrupted = 10,      // SIGINT/SIGTERM: resumable with --resume
  local_io = 11,         // local disk: state directory, report file, disk full
  nothing_to_resume = 12, // --resume without an interrupted copy to continue
  tls = 13               // TLS handshake or certificate verification failed
};

std::string_view exit_code_name(ExitCode code);

// An error that stops the command: `what()` says what failed, `hint()` what to do.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, std::string what, std::string hint = {})
      : std::runtime_error(std::move(what)), code_(code), hint_(std::move(hint)) {}
  ExitCode code() const { return code_; }
  const std::string& hint() const { return hint_; }
  // One line: "<what>; <hint>".
  std::string one_line() const;

 private:
  ExitCode code_;
  std::string hint_;
};

}  // namespace decant
