#include "pg/sqlstate.hpp"

#include "text/lines.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace decant::pg {
namespace {
std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
bool sqlstate_char(char ch) {
  return std::isdigit(static_cast<unsigned char>(ch)) || std::isupper(static_cast<unsigned char>(ch));
}
}  // namespace

std::string sqlstate_in(const std::string& verbose_message) {
  // "<SEVERITY>:  <SQLSTATE>: <message>"; the severity is translated, the layout is not.
  for (size_t pos = verbose_message.find(":  "); pos != std::string::npos; pos = verbose_message.find(":  ", pos + 1)) {
    std::string_view rest = std::string_view(verbose_message).substr(pos + 3);
    if (rest.size() >= 7 && rest[5] == ':' && rest[6] == ' ' && std::all_of(rest.begin(), rest.begin() + 5, sqlstate_char))
      return std::string(rest.substr(0, 5));
  }
  return "";
}

std::string without_verbose_parts(const std::string& message, const std::string& state) {
  std::string out;
  for (std::string_view text : lines_of(message)) {
    if (text.starts_with("LOCATION:")) continue;
    std::string line(text);
    if (!state.empty()) {
      auto at = line.find(":  " + state + ": ");
      if (at != std::string::npos) line.erase(at + 3, state.size() + 2);
    }
    out += (out.empty() ? "" : "\n") + line;
  }
  return trimmed(out);
}

ExitCode classify_sqlstate(const std::string& s) {
  if (s.rfind("28", 0) == 0) return ExitCode::auth;  // invalid authorization / password
  if (s == "42501") return ExitCode::privileges;
  if (s == "3D000") return ExitCode::usage;  // no such database
  // Connection failures, administrator shutdown, starting up, too many connections.
  if (s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03" || s == "53300")
    return ExitCode::unreachable;
  return ExitCode::copy_failed;
}

bool is_duplicate_object(const std::string& s) {
  return s == "42P07" || s == "42710" || s == "42P06" || s == "42723" || s == "42P04" || s == "42712";
}

}  // namespace decant::pg
