#include "common/error.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace decant {
namespace {

constexpr std::array<ExitCodeInfo, 23> kExitCodes{{
    {ExitCode::ok, "ok", "done and verified", "done, and everything it did was verified", ""},
    {ExitCode::internal, "internal error", "internal error", "a bug: decant met a state it does not expect",
     "report it, with the command and its output"},
    {ExitCode::usage, "usage", "usage, malformed URI or unknown name",
     "bad command line, malformed URI, or a database (or dump directory) that does not exist",
     "fix the arguments"},
    {ExitCode::unreachable, "unreachable", "server unreachable",
     "connection refused, unknown host, connect timeout, or a connection lost during the run",
     "check host, port and network; after a lost connection, run the same command with `--resume`"},
    {ExitCode::auth, "authentication failed", "authentication failed",
     "wrong user or password, pg_hba.conf rejection, wrong authSource or authMechanism",
     "fix the credentials (URI, `PGPASSWORD`, `~/.pgpass`)"},
    {ExitCode::missing_tool, "missing tool", "a needed tool missing or unfit",
     "no `pg_dump`/`pg_restore`/`psql` fits the source and target versions, or `kubectl`/`helm` is missing or too old",
     "install `postgresql-client-N` or pass `--pg-bin`; install kubectl 1.25+ and helm 3.8+ or pass `--kubectl`/`--helm`"},
    {ExitCode::privileges, "insufficient privileges", "insufficient privileges",
     "a login lacks a privilege (a target without CREATEDB/CREATEROLE, a source that cannot read a table)",
     "use a login that has it"},
    {ExitCode::target_not_empty, "target not empty", "target not empty (nothing changed)",
     "a target database or collection already holds data; nothing was changed",
     "`--clean`/`--drop` to replace it, `--resume` to continue an interrupted run"},
    {ExitCode::verify_failed, "verification failed", "verification found differences",
     "the run finished but something differs (a table, collection, file, sequence, large object, role, database "
     "property), or the source changed during the run",
     "see the summary; run again (`--clean`/`--drop`) once the cause is fixed"},
    {ExitCode::copy_failed, "copy failed", "a server or tool rejected the work",
     "a server rejected a statement or command, a pg_dump/pg_restore failed, a dump file is invalid, or the pair "
     "of servers cannot be copied exactly",
     "fix the cause named in the message, then `--resume`"},
    {ExitCode::interrupted, "interrupted", "interrupted (use --resume)",
     "SIGINT or SIGTERM: running statements were cancelled and child tools stopped", "run the same command with `--resume`"},
    {ExitCode::local_io, "local I/O error", "local I/O error (state, report, dump files, disk full)",
     "the state directory, report or dump files cannot be written or read (for example a full disk)",
     "free space or fix permissions, then `--resume`"},
    {ExitCode::nothing_to_resume, "nothing to resume", "nothing to resume",
     "`--resume` without an interrupted run for this source and target", "run without `--resume`"},
    {ExitCode::tls, "TLS failure", "TLS failure", "TLS handshake or server certificate verification failed",
     "check `sslmode`/`sslrootcert` (PostgreSQL) or `tls`/`tlsCAFile` (MongoDB) and the host name"},
    {ExitCode::same_server, "target is the source", "the target is the source server",
     "the target names the same server as the source (under another address); nothing was written",
     "give the external server as `--target`"},
    {ExitCode::cluster_mismatch, "cluster not as expected", "the cluster is not as expected",
     "an unknown namespace, no Helm release, no `layer=application` deployments, a database pod, Secret or key that "
     "is missing; nothing was changed",
     "check `--namespace`, `--release` and `--context`; `decant plan` lists what it found"},
    {ExitCode::cluster_failed, "cluster step failed", "a kubectl or helm step failed",
     "kubectl or helm failed (an upgrade that did not become ready, a port-forward that could not start, a probe "
     "that could not run)",
     "fix the cause named in the message, then `decant migrate --resume` or `--rollback`"},
    {ExitCode::backup_key, "wrong key", "no identity opens the backup",
     "none of the given age identities (or passphrases) is one the backup was encrypted to",
     "give the identity file (`--identity`) of a recipient the backup names (`decant backup list` shows their "
     "fingerprints)"},
    {ExitCode::backup_corrupt, "backup damaged", "a chunk is missing or damaged",
     "a chunk of the backup is missing, truncated, altered, or belongs to another backup; the item is named",
     "restore another backup (`decant backup list`); `decant backup verify` tells which backups are intact"},
    {ExitCode::backup_manifest, "manifest damaged", "the manifest is missing or damaged",
     "a backup's manifest or index entry is missing, altered, unreadable, or belongs to another backup",
     "restore another backup (`decant backup list`)"},
    {ExitCode::repository, "repository unusable", "the backup repository refused or failed a request",
     "the object store answered with an error decant cannot work around: the bucket does not exist, a request "
     "was refused for another reason than the credentials, or it kept failing after the retries; or a local "
     "--repo directory does not exist (only backup create makes it)",
     "check --repo, --s3-endpoint and --s3-region, that the bucket exists, and the store's health; then run "
     "the same command again (with --resume for a create or restore)"},
    {ExitCode::no_recent_backup, "no recent backup", "no verified pre-upgrade backup is recent enough",
     "`decant upgrade-check` found no complete, fully verified `pre-upgrade` backup newer than --max-age",
     "take one (`decant backup create --reason pre-upgrade`, then `decant backup verify --id ID`) before upgrading"},
    {ExitCode::unsupported_target, "unsupported target", "a target is not one the release supports",
     "an external database is not one the release's CircleCI Server supports: its PostgreSQL major version, the TLS "
     "it negotiates, the pg_partman it can install, or its MongoDB version or featureCompatibilityVersion "
     "(`decant plan` lists the release's requirements and each finding)",
     "give a target that meets them, or fix what the finding names; a PostgreSQL major outside the supported set is "
     "accepted with --allow-unsupported-target"},
}};

}  // namespace

