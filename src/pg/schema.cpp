#include "pg/schema.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.hpp"
#include "io/memory_file.hpp"
#include "common/log.hpp"
#include "process/process.hpp"
#include "process/run_context.hpp"
#include "pg/connection.hpp"
#include "pg/extensions.hpp"
#include "pg/sqlstate.hpp"

namespace decant::pg {
namespace {

std::map<std::string, std::string> password_env(const ConnInfo& info) {
  if (auto pw = info.password()) return {{"PGPASSWORD", *pw}};
  return {};
}

// The first error line a pg tool printed (its own messages are in the C locale).
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

[[noreturn]] void throw_interrupted() {
  throw Error(ExitCode::interrupted, "interrupted", "run the same command with --resume to continue where it stopped");
}

// A pg_dump failure: its own messages, in the C locale, say what kind it is.
ExitCode classify_dump_failure(const std::string& text) {
  if (text.find("connection to server") != std::string::npos || text.find("could not connect") != std::string::npos)
    return ExitCode::unreachable;
  return ExitCode::copy_failed;
}

// psql's error ("psql:<stdin>:LINE: ERROR:  SQLSTATE: message"), the script line it
// stopped at, and the message without the prefix and the verbose parts.
struct ScriptError {
  std::string state;
  long line = 0;
  std::string message;
};

ScriptError script_error(const std::string& stderr_text) {
  ScriptError e;
  std::istringstream in(stderr_text);
  std::string text;
  bool found = false;
  for (std::string line; std::getline(in, line);) {
    if (!found) {
      auto state = sqlstate_in(line);
      if (state.empty() && line.find("error:") == std::string::npos) continue;
      found = true;
      e.state = state;
      if (line.rfind("psql:", 0) == 0) {
        auto colon = line.find(':', 5);  // after "psql:<stdin>"
        if (colon != std::string::npos) e.line = std::strtol(line.c_str() + colon + 1, nullptr, 10);
        auto sev = line.find(": ", colon + 1);
        if (sev != std::string::npos) line = line.substr(sev + 2);
      }
    } else if (line.rfind("psql:", 0) == 0) {
      break;  // the next message
    }
    text += (text.empty() ? "" : "\n") + line;
  }
  e.message = found ? without_verbose_parts(text, e.state) : first_error(stderr_text);
  // "ERROR:  message": the severity (in the server's language) says nothing more.
  auto severity_end = e.message.find(":  ");
  if (found && severity_end != std::string::npos && severity_end < e.message.find('\n'))
    e.message.erase(0, severity_end + 3);
  return e;
}

// Tracks the script's "-- Name: t; Type: TABLE; Schema: public; Owner: o" headers by line
// number, so that a failing line is named by the object it belongs to.
class ScriptHeaders {
 public:
  void skip_lines(long count) { line_ += count; }
  void see(std::string_view line) {
    ++line_;
    if (line.rfind("-- Name: ", 0) == 0) headers_.emplace_back(line_, object_name(line.substr(9)));
  }
  // "t; Type: TABLE; Schema: public; Owner: o" -> "TABLE public.t"
  static std::string object_name(std::string_view header) {
    auto field = [&](std::string_view key) -> std::string {
      auto at = header.find("; " + std::string(key) + ": ");
      if (at == std::string_view::npos) return "";
      auto start = at + key.size() + 4;
      auto end = header.find("; ", start);
      return std::string(header.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    };
    std::string name(header.substr(0, header.find("; ")));
    std::string type = field("Type"), schema = field("Schema");
    if (type.empty()) return name;
    return type + " " + (schema.empty() || schema == "-" ? name : schema + "." + name);
  }
  std::string object_at(long line) const {
    std::string found;
    for (const auto& [at, header] : headers_)
      if (at <= line) found = header;
    return found;
  }

 private:
  long line_ = 0;
  std::vector<std::pair<long, std::string>> headers_;
};

}  // namespace

std::vector<TocEntry> parse_toc(const std::string& listing, const DumpArchive& archive) {
  // Comments, ACLs and security labels have no section of their own: they belong to the
  // section of the entry before them, as pg_restore reads it.
  std::map<int, std::pair<const ArchiveEntry*, ArchiveSection>> by_id;
  ArchiveSection current = ArchiveSection::pre_data;
  for (const auto& a : archive.entries) {
    if (a.section != ArchiveSection::none) current = a.section;
    by_id[a.dump_id] = {&a, current};
  }
  std::vector<TocEntry> out;
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ';') continue;
    TocEntry e;
    unsigned cat = 0, oid = 0;
    if (std::sscanf(line.c_str(), "%d; %u %u", &e.dump_id, &cat, &oid) < 3) continue;
    auto found = by_id.find(e.dump_id);
    if (found == by_id.end())
      throw Error(ExitCode::copy_failed,
                  fmt::format("pg_restore lists entry {} that the schema archive does not hold", e.dump_id),
                  "run the same command with --resume (the schema is dumped again)");
    const ArchiveEntry& a = *found->second.first;
    e.catalog_oid = cat;
    e.oid = oid;
    e.desc = a.desc;
    e.owner = a.owner.value_or("");
    e.dependencies = a.dependencies;
    e.section = found->second.second;
    e.line = std::move(line);
    out.push_back(std::move(e));
  }
  return out;
}

