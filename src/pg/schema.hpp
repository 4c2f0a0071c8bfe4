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
#include <map>
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
  ArchiveSection section = ArchiveSection::none;  // a comment's or ACL's: its object's
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

// How many entries of a section one transaction restores, for a target whose lock table
// holds `lock_capacity` locks (max_locks_per_transaction x (max_connections +
// max_prepared_transactions)) shared by `sessions` restoring at once. Every entry locks a
// few relations until its transaction ends: thousands of partitions in one transaction
// run a server with default settings out of shared memory.
size_t entries_per_transaction(int64_t lock_capacity, int sessions);
class Connection;
size_t entries_per_transaction(Connection& target, int sessions);

// One section's restore: which entries, as whom, and in transactions of how many entries.
struct SectionRestore {
  std::string section;  // "pre-data" or "post-data"
  std::function<bool(const TocEntry&)> skip = [](const TocEntry&) { return false; };
  bool keep_owner = true;  // false: --no-owner (the target login owns everything)
  // Resuming: a transaction that meets objects that exist already was committed by an
  // interrupted run (its entries are the same: the TOC and transaction size are).
  bool may_exist = false;
  std::string part;                    // names one of several restores of a section that run at once
  size_t entries_per_transaction = 0;  // 0: the whole section in one transaction
  // The version each extension is created at (CREATE EXTENSION ... VERSION), by name.
  std::map<std::string, std::string> extension_versions = {};
};

class SchemaTransfer {
 public:
  // `target_settings`: the names in the target's pg_settings.
  SchemaTransfer(PgTools tools, const ConnInfo& source, const ConnInfo& target, std::set<std::string> target_settings)
      : tools_(std::move(tools)), source_(source), target_(target), fitter_(std::move(target_settings)) {}

  // pg_dump of `db`'s pre-data and post-data sections in `snapshot` into `file`.
  void dump(const std::string& db, const std::string& snapshot, const std::filesystem::path& file) const;
  std::vector<TocEntry> list(const std::filesystem::path& file) const;
  // Restores the entries of `how.section` that `how.skip` does not leave out, in
  // transactions of `how.entries_per_transaction` entries, in TOC order. Returns false
  // when, resuming, every transaction had been committed by the interrupted run.
  bool restore(const std::string& db, const std::filesystem::path& file, const std::vector<TocEntry>& toc,
               const SectionRestore& how) const;

  // Loads the whole schema of `file` (pre-data and post-data) into `scratch_db` on the
  // target, which the caller drops afterwards; the schema names the roles
  // `missing_roles`, which the target lacks. When `entries_per_transaction` holds the
  // whole schema: in one transaction that makes the roles first and is rolled back.
  // Otherwise the roles are made, the schema loaded in transactions that commit into the
  // scratch database, and the roles dropped again (with what they own there). Returns
  // what failed ("at VIEW public.v: syntax error ..."), or nullopt.
  std::optional<std::string> trial(const std::string& scratch_db, const std::filesystem::path& file,
                                   const std::vector<TocEntry>& toc, const std::vector<std::string>& missing_roles,
                                   const std::map<std::string, std::string>& extension_versions,
                                   size_t entries_per_transaction) const;

  const PgTools& tools() const { return tools_; }
  // Settings whose SET lines were left out because the target does not know them.
  std::set<std::string> settings_left_out() const { return fitter_.left_out(); }

 private:
  struct ScriptRun;
  struct Script;
  ScriptRun run_script(const std::string& db, const std::filesystem::path& file, const std::vector<TocEntry>& toc,
                       const Script& script) const;
  PgTools tools_;
  const ConnInfo& source_;
  const ConnInfo& target_;
  mutable ScriptFitter fitter_;
};

}  // namespace decant::pg
