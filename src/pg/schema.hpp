#pragma once
// The schema moves through pg_dump and pg_restore (custom format, schema sections only,
// no data): pre-data before the data, post-data after it, minus what decant does itself
// (the indexes and constraints it builds per table, large objects' metadata).
// pg_restore writes each section as a script that psql runs in one transaction on the
// target; on the way, SET lines for settings the target does not know are left out (a
// pg_restore 17 sets transaction_timeout, which 16 and older reject), so the newest
// client serves every target. psql reports errors with their SQLSTATE, which classifies
// them whatever the server's language. Passwords reach the children via PGPASSWORD in
// their environment, never their argv.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pg/conninfo.hpp"
#include "pg/dump_archive.hpp"
#include "pg/tools.hpp"

namespace decant::pg {

// One entry pg_restore would restore: its line of `pg_restore -l` ("ID; TABLEOID OID DESC
// SCHEMA NAME OWNER"), with what the line cannot say unambiguously taken from the archive
// itself: the kind (a "TABLE ATTACH" is not a TABLE), the owner, and the entries it
// depends on.
struct TocEntry {
  int dump_id = 0;
  uint32_t catalog_oid = 0;
  uint32_t oid = 0;
  std::string desc;   // INDEX, CONSTRAINT, FK CONSTRAINT, TABLE, TABLE ATTACH, BLOB, ...
  std::string owner;
  std::string line;
  std::vector<int> dependencies;  // dump ids
  // Large objects' definitions, comments, ACLs and security labels (decant copies them
  // from the catalog, for every pg_dump version alike).
  bool is_large_object_metadata() const;
};
// The entries of `listing` (pg_restore -l of `archive`). Throws Error(copy_failed) for a
// line naming an entry the archive does not hold.
std::vector<TocEntry> parse_toc(const std::string& listing, const DumpArchive& archive);

// Keeps a script's `SET name = value;` lines only for settings the target knows.
class ScriptFitter {
 public:
  explicit ScriptFitter(std::set<std::string> target_settings) : known_(std::move(target_settings)) {}
  // The line to pass on, or nullopt to leave it out.
  std::optional<std::string> fit(std::string_view line);
  std::set<std::string> left_out() const;

 private:
  std::set<std::string> known_;
  mutable std::mutex mutex_;
  std::set<std::string> left_out_;
};

class SchemaTransfer {
 public:
  // `target_settings`: the names in the target's pg_settings.
  SchemaTransfer(PgTools tools, const ConnInfo& source, const ConnInfo& target, std::set<std::string> target_settings)
      : tools_(std::move(tools)), source_(source), target_(target), fitter_(std::move(target_settings)) {}

  // pg_dump of `db`'s pre-data and post-data sections in `snapshot` into `file`.
  void dump(const std::string& db, const std::string& snapshot, const std::filesystem::path& file) const;
  std::vector<TocEntry> list(const std::filesystem::path& file) const;
  // Restores the entries of `section` ("pre-data" or "post-data") that `skip` does not
  // leave out, in one transaction. `keep_owner`: false restores with --no-owner (the
  // target login owns everything). `may_exist` (resuming): if the section meets objects
  // that exist already, an interrupted run committed it; returns false then.
  // `part` names one of several restores of the same section that run at once.
  bool restore(const std::string& db, const std::filesystem::path& file, const std::string& section,
               const std::vector<TocEntry>& toc, const std::function<bool(const TocEntry&)>& skip, bool keep_owner,
               bool may_exist, const std::string& part = "") const;

  // Loads the whole schema of `file` (pre-data and post-data) into `scratch_db` on the
  // target, after `setup_sql` (the roles the schema names), in one transaction that is
  // rolled back. Returns what failed ("at VIEW public.v: syntax error ..."), or nullopt.
  std::optional<std::string> trial(const std::string& scratch_db, const std::filesystem::path& file,
                                   const std::vector<TocEntry>& toc, const std::string& setup_sql) const;

  const PgTools& tools() const { return tools_; }
  // Settings whose SET lines were left out because the target does not know them.
  std::set<std::string> settings_left_out() const { return fitter_.left_out(); }

 private:
  struct ScriptRun;
  ScriptRun run_script(const std::string& db, const std::filesystem::path& file, const std::vector<std::string>& sections,
                       const std::string& part, const std::vector<TocEntry>& toc,
                       const std::function<bool(const TocEntry&)>& skip, bool keep_owner,
                       const std::optional<std::string>& trial_prologue) const;
  PgTools tools_;
  const ConnInfo& source_;
  const ConnInfo& target_;
  mutable ScriptFitter fitter_;
};

}  // namespace decant::pg