std::span<const ExitCodeInfo> exit_codes() { return kExitCodes; }

const ExitCodeInfo& exit_code_info(ExitCode code) {
  for (const auto& info : kExitCodes)
    if (info.code == code) return info;
  return kExitCodes[1];  // unreachable: every enumerator is in the table (unit-tested)
}

std::string_view exit_code_name(ExitCode code) { return exit_code_info(code).name; }

std::vector<ExitCode> ExitCodeSet::codes() const {
  std::vector<ExitCode> out;
  for (const auto& info : kExitCodes)
    if (contains(info.code)) out.push_back(info.code);
  return out;
}

std::string exit_codes_footer(ExitCodeSet codes) {
  std::string out = "Exit codes:";
  size_t line = out.size();
  bool first = true;
  for (ExitCode code : codes.codes()) {
    std::string part = fmt::format("{} {}", static_cast<int>(code), exit_code_info(code).brief);
    std::string sep = first ? " " : "; ";
    if (line + sep.size() + part.size() > 110) {
      out += ";\n";
      sep.clear();
      line = 0;
    }
    out += sep + part;
    line += sep.size() + part.size();
    first = false;
  }
  return out + ".";
}

namespace {

// The commands that declare `code`, or "every command".
std::vector<std::string> raised_by(ExitCode code, std::span<const CommandExitCodes> commands) {
  std::vector<std::string> out;
  for (const auto& c : commands)
    if (c.codes.contains(code)) out.emplace_back(c.command);
  if (out.size() == commands.size()) return {"every command"};
  return out;
}

}  // namespace

std::string exit_codes_markdown(std::span<const CommandExitCodes> commands) {
  std::string out =
      "# Exit codes\n\n"
      "Every decant command exits with one of these. They are defined once, in the table of\n"
      "`src/common/error.cpp`, and each command declares the codes it can raise beside its definition\n"
      "(`src/cli/*_command.cpp`). `decant exit-codes` prints them, each command's `--help` lists its own,\n"
      "and this page is generated: `decant exit-codes --markdown` (`ninja exit-codes-doc` writes it; a\n"
      "unit test fails when it differs). Errors print one line on stderr: what failed, on which server\n"
      "(never with its password), and what to do.\n\n"
      "| code | name | meaning | what to do | raised by |\n|---:|---|---|---|---|\n";
  for (const auto& info : kExitCodes) {
    std::vector<std::string> by;
    for (const auto& c : raised_by(info.code, commands))
      by.push_back(c == "every command" ? c : "`" + c + "`");
    out += fmt::format("| {} | {} | {} | {} | {} |\n", static_cast<int>(info.code), info.name, info.meaning,
                       info.remedy, fmt::join(by, ", "));
  }
  return out;
}

std::string exit_codes_text(std::span<const CommandExitCodes> commands) {
  std::string out;
  for (const auto& info : kExitCodes) {
    out += fmt::format("{:>2}  {}: {}\n", static_cast<int>(info.code), info.name, info.meaning);
    if (!info.remedy.empty()) out += fmt::format("    what to do: {}\n", info.remedy);
    out += fmt::format("    raised by: {}\n", fmt::join(raised_by(info.code, commands), ", "));
  }
  return out;
}

std::string exit_codes_json(std::span<const CommandExitCodes> commands) {
  nlohmann::ordered_json codes = nlohmann::ordered_json::array();
  for (const auto& info : kExitCodes) {
    nlohmann::ordered_json by = nlohmann::ordered_json::array();
    for (const auto& c : commands)
      if (c.codes.contains(info.code)) by.push_back(c.command);
    codes.push_back({{"code", static_cast<int>(info.code)},
                     {"name", info.name},
                     {"meaning", info.meaning},
                     {"remedy", info.remedy},
                     {"commands", by}});
  }
  nlohmann::ordered_json by_command = nlohmann::ordered_json::object();
  for (const auto& c : commands) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (ExitCode code : c.codes.codes()) list.push_back(static_cast<int>(code));
    by_command[std::string(c.command)] = list;
  }
  return nlohmann::ordered_json{{"codes", codes}, {"commands", by_command}}.dump(2) + "\n";
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
