#pragma once
// Finds the pg_dump and pg_restore that can read the source server: the same or a
// newer major version, as pg_dump's documentation requires.
#include <optional>
#include <string>

namespace decant::pg {

struct PgTools {
  std::string pg_dump;
  std::string pg_restore;
  int major = 0;
  std::string version_line;
};

// `bin_dir` (from --pg-bin) restricts the search to one directory; otherwise PATH and
// /usr/lib/postgresql/*/bin are searched, newest first. Throws Error(missing_tool).
PgTools find_pg_tools(int source_major, const std::optional<std::string>& bin_dir);

// "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> 15; 0 when unparsable.
int parse_major_version(const std::string& version_line);

}  // namespace decant::pg