bool TocEntry::is_large_object_metadata() const {
  // pg_dump < 17: "BLOB" in pre-data; 17: "BLOB METADATA" in the data section. Their
  // comments, ACLs and security labels name the object as "LARGE OBJECT <oid>".
  return desc == "BLOB" || desc == "BLOB METADATA" ||
         ((desc == "COMMENT" || desc == "ACL" || desc == "SECURITY LABEL") &&
          line.find(" LARGE OBJECT ") != std::string::npos);
}

std::optional<std::string> ScriptFitter::fit(std::string_view line) {
  // pg_restore writes its session settings as "SET name = value;" at the start of a line.
  if (line.rfind("SET ", 0) == 0 && line.size() > 4 && line.back() == ';') {
    auto name_end = line.find(' ', 4);
    std::string name(line.substr(4, name_end == std::string_view::npos ? std::string_view::npos : name_end - 4));
    bool plain_name = !name.empty() && name.find('.') == std::string::npos &&
                      std::all_of(name.begin(), name.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)) || c == '_'; });
    if (plain_name && !known_.count(name)) {
      std::lock_guard lock(mutex_);
      left_out_.insert(name);
      return std::nullopt;
    }
  }
  return std::string(line);
}

std::set<std::string> ScriptFitter::left_out() const {
  std::lock_guard lock(mutex_);
  return left_out_;
}

void SchemaTransfer::dump(const std::string& db, const std::string& snapshot, const std::filesystem::path& file) const {
  ProcessSpec spec;
  spec.argv = {tools_.pg_dump, "--format=custom", "--section=pre-data", "--section=post-data", "--no-password",
               "--file=" + file.string(), "--dbname=" + source_.for_child(db)};
  if (!snapshot.empty()) spec.argv.push_back("--snapshot=" + snapshot);
  spec.extra_env = password_env(source_);
  auto r = run_process(spec);
  if (r.exit_status == 0) return;
  if (r.stopped || interrupted()) throw_interrupted();
  std::string msg = first_error(r.errors);
  if (r.errors.find("No space left on device") != std::string::npos)
    throw Error(ExitCode::local_io, "pg_dump cannot write the schema of " + db + " to " + file.string() + ": " + msg,
                "free disk space there (or choose another --state-dir), then run the same command with --resume");
  throw Error(classify_dump_failure(r.errors), "pg_dump of the source database " + db + " failed: " + msg,
              "fix the cause, then run the same command with --resume");
}

std::vector<TocEntry> SchemaTransfer::list(const std::filesystem::path& file) const {
  auto r = run_process({{tools_.pg_restore, "--list", file.string()}});
  if (r.stopped || interrupted()) throw_interrupted();
  if (r.exit_status != 0)
    throw Error(ExitCode::copy_failed, "pg_restore --list " + file.string() + " failed: " + first_error(r.errors));
  // The archive's own table of contents says what the listing cannot: exact kinds and
  // dependencies (a schema-only archive is small: its header and TOC).
  return parse_toc(r.output, read_custom_archive_file(file));
}

size_t entries_per_transaction(int64_t lock_capacity, int sessions) {
  // An entry locks up to four relations (a table, its TOAST table and index; a partition
  // and its parent); half the table is left to everyone else.
  constexpr int64_t kLocksPerEntry = 4;
  int64_t entries = lock_capacity / (2 * kLocksPerEntry * std::max(1, sessions));
  return static_cast<size_t>(std::clamp<int64_t>(entries, 25, 100000));
}

size_t entries_per_transaction(Connection& target, int sessions) {
  auto r = target.exec(
      "SELECT pg_catalog.current_setting('max_locks_per_transaction')::bigint * "
      "(pg_catalog.current_setting('max_connections')::bigint + "
      "pg_catalog.current_setting('max_prepared_transactions')::bigint)");
  return entries_per_transaction(r.int64(0, 0), sessions);
}

