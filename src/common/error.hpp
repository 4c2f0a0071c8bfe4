#pragma once
// The one place that defines decant's error kinds: each exit code with its name, what it
// means and what to do. The --help footers, `decant exit-codes` and docs/exit-codes.md are
// generated from this table and the commands' declarations of the codes they raise. Exit
// codes are part of the interface: scripts rely on them.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

// A set of exit codes, usable in constant expressions (a command's declaration is one).
class ExitCodeSet {
 public:
  constexpr ExitCodeSet() = default;
  constexpr ExitCodeSet(std::initializer_list<ExitCode> codes) {
    for (ExitCode c : codes) bits_ |= bit(c);
  }
  constexpr bool contains(ExitCode c) const { return (bits_ & bit(c)) != 0; }
  constexpr bool contains(int code) const { return code >= 0 && code < 32 && (bits_ >> code & 1u) != 0; }
  constexpr ExitCodeSet operator|(ExitCodeSet other) const { return ExitCodeSet(bits_ | other.bits_); }
  constexpr bool operator==(const ExitCodeSet&) const = default;
  // In numeric order.
  std::vector<ExitCode> codes() const;

 private:
  constexpr explicit ExitCodeSet(uint32_t bits) : bits_(bits) {}
  static constexpr uint32_t bit(ExitCode c) { return uint32_t{1} << static_cast<int>(c); }
  uint32_t bits_ = 0;
};

// What one command ("pg copy", "backup create") can exit with. Every command can exit 0,
// 1 (a bug) and 2 (its command line): those are in every declaration without being named.
struct CommandExitCodes {
  constexpr CommandExitCodes(std::string_view command_path, ExitCodeSet raised)
      : command(command_path), codes(raised | ExitCodeSet{ExitCode::ok, ExitCode::internal, ExitCode::usage}) {}
  std::string_view command;
  ExitCodeSet codes;
};

// "Exit codes: 0 done and verified; 2 ...": a command's --help footer, for the codes it uses.
std::string exit_codes_footer(ExitCodeSet codes);
// docs/exit-codes.md: the table, with the commands that raise each code.
std::string exit_codes_markdown(std::span<const CommandExitCodes> commands);
// `decant exit-codes`: one paragraph a code, with the commands that raise it.
std::string exit_codes_text(std::span<const CommandExitCodes> commands);
// `decant exit-codes --json`: {"codes": [{code, name, meaning, remedy, commands}], "commands": {path: [codes]}}.
std::string exit_codes_json(std::span<const CommandExitCodes> commands);

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
