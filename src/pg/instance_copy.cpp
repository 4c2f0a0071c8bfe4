#include "pg/instance_copy.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <tuple>

#include "common/error.hpp"
#include "common/log.hpp"
#include "process/signals.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "engine/run_frame.hpp"
#include "engine/item_lifecycle.hpp"
#include "engine/stream.hpp"
#include "engine/task_pool.hpp"
#include "pg/catalog.hpp"
#include "pg/compatibility.hpp"
#include "pg/data_copy.hpp"
#include "pg/database_run.hpp"
#include "pg/connection.hpp"
#include "pg/extensions.hpp"
#include "pg/globals.hpp"
#include "pg/index_builds.hpp"
#include "pg/large_objects.hpp"
#include "pg/schema.hpp"
#include "pg/schema_split.hpp"
#include "pg/server_identity.hpp"
#include "pg/target_journal.hpp"
#include "pg/tools.hpp"

namespace decant::pg {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {


// Roles' VALID UNTIL travels as text: both ends must read and write it the same way.
void admin_session(Connection& conn) {
  conn.exec("SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; SET extra_float_digits = 3; "
            "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0");
}




class InstanceCopy {
 public:
  explicit InstanceCopy(const CopyOptions& options) : options_(options) {}

  // The ends of the copy, parsed (a malformed URI is a usage error).
  engine::Endpoints open();
  // A run with --resume; never a preflight, which has no frame.
  bool resuming() const { return frame_ && frame_->resuming(); }
  int run(engine::RunFrame& frame);
  CopyPreflight preflight();

 private:
  void connect_and_preflight();
  void plan_extensions();
  void check_targets();
  void create_database(DatabaseRun& db);
  void snapshot_and_dump(DatabaseRun& db);
  void try_on_target();
  Error cannot_hold(const std::vector<std::string>& problems) const;
  void load_pre_data(DatabaseRun& db);
  void check_schema_unchanged(DatabaseRun& db);
  void restore_section(DatabaseRun& db, const std::string& section);
  void restore_part(DatabaseRun& db, const std::string& section, const std::string& part,
                    const std::function<bool(const TocEntry&)>& skip);
  Connection side_admin(const std::string& dbname);

