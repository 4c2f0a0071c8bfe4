#include "pg/instance_copy.hpp"

#include <fmt/format.h>
#include <libpq/libpq-fs.h>
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

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "engine/stream.hpp"
#include "engine/task_pool.hpp"
#include "pg/catalog.hpp"
#include "pg/connection.hpp"
#include "pg/globals.hpp"
#include "pg/schema.hpp"
#include "pg/tools.hpp"

namespace decant::pg {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// Settings for the target's writing sessions. synchronous_commit=off is safe here: a
// lost commit after a target crash is caught by verification or redone by --resume.
constexpr const char* kTargetSessionSql =
    "SET synchronous_commit = off; SET maintenance_work_mem = '512MB'; "
    "SET max_parallel_maintenance_workers = 0; SET statement_timeout = 0; SET lock_timeout = 0";

// Roles' VALID UNTIL travels as text: both ends must read and write it the same way.
void admin_session(Connection& conn) {
  conn.exec("SET DateStyle = ISO; SET TimeZone = 'UTC'; SET IntervalStyle = postgres; SET extra_float_digits = 3; "
            "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0");
}

bool database_is_empty(Connection& conn) {
  auto r = conn.exec(
      "SELECT (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
      "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
      "          AND n.nspname !~ '^pg_temp') "
      "     + (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
      "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')) "
      "     + (SELECT count(*) FROM pg_catalog.pg_namespace n WHERE n.nspname NOT IN "
      "        ('pg_catalog', 'information_schema', 'public') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp') "
      "     + (SELECT count(*) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
      "        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typrelid = 0 AND t.typelem = 0) "
      "     + (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata) "
      "     + (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql')");
  return r.int64(0, 0) == 0;
}


// Streams large objects' contents with a per-object hash, for copy and verification.
struct LargeObjectDigest {
  RowDigest digest;
  uint64_t bytes = 0;
};

class LargeObject {
 public:
  LargeObject(Connection& conn, uint32_t oid, int mode) : conn_(conn) {
    fd_ = lo_open(conn.raw(), oid, mode);
    if (fd_ < 0) conn.fail(nullptr, fmt::format("opening large object {}", oid));
  }
  ~LargeObject() { lo_close(conn_.raw(), fd_); }
  LargeObject(const LargeObject&) = delete;
  LargeObject& operator=(const LargeObject&) = delete;
  int fd() const { return fd_; }

 private:
  Connection& conn_;
  int fd_;
};

// Reads one large object (and writes it to `target` when given); adds oid + content hash.
void transfer_large_object(Connection& source, Connection* target, uint32_t oid, LargeObjectDigest& out) {
  LargeObject in(source, oid, INV_READ);
  std::unique_ptr<LargeObject> sink;
  if (target) {
    sink = std::make_unique<LargeObject>(*target, oid, INV_WRITE);
    if (lo_truncate64(target->raw(), sink->fd(), 0) < 0) target->fail(nullptr, "truncating a large object");
  }
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), &XXH3_freeState);
  XXH3_128bits_reset(state.get());
  std::string buf(1 << 20, '\0');
  for (;;) {
    int n = lo_read(source.raw(), in.fd(), buf.data(), buf.size());
    if (n < 0) source.fail(nullptr, fmt::format("reading large object {}", oid));
    if (n == 0) break;
    XXH3_128bits_update(state.get(), buf.data(), static_cast<size_t>(n));
    out.bytes += static_cast<uint64_t>(n);
    if (sink && lo_write(target->raw(), sink->fd(), buf.data(), static_cast<size_t>(n)) != n)
      target->fail(nullptr, fmt::format("writing large object {}", oid));
  }
  XXH128_hash_t h = XXH3_128bits_digest(state.get());
  char entry[20];
  std::memcpy(entry, &oid, 4);
  std::memcpy(entry + 4, &h.high64, 8);
  std::memcpy(entry + 12, &h.low64, 8);
  out.digest.add_row(std::string_view(entry, sizeof entry));
}