namespace {

// The restore's transactions: the selected entries of the sections, in TOC order, in runs
// of at most `size` (0: one run). Returns the run of each entry, -1 for entries not selected.
std::vector<int> transactions_of(const std::vector<TocEntry>& toc, const std::set<ArchiveSection>& sections,
                                 const std::function<bool(const TocEntry&)>& skip, size_t size, int& count) {
  std::vector<int> run(toc.size(), -1);
  size_t in_run = 0;
  count = 0;
  for (size_t i = 0; i < toc.size(); ++i) {
    if (!sections.count(toc[i].section) || skip(toc[i])) continue;
    if (count == 0 || (size > 0 && in_run == size)) {
      ++count;
      in_run = 0;
    }
    run[i] = count - 1;
    ++in_run;
  }
  return run;
}

ArchiveSection section_named(const std::string& name) {
  return name == "pre-data" ? ArchiveSection::pre_data : ArchiveSection::post_data;
}

std::string quoted_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

// One pg_restore | psql run: which entries, and in what transaction. The list of entries
// alone says what is restored, never pg_restore's --section: given a list, pg_restore
// moves the entries left out before the others and gives a comment or ACL the section of
// the entry before it there, so a comment opening a list lost its section and was left
// out without a word.
struct SchemaTransfer::Script {
  std::string part;
  std::function<bool(const TocEntry&)> skip;
  bool keep_owner = true;
  const std::map<std::string, std::string>* extension_versions = nullptr;
  // A trial: the script runs after this prologue (BEGIN and what the schema needs) and
  // is rolled back; otherwise psql runs it in one transaction that commits.
  std::optional<std::string> trial_prologue;
};

struct SchemaTransfer::ScriptRun {
  PipelineResult result;
  ScriptHeaders headers;
};

// pg_restore writes the sections as a script (through the fitter) that psql runs on the
// target: in one transaction, or (a trial) in one it rolls back.
SchemaTransfer::ScriptRun SchemaTransfer::run_script(const std::string& db, const std::filesystem::path& file,
                                                     const std::vector<TocEntry>& toc, const Script& script) const {
  bool trial = script.trial_prologue.has_value();
  // The list of entries to restore lives in memory: pg_restore opens it by its /proc path.
  MemoryFile list_file("decant-toc" + (script.part.empty() ? "" : "-" + script.part));
  {
    std::string listing;
    for (const auto& e : toc) listing += (script.skip(e) ? ";" : "") + e.line + "\n";
    list_file.write_all(listing);
  }
  ProcessSpec producer({tools_.pg_restore, "--file=-", "--use-list=" + list_file.path()});
  if (!script.keep_owner) producer.argv.emplace_back("--no-owner");
  producer.argv.push_back(file.string());
  // --file=- so that psql names the line an error is at ("psql:<stdin>:LINE:").
  ProcessSpec consumer({tools_.psql, "--no-psqlrc", "--quiet", "--no-password", "--output=/dev/null", "--file=-",
                        "--set=ON_ERROR_STOP=1", "--set=VERBOSITY=verbose", "--dbname=" + target_.for_child(db)},
                       password_env(target_));
  if (!trial) consumer.argv.insert(consumer.argv.begin() + 1, "--single-transaction");
  ScriptRun run;
  if (trial) run.headers.skip_lines(std::count(script.trial_prologue->begin(), script.trial_prologue->end(), '\n'));
  run.result = run_pipeline(
      producer,
      [&](std::string_view line) {
        auto kept = fitter_.fit(line);
        if (kept && script.extension_versions) kept = with_extension_version(*kept, *script.extension_versions);
        if (kept) run.headers.see(*kept);
        return kept;
      },
      consumer, trial ? *script.trial_prologue : "", trial ? "\nROLLBACK;\n" : "");
  if (run.result.producer.stopped || run.result.consumer.stopped || interrupted()) throw_interrupted();
  // When psql stops at an error, pg_restore dies writing to it: psql's error is the cause.
  if (run.result.producer.exit_status != 0 && run.result.consumer.exit_status == 0)
    throw Error(ExitCode::copy_failed,
                "pg_restore could not read the schema of database " + db + ": " + first_error(run.result.producer.errors),
                "run the same command with --resume (the schema is dumped again)");
  return run;
}

bool SchemaTransfer::restore(const std::string& db, const std::filesystem::path& file, const std::vector<TocEntry>& toc,
                             const SectionRestore& how) const {
  int count = 0;
  auto run_of = transactions_of(toc, {section_named(how.section)}, how.skip, how.entries_per_transaction, count);
  bool restored_any = count == 0;  // nothing to restore: nothing an earlier run did
  for (int t = 0; t < count; ++t) {
    Script script{how.part + (count > 1 ? fmt::format("-{}", t) : ""),
                  [&](const TocEntry& e) { return run_of[static_cast<size_t>(&e - toc.data())] != t; },
                  how.keep_owner, &how.extension_versions, std::nullopt};
    auto run = run_script(db, file, toc, script);
    if (run.result.consumer.exit_status == 0) {
      restored_any = true;
      continue;
    }
    std::string doing = how.section == "pre-data" ? "schema (pre-data)" : "indexes, constraints and the rest (post-data)";
    auto e = script_error(run.result.consumer.errors);
    if (how.may_exist && is_duplicate_object(e.state)) continue;  // committed by the interrupted run
    std::string object = run.headers.object_at(e.line);
    ExitCode code = e.state.empty() ? classify_dump_failure(run.result.consumer.errors) : classify_sqlstate(e.state);
    if (code == ExitCode::usage) code = ExitCode::copy_failed;
    throw Error(code,
                "restoring the " + doing + " of database " + db + " failed" + (object.empty() ? "" : " at " + object) +
                    ": " + e.message,
                code == ExitCode::privileges
                    ? "connect --target as a superuser, or grant the login what it lacks"
                    : std::string("fix the cause, then run the same command with --resume (") +
                          (count > 1 ? "that transaction was" : "the step was") + " rolled back)");
  }
  return restored_any;
}

std::optional<std::string> SchemaTransfer::trial(const std::string& scratch_db, const std::filesystem::path& file,
                                                 const std::vector<TocEntry>& toc,
                                                 const std::vector<std::string>& missing_roles,
                                                 const std::map<std::string, std::string>& extension_versions,
                                                 size_t entries_per_transaction) const {
  auto lo_metadata = [](const TocEntry& e) { return e.is_large_object_metadata(); };
  int count = 0;
  auto run_of = transactions_of(toc, {ArchiveSection::pre_data, ArchiveSection::post_data}, lo_metadata,
                                entries_per_transaction, count);
  std::string roles_sql;
  for (const auto& r : missing_roles) roles_sql += "CREATE ROLE " + quoted_identifier(r) + ";\n";
  auto failure_of = [&](const ScriptRun& run) -> std::optional<std::string> {
    if (run.result.consumer.exit_status == 0) return std::nullopt;
    auto e = script_error(run.result.consumer.errors);
    std::string object = run.headers.object_at(e.line);
    return (object.empty() ? "" : "at " + object + ": ") + e.message;
  };
  if (count <= 1)
    return failure_of(run_script(scratch_db, file, toc,
                                 {"", [&](const TocEntry& e) { return run_of[static_cast<size_t>(&e - toc.data())] != 0; },
                                  true, &extension_versions, "BEGIN;\n" + roles_sql + "\n"}));

  // Too many entries for one transaction: commit into the scratch database, with the
  // roles made for it and dropped after it (with what they own there).
  auto psql = [&](const std::string& sql) {
    ProcessSpec spec({tools_.psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1",
                      "--dbname=" + target_.for_child(scratch_db), "--file=-"},
                     password_env(target_));
    spec.stdin_data = sql;
    auto r = run_process(spec);
    if (r.stopped || interrupted()) throw_interrupted();
    if (r.exit_status != 0)
      throw Error(ExitCode::copy_failed, "trying the schema on the target failed: " + first_error(r.errors),
                  "fix the cause, then run the same command again");
  };
  std::string drop_roles;
  for (const auto& r : missing_roles)
    drop_roles += "REASSIGN OWNED BY " + quoted_identifier(r) + " TO CURRENT_USER; DROP OWNED BY " +
                  quoted_identifier(r) + "; DROP ROLE " + quoted_identifier(r) + ";\n";
  if (!roles_sql.empty()) psql(roles_sql);
  std::optional<std::string> failure;
  try {
    for (int t = 0; t < count && !failure; ++t)
      failure = failure_of(run_script(scratch_db, file, toc,
                                      {fmt::format("trial-{}", t),
                                       [&](const TocEntry& e) { return run_of[static_cast<size_t>(&e - toc.data())] != t; },
                                       true, &extension_versions, std::nullopt}));
  } catch (...) {
    try {
      if (!drop_roles.empty()) psql(drop_roles);
    } catch (const Error&) {
      // The first error says more; the roles are the source's and the copy makes them anyway.
    }
    throw;
  }
  if (!drop_roles.empty()) psql(drop_roles);
  return failure;
}

}  // namespace decant::pg