  const CopyOptions& options_;
  ConnInfo source_info_;  // parsed in connect_and_preflight(), so that --report is written
  ConnInfo target_info_;  // even for a malformed URI
  engine::RunFrame* frame_ = nullptr;  // of run(); preflight() writes nothing and has none
  Connection source_admin_;
  Connection target_admin_;
  Login target_login_;
  Roles source_roles_;
  RolesOutcome roles_;
  bool binary_ = false;
  std::optional<SchemaTransfer> schema_;
  size_t entries_per_transaction_ = 0;  // of a schema restore
  std::vector<std::unique_ptr<DatabaseRun>> databases_;
};

void InstanceCopy::connect_and_preflight() {
  source_admin_ = Connection::open(source_info_, source_info_.maintenance_db());
  source_admin_.exec("SET default_transaction_read_only = on");
  admin_session(source_admin_);
  target_admin_ = Connection::open(target_info_, target_info_.maintenance_db());
  admin_session(target_admin_);
  // Before anything else: nothing may ever be written to a target that is the source.
  auto source_id = read_identity(source_admin_);
  auto target_id = read_identity(target_admin_);
  if (same_server(source_id, target_id))
    throw Error(ExitCode::same_server,
                "the target " + target_info_.display() + " is the source server " + source_info_.display() + " (" +
                    source_id.describe() + "); nothing was written",
                "give the external PostgreSQL server as --target");
  if (target_id.in_recovery)
    throw Error(ExitCode::usage, "the target " + target_info_.display() + " is a standby (read-only) server",
                "give the primary of the external PostgreSQL server as --target");
  target_login_ = current_login(target_admin_);
  if (!target_login_.superuser && !(target_login_.createdb && target_login_.createrole))
    throw Error(ExitCode::privileges,
                "the target login " + target_login_.name + " is neither a superuser nor has CREATEDB and CREATEROLE",
                "connect --target as a superuser, or ALTER ROLE " + target_login_.name + " CREATEDB CREATEROLE");
  int source_major = source_admin_.server_version() / 10000;
  int target_major = target_admin_.server_version() / 10000;
  binary_ = source_major == target_major;
  PgTools tools = find_pg_tools(source_major, options_.pg_bin);
  std::set<std::string> target_settings;
  auto settings = target_admin_.exec("SELECT name FROM pg_catalog.pg_settings");
  for (int i = 0; i < settings.rows(); ++i) target_settings.insert(settings.text(i, 0));
  // Said by the run, not by a preflight (plan, and migrate's own check before it copies,
  // print their own account): once per copy.
  if (frame_)
    log::info("source PostgreSQL {}, target PostgreSQL {}; schema through {} ({})", source_major, target_major,
              tools.pg_dump, tools.version_line);
  schema_.emplace(std::move(tools), source_info_, target_info_, std::move(target_settings));
  auto databases = read_databases(source_admin_, options_.databases);
  if (auto problems = instance_incompatibilities(source_admin_, target_admin_, databases); !problems.empty())
    throw Error(ExitCode::copy_failed,
                fmt::format("the target (PostgreSQL {}) cannot hold what the source (PostgreSQL {}) has: {}; nothing "
                            "was written",
                            target_major, source_major, fmt::join(problems, "; ")),
                "copy into a server of the source's major version or newer, or change what is named on the source");
  for (auto& info : databases) {
    if (info.is_template && options_.databases.empty()) {
      // A template (template1) is copied only when it holds something: every target
      // has its own, and an empty one needs nothing.
      auto conn = Connection::open(source_info_, info.name);
      if (database_is_empty(conn)) continue;
    }
    auto db = std::make_unique<DatabaseRun>();
    db->info = std::move(info);
    databases_.push_back(std::move(db));
  }
  plan_extensions();
}

// Every extension is created at the source's version: a target that does not offer it is
// refused here, before anything is written, unless the operator asked for its default.
void InstanceCopy::plan_extensions() {
  auto offered = offered_extensions(target_admin_);
  std::vector<std::string> problems;
  for (auto& db : databases_) {
    auto conn = Connection::open(source_info_, db->info.name);
    db->extensions = plan_extension_versions(db->info.name, read_extensions(conn), offered, options_.extension_update);
    problems.insert(problems.end(), db->extensions.problems.begin(), db->extensions.problems.end());
  }
  if (problems.empty()) return;
  throw Error(ExitCode::copy_failed,
              fmt::format("the target (PostgreSQL {}) cannot create the source's extensions as they are: {}; nothing "
                          "was written",
                          target_admin_.server_version() / 10000, fmt::join(problems, "; ")),
              "install those versions on the target server, or create the target's default version with "
              "--extension-update NAME");
}

engine::Endpoints InstanceCopy::open() {
  source_info_ = ConnInfo::parse(options_.source, "source");
  target_info_ = ConnInfo::parse(options_.target, "target");
  return {source_info_.display(), target_info_.display(), source_info_.display() + " -> " + target_info_.display(),
          [target = target_info_] { return target_journal(target); }};
}

// Refuses, before anything is written, a target database that already holds objects.
void InstanceCopy::check_targets() {
  std::vector<std::string> non_empty;
  for (auto& db : databases_) {
    if (resuming() && frame_->state().done(run_key(*db, "created"))) continue;
    auto exists = target_admin_.exec_params("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {db->info.name});
    if (exists.rows() == 0) continue;
    auto conn = Connection::open(target_info_, db->info.name);
    if (!database_is_empty(conn)) non_empty.push_back(db->info.name);
  }
  if (non_empty.empty() || options_.clean) return;
  throw Error(ExitCode::target_not_empty,
              fmt::format("the target already has non-empty database(s): {}; nothing was changed",
                          fmt::join(non_empty, ", ")),
              resuming() ? "use --clean to drop and copy them again"
                              : "use --resume to continue an interrupted copy, or --clean to drop and recreate them");
}

// The session for CREATE/DROP DATABASE: target_admin_, unless that is connected to the
// very database to drop (the maintenance database itself is being copied).
Connection InstanceCopy::side_admin(const std::string& dbname) {
  auto conn = Connection::open(target_info_, dbname == "template1" ? "postgres" : "template1");
  admin_session(conn);
  return conn;
}


void InstanceCopy::create_database(DatabaseRun& db) {
  if (frame_->state().done(run_key(db, "created"))) return;
  auto& name = db.info.name;
  bool is_maintenance = name == target_info_.maintenance_db();
  Connection side;
  if (is_maintenance) side = side_admin(name);
  Connection& admin = is_maintenance ? side : target_admin_;
  bool created = recreate_database(admin, target_info_, db.info, options_.clean, target_login_, roles_.unassumable,
                                   roles_.left_out);
  if (is_maintenance && created) {
    // target_admin_'s database was dropped and created again: reconnect to it.
    target_admin_ = Connection::open(target_info_, name);
    admin_session(target_admin_);
  }
  frame_->state().mark_done(run_key(db, "created"));
}

// The database's snapshot, catalog and schema dump: read before anything is written.
void InstanceCopy::snapshot_and_dump(DatabaseRun& db) {
  db.started = Clock::now();
  db.coordinator = Connection::open(source_info_, db.info.name);
  db.coordinator.exec("SET default_transaction_read_only = on");
  set_portable_session(db.coordinator, db.info.encoding);
  db.coordinator.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  db.snapshot = db.coordinator.exec("SELECT pg_catalog.pg_export_snapshot()").text(0, 0);

  std::string base = fmt::format("{:016x}", XXH3_64bits(db.info.name.data(), db.info.name.size()));
  db.schema_file = frame_->state().own_file(base + ".schema.dump");
  // pg_dump reads the schema in its own session while this one reads the catalog: with
  // thousands of tables each takes a good part of a second.
  engine::TaskPool both(2);
  both.submit(0, [&](int) {
    auto started = Clock::now();
    schema_->dump(db.info.name, db.snapshot, db.schema_file);
    db.toc = schema_->list(db.schema_file);
    log::debug("database {}: schema dumped in {:.2f}s", db.info.name, engine::seconds_since(started));
  });
  both.submit(0, [&](int) { db.catalog = read_catalog(db.coordinator); });
  both.wait();
  check_schema_unchanged(db);
  std::set<uint32_t> toc_index_oids;
  for (const auto& e : db.toc)
    if (e.desc == "INDEX" || e.desc == "CONSTRAINT") toc_index_oids.insert(e.oid);
  for (const auto& b : db.catalog.indexes) {
    if (!toc_index_oids.count(b.toc_oid)) continue;  // e.g. made by an extension: not ours to build
    db.builds_by_table[b.table_oid].builds.push_back(&b);
    db.built_oids.insert(b.toc_oid);
  }
}

// Tries on the target what could fail there, before anything is written: that it can
// create each database's encoding and locale and, between different majors, that the
// schema loads (in a scratch database, in a transaction rolled back). pg_dump's output
// loads into newer servers by design, but a newer source can use what an older target
// lacks, and a server build can carry what others do not know (Debian's 15.20 gives
// every column an attribute option, pg_attver, that other builds reject).
void InstanceCopy::try_on_target() {
  std::vector<std::string> problems;
  bool other_major = target_admin_.server_version() / 10000 != source_admin_.server_version() / 10000;
  auto roles = other_major ? missing_roles(source_admin_, target_admin_) : std::vector<std::string>();
  // A locale some database of the target has already is known to work there.
  std::set<std::string> tried;
  auto existing = target_admin_.exec("SELECT pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, " +
                                     locale_columns(target_admin_) + " FROM pg_catalog.pg_database d");
  for (int r = 0; r < existing.rows(); ++r)
    tried.insert(existing.text(r, 0) + "|" + existing.text(r, 1) + "|" + existing.text(r, 2) + "|" +
                 existing.text(r, 3) + "|" + (existing.is_null(r, 4) ? "" : existing.text(r, 4)));
  for (auto& db : databases_) {
    const auto& i = db->info;
    std::string locale = i.encoding + "|" + i.collate + "|" + i.ctype + "|" + i.locale_provider + "|" + i.icu_locale;
    if (frame_->state().done(run_key(*db, "created")) || (!other_major && tried.count(locale))) continue;
    tried.insert(locale);
    DatabaseInfo scratch = i;
    scratch.name = fmt::format("decant_trial_{}", ::getpid());
    try {
      target_admin_.exec(create_database_sql(target_admin_, scratch));
    } catch (const Error& e) {
      if (e.code() == ExitCode::interrupted) throw;
      problems.push_back(fmt::format("database {} cannot be created there with its encoding and locale ({}, {}): {}",
                                     i.name, i.encoding, i.collate, e.what()));
      continue;
    }
    std::optional<std::string> failure;
    try {
      if (other_major)
        failure = schema_->trial(scratch.name, db->schema_file, db->toc, roles, db->extensions.create_at,
                                 entries_per_transaction_);
    } catch (...) {
      drop_database(target_admin_, scratch.name);
      throw;
    }
    drop_database(target_admin_, scratch.name);
    if (failure) problems.push_back("database " + i.name + ": " + *failure);
  }
  if (!problems.empty()) throw cannot_hold(problems);
}

Error InstanceCopy::cannot_hold(const std::vector<std::string>& problems) const {
  return Error(ExitCode::copy_failed,
               fmt::format("the target (PostgreSQL {}) cannot hold what the source (PostgreSQL {}) has: {}; nothing "
                           "was written",
                           target_admin_.server_version() / 10000, source_admin_.server_version() / 10000,
                           fmt::join(problems, "; ")),
               "copy into a server that can hold it, or change what is named on the source");
}

void InstanceCopy::load_pre_data(DatabaseRun& db) {
  for (const auto& e : db.toc)
    if (roles_.unassumable.count(e.owner)) db.keep_owners = false;
  if (!db.keep_owners)
    roles_.left_out.push_back(fmt::format("database {}: object owners (some are roles the target login {} cannot "
                                          "act as; it owns every object instead)",
                                          db.info.name, target_login_.name));
  restore_section(db, "pre-data");
  log::info("database {}: schema loaded; {} tables, {} indexes and constraints, {} sequences, {} large objects",
            db.info.name, db.catalog.tables.size(), db.built_oids.size(), db.catalog.sequences.size(),
            db.catalog.large_objects.size());
}

// A resumed copy reads the rest of the source in a new snapshot: if the source's schema
// changed since the interrupted run (objects added, dropped, renamed), finishing it would
// mix two states. The schema's table of contents is remembered and compared.
void InstanceCopy::check_schema_unchanged(DatabaseRun& db) {
  std::string toc;
  for (const auto& e : db.toc) toc += e.line.substr(e.line.find(';')) + "\n";  // without dump ids
  std::string fingerprint = fmt::format("{:016x}", XXH3_64bits(toc.data(), toc.size()));
  if (auto recorded = frame_->state().get(run_key(db, "schema"))) {
    if (recorded->get<std::string>() != fingerprint)
      throw Error(ExitCode::copy_failed,
                  "the schema of the source database " + db.info.name + " changed since the interrupted copy",
                  "a resumed copy would mix two states of the source: run with --clean to copy it again");
    return;
  }
  frame_->state().mark_done(run_key(db, "schema"), fingerprint);
}

// A section is restored in one transaction. After a kill between its commit and the
// record, --resume meets the section's own objects: then it is in. A pre-data with many
// tables is restored in parts, the tables' part in parallel sessions (below).
void InstanceCopy::restore_section(DatabaseRun& db, const std::string& section) {
  if (frame_->state().done(run_key(db, section))) return;
  // Large objects' metadata is decant's (large_objects.hpp); post-data leaves out the
  // indexes and constraints decant built itself.
  auto decants = [&db, section](const TocEntry& e) {
    return e.is_large_object_metadata() ||
           (section == "post-data" && (e.desc == "INDEX" || e.desc == "CONSTRAINT") && db.built_oids.count(e.oid));
  };
  auto phase = section == "pre-data" ? split_pre_data(db.toc) : std::vector<int>();
  if (phase.empty()) {
    restore_part(db, section, "", decants);
  } else {
    auto only = [&](int wanted) {
      return [&, wanted](const TocEntry& e) { return decants(e) || phase[&e - db.toc.data()] != wanted; };
    };
    std::vector<int> entries(kSchemaParts + 2, 0);
    for (int p : phase) ++entries[static_cast<size_t>(p)];
    log::debug("database {}: pre-data in parts of {} entries (first, {} sessions at once, rest)", db.info.name,
               fmt::join(entries, ", "), kSchemaParts);
    restore_part(db, section, "first", only(0));
    engine::TaskPool pool(std::min(frame_->jobs(), kSchemaParts));
    for (int p = 1; p <= kSchemaParts; ++p)
      if (entries[static_cast<size_t>(p)] > 0)
        pool.submit(0, [&, p](int) { restore_part(db, section, fmt::format("tables-{}", p), only(p)); });
    pool.wait();
    restore_part(db, section, "rest", only(kSchemaParts + 1));
  }
  frame_->state().mark_done(run_key(db, section));
}

void InstanceCopy::restore_part(DatabaseRun& db, const std::string& section, const std::string& part,
                                const std::function<bool(const TocEntry&)>& skip) {
  std::string part_key = run_key(db, section + (part.empty() ? "" : "/" + part));
  if (!part.empty() && frame_->state().done(part_key)) return;
  throw_if_interrupted();
  auto started = Clock::now();
  SectionRestore how{section, skip, db.keep_owners, resuming(), part, entries_per_transaction_,
                     db.extensions.create_at};
  if (!schema_->restore(db.info.name, db.schema_file, db.toc, how))
    log::info("database {}: the {}{} was restored by the interrupted run", db.info.name, section,
              part.empty() ? "" : " (" + part + ")");
  log::debug("database {}: {} {} restored in {:.2f}s", db.info.name, section, part, engine::seconds_since(started));
  if (!part.empty()) frame_->state().mark_done(part_key);
}

int InstanceCopy::run(engine::RunFrame& frame) {
  auto started = Clock::now();
  auto mark = started;
  auto phase_done = [&mark](const char* what) {
    log::debug("{} in {:.2f}s", what, engine::seconds_since(mark));
    mark = Clock::now();
  };
  frame_ = &frame;
  connect_and_preflight();
  // A refused run leaves an interrupted copy resumable: the state starts afresh only now.
  check_targets();
  frame.start_writing();
  // The schema's transactions must be the same in a resumed run, whatever the target's
  // settings became: their size is recorded.
  if (auto recorded = frame_->state().get("schema-transaction-entries")) {
    entries_per_transaction_ = recorded->get<size_t>();
  } else {
    entries_per_transaction_ = entries_per_transaction(target_admin_, kSchemaParts + 1);
    frame_->state().mark_done("schema-transaction-entries", entries_per_transaction_);
  }
  log::info("copying {} database(s) from {} to {} with {} jobs", databases_.size(), source_info_.display(),
            target_info_.display(), frame.jobs());

  phase_done("preflight");
  {
    engine::TaskPool pool(std::clamp(static_cast<int>(databases_.size()), 1, frame_->jobs()));
    for (auto& db : databases_) pool.submit(0, [this, d = db.get()](int) { snapshot_and_dump(*d); });
    pool.wait();
  }
  try_on_target();
  phase_done("schemas dumped and tried");

  source_roles_ = read_roles(source_admin_);
  roles_ = apply_roles(source_roles_, target_admin_, target_login_);
  for (auto& db : databases_) create_database(*db);
  phase_done("roles and databases");
  for (auto& db : databases_) load_pre_data(*db);
  phase_done("pre-data");

  DataCopy data({source_info_, target_info_, frame, databases_, binary_, resuming(),
                 [this](const std::string& role) { return !roles_.unassumable.count(role); }, target_login_.name});
  data.run();
  phase_done("data and indexes");

  for (auto& db : databases_) {
    db->coordinator = Connection();  // the snapshot is no longer needed
    log::info("database {}: restoring the remaining post-data (foreign keys, triggers, ...)", db->info.name);
    restore_section(*db, "post-data");
    frame_->report().set_group_seconds(db->info.name, engine::seconds_since(db->started));
  }

  phase_done("post-data");
  for (auto& db : databases_) {
    verify_database_properties(source_admin_, target_admin_, db->info.name,
                               !roles_.unassumable.count(db->info.owner), frame_->report());
    auto target_db = Connection::open(target_info_, db->info.name);
    verify_extensions(db->extensions, target_db, db->info.name, frame_->report());
    for (const auto& note : db->extensions.updated) frame_->report().add_note(note);
  }
  std::set<std::string> copied_databases;
  for (auto& db : databases_) copied_databases.insert(db->info.name);
  verify_roles(source_roles_, target_admin_, target_login_, roles_.excused, copied_databases, frame_->report());
  for (const auto& l : roles_.left_out) frame_->report().add_left_out(l);
  frame_->report().add_note("schema: " + schema_->tools().version_line + " (pg_dump, pg_restore and psql in " +
                   fs::path(schema_->tools().pg_dump).parent_path().string() + ")");
  for (const auto& setting : schema_->settings_left_out())
    frame_->report().add_note("schema: SET " + setting + " left out of the restore script (the target does not know it)");

  return frame.conclude("copy complete and verified", "run with --clean to copy again");
}

CopyPreflight InstanceCopy::preflight() {
  open();
  connect_and_preflight();
  check_targets();
  CopyPreflight out;
  out.source_major = source_admin_.server_version() / 10000;
  out.target_major = target_admin_.server_version() / 10000;
  out.tools = schema_->tools().version_line + " in " + fs::path(schema_->tools().pg_dump).parent_path().string();
  for (auto& db : databases_) {
    auto conn = Connection::open(source_info_, db->info.name);
    auto r = conn.exec(
        "SELECT pg_catalog.pg_database_size(pg_catalog.current_database()), count(*), "
        "coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'");
    DatabaseSummary summary{db->info.name, static_cast<uint64_t>(r.int64(0, 0)), static_cast<uint64_t>(r.int64(0, 1)),
                            static_cast<uint64_t>(r.int64(0, 2)), {}};
    for (const auto& e : db->extensions.source) summary.extensions[e.name] = e.version;
    out.bytes += summary.bytes;
    out.databases.push_back(std::move(summary));
  }
  return out;
}

}  // namespace

// Without a frame: nothing is resumed or written.
CopyPreflight preflight_copy(const CopyOptions& options) { return InstanceCopy(options).preflight(); }

int copy_instance(const CopyOptions& options) {
  return engine::run_in_frame({"pg copy", "pg-copy", "the same --source and --target", options.run},
                              InstanceCopy(options));
}

}  // namespace decant::pg
