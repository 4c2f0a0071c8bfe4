#include "common/error.hpp"

#include <algorithm>

namespace decant {

std::string_view exit_code_name(ExitCode code) {
  switch (code) {
    case ExitCode::ok: return "ok";
    case ExitCode::internal: return "internal error";
    case ExitCode::usage: return "usage";
    case ExitCode::unreachable: return "unreachable";
    case ExitCode::auth: return "authentication failed";
    case ExitCode::missing_tool: return "missing tool";
    case ExitCode::privileges: return "insufficient privileges";
    case ExitCode::target_not_empty: return "target not empty";
    case ExitCode::verify_failed: return "verification failed";
    case ExitCode::copy_failed: return "copy failed";
    case ExitCode::interrupted: return "interrupted";
    case ExitCode::local_io: return "local I/O error";
    case ExitCode::nothing_to_resume: return "nothing to resume";
    case ExitCode::tls: return "TLS failure";
  }
  return "unknown";
}

std::string Error::one_line() const {
  std::string line = what();
  // Server messages can span lines (DETAIL, HINT); the user gets one line.
  std::replace(line.begin(), line.end(), '\n', ' ');
  while (!line.empty() && (line.back() == ' ' || line.back() == '.')) line.pop_back();
  if (!hint_.empty()) line += "; " + hint_;
  return line;
}

}  // namespace decant