// Extension configuration tables, each after the tables its foreign keys reference.
std::vector<const TableInfo*> extension_tables_in_fk_order(const std::vector<TableInfo>& tables) {
  std::vector<const TableInfo*> pending, ordered;
  for (const auto& t : tables)
    if (t.extension_config) pending.push_back(&t);
  std::set<uint32_t> placed;
  while (!pending.empty()) {
    auto ready = std::stable_partition(pending.begin(), pending.end(), [&](const TableInfo* t) {
      return std::all_of(t->references.begin(), t->references.end(), [&](uint32_t ref) {
        return placed.count(ref) || std::none_of(pending.begin(), pending.end(),
                                                 [&](const TableInfo* p) { return p->oid == ref; });
      });
    });
    if (ready == pending.begin()) ready = pending.begin() + 1;  // a cycle: take one, FKs will say
    for (auto it = pending.begin(); it != ready; ++it) {
      placed.insert((*it)->oid);
      ordered.push_back(*it);
    }
    pending.erase(pending.begin(), ready);
  }
  return ordered;
}

// Everything about one database's copy that outlives a single task.
struct DatabaseRun {
  DatabaseInfo info;
  Connection coordinator;  // holds the exported snapshot open until the data is in
  std::string snapshot;
  DatabaseCatalog catalog;
  fs::path schema_file;
  std::vector<TocEntry> toc;
  // Per table: its builds, and how many CREATE INDEX are still running; the last one
  // to finish queues the table's finish step.
  struct TableBuilds {
    std::vector<const IndexBuild*> builds;
    std::atomic<int> pending{0};
  };
  std::map<uint32_t, TableBuilds> builds_by_table;
  std::set<uint32_t> built_oids;  // TOC oids decant builds itself
  bool keep_owners = true;        // false: some owner is a role the target login cannot act as
  Clock::time_point started;
};

// Each worker keeps one source and one target session for the database it works on.
struct WorkerSessions {
  const DatabaseRun* db = nullptr;
  Connection source;
  Connection target;
};

class InstanceCopy {
 public:
  explicit InstanceCopy(const CopyOptions& options)
      : options_(options),
        jobs_(engine::resolve_jobs(options.jobs)),
        report_("pg copy", "", "") {}

  int run();
  engine::Report& report() { return report_; }

 private:
  void connect_and_preflight();
  void prepare_state();
  void check_targets();
  void create_database(DatabaseRun& db);
  void plan_database(DatabaseRun& db);
  void restore_once(DatabaseRun& db, const std::string& section, const std::function<void()>& restore);
  void check_schema_unchanged(DatabaseRun& db);
  void schedule(engine::TaskPool& pool);
  void copy_table(int worker, DatabaseRun& db, const TableInfo& table, engine::ProgressItem& progress,
                  engine::TaskPool& pool);
  void schedule_builds(DatabaseRun& db, uint32_t table_oid, engine::TaskPool& pool);
  void build_index(int worker, DatabaseRun& db, const IndexBuild& build);
  void finish_table(int worker, DatabaseRun& db, uint32_t table_oid);
  void copy_large_objects(int worker, DatabaseRun& db);
  void copy_sequences(int worker, DatabaseRun& db);
  WorkerSessions& sessions(int worker, const DatabaseRun& db);
  Connection side_admin(const std::string& dbname);
  std::string key(const DatabaseRun& db, const std::string& what) const { return db.info.name + "/" + what; }

  const CopyOptions& options_;
  ConnInfo source_info_;  // parsed in connect_and_preflight(), so that --report is written
  ConnInfo target_info_;  // even for a malformed URI
  int jobs_;
  engine::Report report_;
  Connection source_admin_;
  Connection target_admin_;
  Login target_login_;
  RolesOutcome roles_;
  bool binary_ = false;
  std::optional<PgTools> tools_;
  std::optional<SchemaTransfer> schema_;
  std::unique_ptr<engine::ResumeState> state_;
  std::vector<std::unique_ptr<DatabaseRun>> databases_;
  std::vector<WorkerSessions> workers_;
  engine::ProgressBoard progress_;
};

