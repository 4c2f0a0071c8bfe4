#pragma once
// The one place that defines decant's error kinds: each exit code with its name, what it
// means and what to do. The --help footers and docs/exit-codes.md are generated from this
// table (a unit test keeps the document equal to it). Exit codes are part of the
// interface: scripts rely on them.
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace decant {

enum class ExitCode : int {
  ok = 0,
  internal = 1,
  usage = 2,
  unreachable = 3,
  auth = 4,
  missing_tool = 5,
  privileges = 6,
  target_not_empty = 7,
  verify_failed = 8,
  copy_failed = 9,
  interrupted = 10,
  local_io = 11,
  nothing_to_resume = 12,
  tls = 13,
  same_server = 14,
  cluster_mismatch = 15,
  cluster_failed = 16,
  backup_key = 17,
  backup_corrupt = 18,
  backup_manifest = 19,
  repository = 20,
  no_recent_backup = 21,
  unsupported_target = 22,
};

struct ExitCodeInfo {
  ExitCode code;
  std::string_view name;     // "target is the source"
  std::string_view brief;    // for a --help footer: "target is the source server"
  std::string_view meaning;  // for the documentation
  std::string_view remedy;   // what to do
};

// Every exit code, in numeric order.
std::span<const ExitCodeInfo> exit_codes();
const ExitCodeInfo& exit_code_info(ExitCode code);
std::string_view exit_code_name(ExitCode code);
// "Exit codes: 0 done and verified; 2 ...": a command's --help footer, for the codes it uses.
std::string exit_codes_footer(std::initializer_list<ExitCode> codes);
// The table of docs/exit-codes.md (Markdown).
std::string exit_codes_markdown();

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
