#include "pg/tools.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

#include "common/error.hpp"
#include "process/process.hpp"

namespace decant::pg {
namespace fs = std::filesystem;

int parse_major_version(const std::string& line) {
  auto paren = line.find(')');
  if (paren == std::string::npos) return 0;
  size_t i = paren + 1;
  while (i < line.size() && line[i] == ' ') ++i;
  int major = 0;
  bool any = false;
  int digits = 0;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) {
    if (++digits > 6) return 0;  // no real version; and no int overflow
    major = major * 10 + (line[i++] - '0');
    any = true;
  }
  return any ? major : 0;
}

PgTools find_pg_tools(int source_major, const std::optional<std::string>& bin_dir) {
  std::vector<fs::path> dirs;
  if (bin_dir) {
    dirs.emplace_back(*bin_dir);
  } else {
    if (const char* path = std::getenv("PATH")) {
      std::stringstream ss(path);
      std::string d;
      while (std::getline(ss, d, ':'))
        if (!d.empty()) dirs.emplace_back(d);
    }
    std::error_code ec;
    std::vector<fs::path> versioned;
    for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) versioned.push_back(e.path() / "bin");
    std::sort(versioned.begin(), versioned.end(), [](const fs::path& a, const fs::path& b) {
      return std::atoi(a.parent_path().filename().c_str()) > std::atoi(b.parent_path().filename().c_str());
    });
    dirs.insert(dirs.end(), versioned.begin(), versioned.end());
  }

  std::optional<PgTools> best;
  std::string newest_seen;
  int newest_major = -1;
  for (const auto& d : dirs) {
    fs::path dump = d / "pg_dump", restore = d / "pg_restore", psql = d / "psql";
    std::error_code ec;
    if (!fs::exists(dump, ec) || !fs::exists(restore, ec) || !fs::exists(psql, ec)) continue;
    auto line = program_version_line(dump.string());
    if (!line) continue;
    int major = parse_major_version(*line);
    if (major > newest_major) {
      newest_major = major;
      newest_seen = *line;
    }
    if (major >= source_major && (!best || major > best->major))
      best = PgTools{dump.string(), restore.string(), psql.string(), major, *line};
  }
  std::string where = bin_dir ? "in " + *bin_dir : "in PATH or /usr/lib/postgresql/*/bin";
  if (!best) {
    if (newest_seen.empty())
      throw Error(ExitCode::missing_tool, "pg_dump, pg_restore and psql were not found together " + where,
                  "install the PostgreSQL client of version " + std::to_string(source_major) +
                      " or newer (Debian: postgresql-client-" + std::to_string(source_major) + "), or give --pg-bin DIR");
    throw Error(ExitCode::missing_tool,
                "pg_dump " + where + " is too old for the source server (version " + std::to_string(source_major) +
                    "): found " + newest_seen,
                "install the PostgreSQL client of version " + std::to_string(source_major) +
                    " or newer (Debian: postgresql-client-" + std::to_string(source_major) + "), or give --pg-bin DIR");
  }
  return *best;
}

}  // namespace decant::pg
