#pragma once
// Server errors are classified by their SQLSTATE, never by their text: a server (and a
// child tool) speaks the language it was configured with, the SQLSTATE is the same in
// every language. Connection failures carry one too when the error is asked for at
// PQERRORS_VERBOSE (as psql's VERBOSITY=verbose prints query errors).
#include <string>

#include "common/error.hpp"

namespace decant::pg {

// The SQLSTATE in a message formatted verbosely ("FATAL:  28P01: password ...",
// "psql:<stdin>:12: ERROR:  42501: permission denied ..."): the first one, or "".
std::string sqlstate_in(const std::string& verbose_message);
// The message without the SQLSTATE and the LOCATION lines verbosity adds.
std::string without_verbose_parts(const std::string& message, const std::string& state);
ExitCode classify_sqlstate(const std::string& state);
// 42P07 duplicate_table, 42710 duplicate_object, ...: what running a script again meets.
bool is_duplicate_object(const std::string& state);

}  // namespace decant::pg