void InstanceCopy::connect_and_preflight() {
  source_info_ = ConnInfo::parse(options_.source, "source");
  target_info_ = ConnInfo::parse(options_.target, "target");
  report_.set_endpoints(source_info_.display(), target_info_.display());
  source_admin_ = Connection::open(source_info_, source_info_.maintenance_db());
  source_admin_.exec("SET default_transaction_read_only = on");
  admin_session(source_admin_);
  target_admin_ = Connection::open(target_info_, target_info_.maintenance_db());
  admin_session(target_admin_);
  target_login_ = current_login(target_admin_);
  if (!target_login_.superuser && !(target_login_.createdb && target_login_.createrole))
    throw Error(ExitCode::privileges,
                "the target login " + target_login_.name + " is neither a superuser nor has CREATEDB and CREATEROLE",
                "connect --target as a superuser, or ALTER ROLE " + target_login_.name + " CREATEDB CREATEROLE");
  int source_major = source_admin_.server_version() / 10000;
  int target_major = target_admin_.server_version() / 10000;
  if (target_major < source_major)
    log::warn("the target server (version {}) is older than the source (version {}); the schema may not load",
              target_major, source_major);
  binary_ = source_major == target_major;
  tools_ = find_pg_tools(source_major, options_.pg_bin);
  log::debug("using {} ({})", tools_->pg_dump, tools_->version_line);
  schema_.emplace(*tools_, source_info_, target_info_);
  for (auto& info : read_databases(source_admin_, options_.databases)) {
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
}

void InstanceCopy::prepare_state() {
  std::string identity = source_info_.display() + " -> " + target_info_.display();
  fs::path dir = options_.state_dir ? fs::path(*options_.state_dir) : engine::default_state_dir("pg-copy", identity);
  state_ = std::make_unique<engine::ResumeState>(dir, identity);
  if (options_.resume) {
    state_->load();
    log::info("resuming the copy recorded in {}", dir.string());
  }
  // Without --resume the state is started afresh, but only once check_targets() has
  // passed: a refused run must leave an interrupted copy resumable.
}

// Refuses, before anything is written, a target database that already holds objects.
void InstanceCopy::check_targets() {
  std::vector<std::string> non_empty;
  for (auto& db : databases_) {
    if (options_.resume && state_->done(key(*db, "created"))) continue;
    auto exists = target_admin_.exec_params("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {db->info.name});
    if (exists.rows() == 0) continue;
    auto conn = Connection::open(target_info_, db->info.name);
    if (!database_is_empty(conn)) non_empty.push_back(db->info.name);
  }
  if (non_empty.empty() || options_.clean) return;
  throw Error(ExitCode::target_not_empty,
              fmt::format("the target already has non-empty database(s): {}; nothing was changed",
                          fmt::join(non_empty, ", ")),
              options_.resume ? "use --clean to drop and copy them again"
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
  if (state_->done(key(db, "created"))) return;
  auto& name = db.info.name;
  bool is_maintenance = name == target_info_.maintenance_db();
  Connection side;
  if (is_maintenance) side = side_admin(name);
  Connection& admin = is_maintenance ? side : target_admin_;
  auto exists = admin.exec_params("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {name});
  bool reuse = false;
  if (exists.rows() > 0) {
    bool empty = false;
    {
      auto conn = Connection::open(target_info_, name);
      empty = database_is_empty(conn);
    }
    if (empty && !options_.clean) {
      reuse = true;
    } else {
      log::info("dropping target database {} (--clean)", name);
      // A template cannot be dropped; FORCE ends other sessions (ours included).
      admin.exec("ALTER DATABASE " + admin.quote_ident(name) + " IS_TEMPLATE false");
      admin.exec("DROP DATABASE " + admin.quote_ident(name) + " WITH (FORCE)");
    }
  }
  if (!reuse) admin.exec(create_database_sql(admin, db.info));
  DatabaseInfo properties = db.info;
  if (roles_.unassumable.count(db.info.owner)) {
    properties.owner = target_login_.name;
    roles_.left_out.push_back(fmt::format("database {}: owner {} (kept as the target login {})", name, db.info.owner,
                                          target_login_.name));
  }
  for (const auto& sql : database_properties_sql(admin, properties)) {
    try {
      admin.exec(sql);
    } catch (const Error& e) {
      if (target_login_.superuser || e.code() != ExitCode::privileges) throw;
      roles_.left_out.push_back(fmt::format("database {}: {} ({})", name, sql, e.what()));
    }
  }
  if (is_maintenance && !reuse) {
    // target_admin_'s database was dropped and created again: reconnect to it.
    target_admin_ = Connection::open(target_info_, name);
    admin_session(target_admin_);
  }
  state_->mark_done(key(db, "created"));
}

void InstanceCopy::plan_database(DatabaseRun& db) {
  db.started = Clock::now();
  db.coordinator = Connection::open(source_info_, db.info.name);
  db.coordinator.exec("SET default_transaction_read_only = on");
  set_portable_session(db.coordinator, db.info.encoding);
  db.coordinator.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  db.snapshot = db.coordinator.exec("SELECT pg_catalog.pg_export_snapshot()").text(0, 0);
  db.catalog = read_catalog(db.coordinator);

  std::string base = fmt::format("{:016x}", XXH3_64bits(db.info.name.data(), db.info.name.size()));
  db.schema_file = state_->own_file(base + ".schema.dump");
  state_->own_file(base + ".schema.dump.post-data.list");
  schema_->dump(db.info.name, db.snapshot, db.schema_file);
  db.toc = schema_->list(db.schema_file);
  check_schema_unchanged(db);
  std::set<uint32_t> toc_index_oids;
  for (const auto& e : db.toc)
    if (e.desc == "INDEX" || e.desc == "CONSTRAINT") toc_index_oids.insert(e.oid);
  for (const auto& b : db.catalog.indexes) {
    if (!toc_index_oids.count(b.toc_oid)) continue;  // e.g. made by an extension: not ours to build
    db.builds_by_table[b.table_oid].builds.push_back(&b);
    db.built_oids.insert(b.toc_oid);
  }
  for (const auto& e : db.toc)
    if (roles_.unassumable.count(e.owner)) db.keep_owners = false;
  if (!db.keep_owners)
    roles_.left_out.push_back(fmt::format("database {}: object owners (some are roles the target login {} cannot "
                                          "act as; it owns every object instead)",
                                          db.info.name, target_login_.name));
  if (!state_->done(key(db, "pre-data"))) {
    restore_once(db, "pre-data", [&] { schema_->restore_pre_data(db.info.name, db.schema_file, db.keep_owners); });
  }
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
  if (auto recorded = state_->get(key(db, "schema"))) {
    if (recorded->get<std::string>() != fingerprint)
      throw Error(ExitCode::copy_failed,
                  "the schema of the source database " + db.info.name + " changed since the interrupted copy",
                  "a resumed copy would mix two states of the source: run with --clean to copy it again");
    return;
  }
  state_->mark_done(key(db, "schema"), fingerprint);
}

// pg_restore runs a section in one transaction, and commits it before decant can record
// it: after a kill in between, "already exists" on --resume means the whole section is in.
void InstanceCopy::restore_once(DatabaseRun& db, const std::string& section, const std::function<void()>& restore) {
  try {
    restore();
  } catch (const Error& e) {
    if (!options_.resume || std::string(e.what()).find("already exists") == std::string::npos) throw;
    log::info("database {}: the {} was restored by the interrupted run", db.info.name, section);
  }
  state_->mark_done(key(db, section));
}

WorkerSessions& InstanceCopy::sessions(int worker, const DatabaseRun& db) {
  auto& w = workers_[static_cast<size_t>(worker)];
  if (w.db == &db) return w;
  w.source = Connection();
  w.target = Connection();
  w.db = nullptr;
  w.source = Connection::open(source_info_, db.info.name);
  w.source.exec("SET default_transaction_read_only = on");
  set_portable_session(w.source, db.info.encoding);
  w.source.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  w.source.exec("SET TRANSACTION SNAPSHOT " + w.source.quote_literal(db.snapshot));
  w.target = Connection::open(target_info_, db.info.name);
  set_portable_session(w.target, db.info.encoding);
  w.target.exec(kTargetSessionSql);
  w.db = &db;
  return w;
}

void InstanceCopy::copy_table(int worker, DatabaseRun& db, const TableInfo& table, engine::ProgressItem& progress,
                              engine::TaskPool& pool) {
  auto submit_builds = [&] { schedule_builds(db, table.oid, pool); };
  std::string state_key = key(db, "table/" + table.qualified);
  bool binary = binary_ && table.binary_ok;
  if (auto done = state_->get(state_key)) {
    // Finished by an earlier run: not copied again, but verified again against the
    // digest recorded from the source then, so a target changed since is caught.
    auto& s = sessions(worker, db);
    CopyOutSource readback(s.target, table.copy_out_sql(binary), binary);
    RowDigest target_digest = engine::digest_of(readback);
    engine::ItemReport item;
    item.name = table.display;
    item.rows = (*done)["rows"];
    item.bytes = (*done)["bytes"];
    item.seconds = (*done)["seconds"];
    item.source_digest = (*done)["digest"];
    item.target_digest = target_digest.hex();
    item.verified = item.source_digest == item.target_digest && item.rows == target_digest.rows();
    if (!item.verified)
      item.problem = fmt::format("copied by an earlier run with {} rows (digest {}); the target now holds {} rows "
                                 "(digest {})",
                                 item.rows, item.source_digest, target_digest.rows(), item.target_digest);
    item.resumed = true;
    engine::report_finished_earlier(report_, db.info.name, item, progress);
    submit_builds();
    return;
  }
  throw_if_interrupted();
  auto& s = sessions(worker, db);
  progress.begin();
  auto started = Clock::now();
  // TRUNCATE in the same transaction lets COPY FREEZE write frozen rows (no later
  // vacuum rewrite) and makes a retried table start from nothing.
  bool freeze = !table.extension_config;
  s.target.exec("BEGIN");
  if (table.extension_config)
    s.target.exec(fmt::format("DELETE FROM ONLY {} {}", table.qualified, table.filter.value_or("")));
  else
    s.target.exec("TRUNCATE ONLY " + table.qualified);
  engine::PumpResult moved;
  uint64_t stored = 0;
  {
    CopyOutSource source(s.source, table.copy_out_sql(binary), binary);
    CopyInSink sink(s.target, table.copy_in_sql(binary, freeze), binary);
    moved = engine::pump(source, sink, &progress);
    stored = sink.finish();
  }
  s.target.exec("COMMIT");
  double copy_seconds = engine::seconds_since(started);

  // Verification reads the rows back from the target and hashes them exactly as the
  // source's rows were hashed in flight: count and content, independent of row order
  // and of the tables' physical column order (columns are always named, sorted).
  CopyOutSource readback(s.target, table.copy_out_sql(binary), binary);
  RowDigest target_digest = engine::digest_of(readback);
  engine::ItemReport item;
  item.name = table.display;
  item.rows = moved.digest.rows();
  item.bytes = moved.bytes;
  item.seconds = engine::seconds_since(started);
  item.source_digest = moved.digest.hex();
  item.target_digest = target_digest.hex();
  item.verified = moved.digest == target_digest && stored == moved.digest.rows();
  if (!item.verified)
    item.problem = fmt::format("source has {} rows (digest {}), target stored {} and holds {} rows (digest {})",
                               moved.digest.rows(), item.source_digest, stored, target_digest.rows(),
                               item.target_digest);
  else
    state_->mark_done(state_key, {{"rows", item.rows}, {"bytes", item.bytes}, {"seconds", copy_seconds},
                                  {"digest", item.source_digest}});
  report_.add_item(db.info.name, item);
  progress.finish();
  if (!item.verified) log::warn("table {}.{} differs: {}", db.info.name, table.display, item.problem);
  submit_builds();
}

// Index builds (priority 2) jump the queue as soon as their table is in, to overlap with
// other tables' data; the table's finish step follows its last build.
void InstanceCopy::schedule_builds(DatabaseRun& db, uint32_t table_oid, engine::TaskPool& pool) {
  auto it = db.builds_by_table.find(table_oid);
  if (it == db.builds_by_table.end()) return;
  auto& tb = it->second;
  int creates = 0;
  for (const IndexBuild* b : tb.builds)
    if (b->create_index) ++creates;
  auto finish = [this, &db, table_oid](int w) { finish_table(w, db, table_oid); };
  if (creates == 0) {
    pool.submit(2, finish);
    return;
  }
  tb.pending = creates;
  for (const IndexBuild* b : tb.builds) {
    if (!b->create_index) continue;
    pool.submit(2, [this, &db, b, &tb, &pool, finish](int w) {
      build_index(w, db, *b);
      if (--tb.pending == 0) pool.submit(3, finish);
    });
  }
}

void InstanceCopy::build_index(int worker, DatabaseRun& db, const IndexBuild& build) {
  std::string state_key = key(db, fmt::format("index/{}", build.toc_oid));
  if (state_->done(state_key)) return;
  throw_if_interrupted();
  auto& s = sessions(worker, db);
  // An earlier run may have committed the build and stopped before recording it.
  if (s.target.exec_params("SELECT pg_catalog.to_regclass($1) IS NOT NULL", {build.qualified}).boolean(0, 0)) {
    state_->mark_done(state_key);
    return;
  }
  auto started = Clock::now();
  // synchronous_commit on: a build is recorded as done only once it is durable.
  s.target.exec("BEGIN; SET LOCAL synchronous_commit = on");
  if (!build.tablespace.empty())
    s.target.exec("SET LOCAL default_tablespace = " + s.target.quote_ident(build.tablespace));
  s.target.exec(*build.create_index);
  s.target.exec("COMMIT");
  log::debug("built {} in {:.1f}s", build.display, engine::seconds_since(started));
  state_->mark_done(state_key);
}

void InstanceCopy::finish_table(int worker, DatabaseRun& db, uint32_t table_oid) {
  const auto& builds = db.builds_by_table.at(table_oid).builds;
  if (builds.empty()) return;
  std::string state_key = key(db, "finish/" + builds.front()->table);
  if (state_->done(state_key)) return;
  throw_if_interrupted();
  auto& s = sessions(worker, db);
  s.target.exec("BEGIN; SET LOCAL synchronous_commit = on");
  for (const IndexBuild* b : builds)
    for (const auto& step : b->finish) {
      if (!step.constraint.empty() &&
          s.target
              .exec_params("SELECT count(*) FROM pg_catalog.pg_constraint WHERE conrelid = $1::regclass AND conname = $2",
                           {b->table, step.constraint})
              .int64(0, 0) > 0)
        continue;  // added by an earlier run
      s.target.exec("SET LOCAL default_tablespace = " +
                    (step.tablespace.empty() ? std::string("''") : s.target.quote_ident(step.tablespace)));
      s.target.exec(step.sql);
    }
  s.target.exec("COMMIT");
  state_->mark_done(state_key);
}

void InstanceCopy::copy_large_objects(int worker, DatabaseRun& db) {
  const auto& oids = db.catalog.large_objects;
  std::string state_key = key(db, "large-objects");
  engine::ItemReport item;
  item.name = "large objects";
  item.kind = "large objects";
  if (auto done = state_->get(state_key)) {
    // Copied by an earlier run: verified again against the digest recorded then.
    auto& s = sessions(worker, db);
    LargeObjectDigest readback;
    s.target.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    for (uint32_t oid : oids) transfer_large_object(s.target, nullptr, oid, readback);
    s.target.exec("COMMIT");
    item.rows = (*done)["rows"];
    item.bytes = (*done)["bytes"];
    item.source_digest = (*done)["digest"];
    item.target_digest = readback.digest.hex();
    item.verified = item.source_digest == item.target_digest;
    if (!item.verified) item.problem = "large objects changed on the target since an earlier run copied them";
    item.resumed = true;
    report_.add_item(db.info.name, item);
    return;
  }
  auto& s = sessions(worker, db);
  auto started = Clock::now();
  LargeObjectDigest copied, readback;
  // Commit in batches: one transaction per object would be slow, one for all unbounded.
  constexpr uint64_t kBatchBytes = 64ull << 20;
  uint64_t batch_bytes = 0;
  s.target.exec("BEGIN");
  for (uint32_t oid : oids) {
    throw_if_interrupted();
    uint64_t before = copied.bytes;
    transfer_large_object(s.source, &s.target, oid, copied);
    batch_bytes += copied.bytes - before + 1024;
    if (batch_bytes > kBatchBytes) {
      s.target.exec("COMMIT; BEGIN");
      batch_bytes = 0;
    }
  }
  s.target.exec("COMMIT");
  s.target.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  for (uint32_t oid : oids) transfer_large_object(s.target, nullptr, oid, readback);
  auto count = s.target.exec("SELECT count(*) FROM pg_catalog.pg_largeobject_metadata").int64(0, 0);
  s.target.exec("COMMIT");
  item.rows = copied.digest.rows();
  item.bytes = copied.bytes;
  item.seconds = engine::seconds_since(started);
  item.source_digest = copied.digest.hex();
  item.target_digest = readback.digest.hex();
  item.verified = copied.digest == readback.digest && static_cast<uint64_t>(count) == oids.size();
  if (!item.verified)
    item.problem = fmt::format("source has {} large objects, target {}; digests {} and {}", oids.size(), count,
                               item.source_digest, item.target_digest);
  else
    state_->mark_done(state_key, {{"rows", item.rows}, {"bytes", item.bytes}, {"digest", item.source_digest}});
  report_.add_item(db.info.name, item);
}

void InstanceCopy::copy_sequences(int worker, DatabaseRun& db) {
  const auto& seqs = db.catalog.sequences;
  engine::ItemReport item;
  item.name = "sequences";
  item.kind = "sequences";
  auto& s = sessions(worker, db);
  auto started = Clock::now();
  // Always set again, even on --resume: cheap, and the values are read in this run's snapshot.
  constexpr size_t kBatch = 200;
  std::vector<std::string> differ;
  for (size_t from = 0; from < seqs.size(); from += kBatch) {
    throw_if_interrupted();
    size_t to = std::min(seqs.size(), from + kBatch);
    std::string read_sql;
    for (size_t i = from; i < to; ++i)
      read_sql += fmt::format("{}SELECT last_value::text, is_called FROM {}", i > from ? " UNION ALL " : "",
                              seqs[i].qualified);
    auto values = s.source.exec(read_sql);
    std::string set_sql = "SELECT ";
    for (size_t i = from; i < to; ++i)
      set_sql += fmt::format("{}pg_catalog.setval({}::regclass, {}, {})", i > from ? ", " : "",
                             s.target.quote_literal(seqs[i].qualified), values.text(static_cast<int>(i - from), 0),
                             values.boolean(static_cast<int>(i - from), 1) ? "true" : "false");
    s.target.exec(set_sql);
    auto check = s.target.exec(read_sql);
    for (size_t i = from; i < to; ++i) {
      int r = static_cast<int>(i - from);
      if (check.text(r, 0) != values.text(r, 0) || check.text(r, 1) != values.text(r, 1))
        differ.push_back(seqs[i].display);
    }
  }
  item.rows = seqs.size();
  item.seconds = engine::seconds_since(started);
  item.verified = differ.empty();
  if (!item.verified) item.problem = fmt::format("values differ: {}", fmt::join(differ, ", "));
  report_.add_item(db.info.name, item);
}

void InstanceCopy::schedule(engine::TaskPool& pool) {
  // Largest tables first across all databases, so the long ones start early; index
  // builds (priority 2) jump the queue as soon as their table is in, to overlap with
  // other tables' data.
  struct Pending {
    DatabaseRun* db;
    const TableInfo* table;
  };
  std::vector<Pending> tables;
  for (auto& db : databases_)
    for (const auto& t : db->catalog.tables)
      if (!t.extension_config) tables.push_back({db.get(), &t});
  std::stable_sort(tables.begin(), tables.end(),
                   [](const Pending& a, const Pending& b) { return a.table->bytes > b.table->bytes; });
  for (const auto& p : tables) {
    auto& item = progress_.add(p.db->info.name + "." + p.table->display, p.table->bytes);
    pool.submit(1, [this, p, &item, &pool](int w) { copy_table(w, *p.db, *p.table, item, pool); });
  }
  for (auto& db : databases_) {
    DatabaseRun* d = db.get();
    // Extension configuration tables: one task, referenced tables first.
    auto ordered = std::make_shared<std::vector<std::pair<const TableInfo*, engine::ProgressItem*>>>();
    for (const TableInfo* t : extension_tables_in_fk_order(d->catalog.tables))
      ordered->emplace_back(t, &progress_.add(d->info.name + "." + t->display, t->bytes));
    if (!ordered->empty())
      pool.submit(1, [this, d, ordered, &pool](int w) {
        for (auto& [t, item] : *ordered) copy_table(w, *d, *t, *item, pool);
      });
    if (!d->catalog.large_objects.empty() || state_->done(key(*d, "large-objects")))
      pool.submit(1, [this, d](int w) { copy_large_objects(w, *d); });
    if (!d->catalog.sequences.empty()) pool.submit(0, [this, d](int w) { copy_sequences(w, *d); });
  }
}

int InstanceCopy::run() {
  auto started = Clock::now();
  connect_and_preflight();
  prepare_state();
  check_targets();
  if (!options_.resume) state_->reset();
  log::info("copying {} database(s) from {} to {} with {} jobs", databases_.size(), source_info_.display(),
            target_info_.display(), jobs_);

  roles_ = copy_roles(source_admin_, target_admin_, target_login_);
  for (auto& db : databases_) create_database(*db);
  for (auto& db : databases_) plan_database(*db);

  workers_.resize(static_cast<size_t>(jobs_));
  engine::run_tasks(progress_, "copying data", options_.progress_interval, jobs_,
                    [this](engine::TaskPool& pool) { schedule(pool); });
  workers_.clear();

  for (auto& db : databases_) {
    db->coordinator = Connection();  // the snapshot is no longer needed
    if (!state_->done(key(*db, "post-data"))) {
      throw_if_interrupted();
      log::info("database {}: restoring the remaining post-data (foreign keys, triggers, ...)", db->info.name);
      restore_once(*db, "post-data", [&] {
        schema_->restore_post_data(db->info.name, db->schema_file, db->toc, db->built_oids, db->keep_owners);
      });
    }
    report_.set_group_seconds(db->info.name, engine::seconds_since(db->started));
  }

  for (auto& db : databases_)
    verify_database_properties(source_admin_, target_admin_, db->info.name,
                               !roles_.unassumable.count(db->info.owner), report_);
  std::set<std::string> copied_databases;
  for (auto& db : databases_) copied_databases.insert(db->info.name);
  verify_roles(source_admin_, target_admin_, target_login_, roles_.excused, copied_databases, report_);
  for (const auto& l : roles_.left_out) report_.add_left_out(l);

  engine::conclude(report_, engine::seconds_since(started), "copy complete and verified", "run with --clean to copy again");
  state_->remove();
  return 0;
}

}  // namespace

int copy_instance(const CopyOptions& options) {
  InstanceCopy copy(options);
  return engine::run_reported(options.report_path, copy.report(), [&] { return copy.run(); });
}

}  // namespace decant::pg
