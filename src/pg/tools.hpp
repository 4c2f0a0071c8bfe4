#pragma once
// Finds the PostgreSQL client tools decant runs: a pg_dump that can read the source
// server (the same or a newer major version, as pg_dump's documentation requires), and
// the pg_restore and psql of the same installation, which write the schema into the
// target through a script made to fit it (see schema.hpp).
#include <optional>
#include <string>

namespace decant::pg {

struct PgTools {
  std::string pg_dump;
  std::string pg_restore;
  std::string psql;
  int major = 0;
  std::string version_line;
};

// The newest installation (pg_dump, pg_restore and psql side by side) of the source's
// major version or newer. `bin_dir` (from --pg-bin) restricts the search to one
// directory; otherwise PATH and /usr/lib/postgresql/*/bin are searched.
// Throws Error(missing_tool).
PgTools find_pg_tools(int source_major, const std::optional<std::string>& bin_dir);

// "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> 15; 0 when unparsable.
int parse_major_version(const std::string& version_line);

}  // namespace decant::pg
