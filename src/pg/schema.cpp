#include "pg/schema.hpp"

#include <csignal>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/process.hpp"
#include "common/signals.hpp"

namespace decant::pg {
namespace {

std::map<std::string, std::string> password_env(const ConnInfo& info) {
  if (auto pw = info.password()) return {{"PGPASSWORD", *pw}};
  return {};
}

// The first "error:" line a pg tool printed, for a one-line message.
std::string first_error(const std::string& stderr_text) {
  std::istringstream in(stderr_text);
  std::string line, fallback;
  while (std::getline(in, line)) {
    auto pos = line.find("error: ");
    if (pos != std::string::npos) return line.substr(pos + 7);
    if (fallback.empty() && !line.empty()) fallback = line;
  }
  return fallback.empty() ? "no message" : fallback;
}

// Ctrl-C reaches pg_dump/pg_restore too (one process group): that is an interruption.
void throw_if_child_interrupted(const ProcessResult& r) {
  if (interrupted() || r.exit_status == 128 + SIGINT || r.exit_status == 128 + SIGTERM ||
      r.errors.find("terminated by user") != std::string::npos)
    throw Error(ExitCode::interrupted, "interrupted", "run the same command with --resume to continue where it stopped");
}

ExitCode classify_tool_failure(const std::string& text) {
  if (text.find("permission denied") != std::string::npos || text.find("must be superuser") != std::string::npos ||
      text.find("must be owner") != std::string::npos || text.find("must be member") != std::string::npos)
    return ExitCode::privileges;
  if (text.find("authentication failed") != std::string::npos) return ExitCode::auth;
  if (text.find("could not connect") != std::string::npos || text.find("connection to server") != std::string::npos)
    return ExitCode::unreachable;
  return ExitCode::copy_failed;
}

}  // namespace

std::vector<TocEntry> parse_toc(const std::string& listing) {
  std::vector<TocEntry> out;
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ';') continue;
    TocEntry e;
    e.line = line;
    unsigned id = 0, cat = 0, oid = 0;
    int consumed = 0;
    if (std::sscanf(line.c_str(), "%u; %u %u %n", &id, &cat, &oid, &consumed) < 3) continue;
    e.catalog_oid = cat;
    e.oid = oid;
    std::string rest = line.substr(static_cast<size_t>(consumed));
    for (const char* d : {"INDEX ATTACH", "FK CONSTRAINT", "INDEX", "CONSTRAINT"}) {
      std::string prefix = std::string(d) + " ";
      if (rest.rfind(prefix, 0) == 0) {
        e.desc = d;
        break;
      }
    }
    if (e.desc.empty()) e.desc = rest.substr(0, rest.find(' '));  // other kinds: first word only
    auto space = line.find_last_of(' ');
    if (space != std::string::npos) e.owner = line.substr(space + 1);
    out.push_back(std::move(e));
  }
  return out;
}

void SchemaTransfer::dump(const std::string& db, const std::string& snapshot, const std::filesystem::path& file) const {
  ProcessSpec spec;
  spec.argv = {tools_.pg_dump, "--format=custom", "--section=pre-data", "--section=post-data", "--no-password",
               "--file=" + file.string(), "--dbname=" + source_.for_child(db)};
  if (!snapshot.empty()) spec.argv.push_back("--snapshot=" + snapshot);
  spec.extra_env = password_env(source_);
  auto r = run_process(spec);
  if (r.exit_status != 0) {
    throw_if_child_interrupted(r);
    std::string msg = first_error(r.errors);
    if (r.errors.find("No space left on device") != std::string::npos)
      throw Error(ExitCode::local_io, "pg_dump cannot write the schema of " + db + " to " + file.string() + ": " + msg,
                  "free disk space there (or choose another --state-dir), then run the same command with --resume");
    throw Error(classify_tool_failure(msg), "pg_dump of the source database " + db + " failed: " + msg,
                "fix the cause, then run the same command with --resume");
  }
}

std::vector<TocEntry> SchemaTransfer::list(const std::filesystem::path& file) const {
  auto r = run_process({{tools_.pg_restore, "--list", file.string()}, {}, std::nullopt});
  if (r.exit_status != 0)
    throw Error(ExitCode::copy_failed, "pg_restore --list " + file.string() + " failed: " + first_error(r.errors));
  return parse_toc(r.output);
}

void SchemaTransfer::restore(const std::string& db, const std::filesystem::path& file,
                             const std::vector<std::string>& args, const std::string& doing) const {
  ProcessSpec spec;
  spec.argv = {tools_.pg_restore, "--exit-on-error", "--single-transaction", "--no-password",
               "--dbname=" + target_.for_child(db)};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.argv.push_back(file.string());
  spec.extra_env = password_env(target_);
  auto r = run_process(spec);
  if (r.exit_status != 0) {
    throw_if_child_interrupted(r);
    std::string msg = first_error(r.errors);
    throw Error(classify_tool_failure(msg), "restoring the " + doing + " of database " + db + " failed: " + msg,
                "fix the cause, then run the same command with --resume (the step was rolled back)");
  }
}

void SchemaTransfer::restore_pre_data(const std::string& db, const std::filesystem::path& file, bool keep_owner) const {
  std::vector<std::string> args{"--section=pre-data"};
  if (!keep_owner) args.emplace_back("--no-owner");
  restore(db, file, args, "schema (pre-data)");
}

void SchemaTransfer::restore_post_data(const std::string& db, const std::filesystem::path& file,
                                       const std::vector<TocEntry>& toc, const std::set<uint32_t>& built,
                                       bool keep_owner) const {
  std::filesystem::path list_file = file;
  list_file += ".post-data.list";
  {
    std::ofstream out(list_file);
    for (const auto& e : toc) {
      bool done_by_decant = (e.desc == "INDEX" || e.desc == "CONSTRAINT") && built.count(e.oid);
      out << (done_by_decant ? ";" : "") << e.line << "\n";
    }
    if (!out) throw Error(ExitCode::local_io, "cannot write " + list_file.string(), "check free disk space");
  }
  std::vector<std::string> args{"--section=post-data", "--use-list=" + list_file.string()};
  if (!keep_owner) args.emplace_back("--no-owner");
  restore(db, file, args, "indexes and constraints (post-data)");
}

}  // namespace decant::pg
