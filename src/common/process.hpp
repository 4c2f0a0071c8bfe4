#pragma once
// Runs a child program (pg_dump, pg_restore) without a shell. Secrets go to the child
// through its environment, never through argv, which every user can read in `ps`.
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace decant {

struct ProcessResult {
  int exit_status = -1;  // exit code, or 128 + signal number
  std::string output;    // stdout (when not redirected to a file)
  std::string errors;    // stderr, as the child wrote it
};

struct ProcessSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> extra_env;  // added to (or replacing in) our environment
  std::optional<std::string> stdout_path;        // write stdout to this file instead of capturing
};

// Throws Error(missing_tool) when argv[0] cannot be executed.
ProcessResult run_process(const ProcessSpec& spec);

// First line of `program --version`, or nullopt when it cannot run.
std::optional<std::string> program_version_line(const std::string& program);

}  // namespace decant
