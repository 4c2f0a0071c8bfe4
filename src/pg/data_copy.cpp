#include "pg/data_copy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "common/log.hpp"
#include "engine/item_lifecycle.hpp"
#include "engine/stream.hpp"
#include "engine/task_pool.hpp"
#include "pg/large_objects.hpp"
#include "process/signals.hpp"

namespace decant::pg {
using Clock = std::chrono::steady_clock;

namespace {

// Settings for the target's writing sessions. synchronous_commit=off is safe here: a
// lost commit after a target crash is caught by verification or redone by --resume.
// maintenance_work_mem is raised to 512MB for index builds, never lowered below what the
// server is configured with.
constexpr const char* kTargetSessionSql =
    "SET synchronous_commit = off; "
    "SELECT pg_catalog.set_config('maintenance_work_mem', '512MB', false) FROM pg_catalog.pg_settings "
    "WHERE name = 'maintenance_work_mem' AND setting::bigint * 1024 < 512 * 1024 * 1024; "
    "SET max_parallel_maintenance_workers = 0; SET statement_timeout = 0; SET lock_timeout = 0";

// A table this small (on disk) is copied with others in one transaction, and its indexes
// built with theirs: for thousands of small tables (partitions), round trips and
// commits cost more than the data.
constexpr uint64_t kSmallTableBytes = 1u << 20;
constexpr size_t kBatchTables = 64;
constexpr uint64_t kBatchBytes = 8u << 20;

}  // namespace

// Each worker keeps one source and one target session for the database it works on.
struct DataCopy::WorkerSessions {
  const DatabaseRun* db = nullptr;
  Connection source;
  Connection target;
};

// Tables copied by one task: one large table, or a batch of small ones.
struct DataCopy::TableTask {
  DatabaseRun* db;
  std::vector<std::pair<const TableInfo*, engine::ProgressItem*>> tables;
  bool batch = false;
};

DataCopy::DataCopy(DataCopyContext c)
    : source_info_(c.source),
      target_info_(c.target),
      frame_(c.frame),
      databases_(c.databases),
      binary_(c.binary),
      resume_(c.resume),
      can_own_(std::move(c.can_own)),
      login_(std::move(c.login)) {}

DataCopy::~DataCopy() = default;

void DataCopy::run() {
  workers_.resize(static_cast<size_t>(frame_.jobs()));
  frame_.run_tasks("copying data", [this](engine::TaskPool& pool) { schedule(pool); });
  workers_.clear();
}

DataCopy::WorkerSessions& DataCopy::sessions(int worker, const DatabaseRun& db) {
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

engine::ItemSpec DataCopy::table_item(WorkerSessions& s, DatabaseRun& db, const TableInfo& table,
                                          engine::ProgressItem& progress, bool in_batch) {
  bool binary = binary_ && table.binary_ok;
  // A small table in a batch of a first run was created empty by this run's pre-data:
  // neither a TRUNCATE nor FREEZE (which needs one) is worth its round trip and new file
  // there. Otherwise TRUNCATE in the same transaction lets COPY FREEZE write frozen rows
  // (no later vacuum rewrite) and makes a retried table start from nothing.
  // Extension configuration tables hold the extension's own rows: only its WHERE's are ours.
  bool fresh = in_batch && !resume_;
  bool freeze = !table.extension_config && !fresh;
  engine::ItemSpec item;
  item.group = db.info.name;
  item.name = table.display;
  item.kind = "table";
  item.resume_key = run_key(db, "table/" + table.qualified);
  item.progress = &progress;
  item.prepare = [&s, &table, in_batch, fresh] {
    if (!in_batch) s.target.exec("BEGIN");
    if (table.extension_config)
      s.target.exec(fmt::format("DELETE FROM ONLY {} {}", table.qualified, table.filter.value_or("")));
    else if (!fresh)
      s.target.exec("TRUNCATE ONLY " + table.qualified);
  };
  item.source = [&s, &table, binary] {
    return std::make_unique<CopyOutSource>(s.source, table.copy_out_sql(binary), binary);
  };
  item.sink = [&s, &table, binary, freeze] {
    return std::make_unique<CopyInSink>(s.target, table.copy_in_sql(binary, freeze), binary);
  };
  if (!in_batch) item.complete = [&s] { s.target.exec("COMMIT"); };
  // Read back exactly as the source was read: columns named in sorted order, so the
  // tables' physical column order never matters.
  item.readback = [&s, &table, binary] {
    return std::make_unique<CopyOutSource>(s.target, table.copy_out_sql(binary), binary);
  };
  return item;
}

void DataCopy::copy_tables(int worker, const TableTask& task, engine::TaskPool& pool) {
  auto& db = *task.db;
  auto& s = sessions(worker, db);
  std::vector<uint32_t> oids;
  if (!task.batch) {
    for (const auto& [table, progress] : task.tables) {
      // The table's index builds are queued as soon as its data is committed, and its
      // read-back after them, on whichever worker is free: a large table's longest index
      // build waits for nothing.
      engine::ItemReport rechecked;
      auto moved = frame_.lifecycle().move(table_item(s, db, *table, *progress, false), rechecked);
      schedule_builds(db, {table->oid}, false, pool);
      if (!moved) continue;
      pool.submit(1, [this, &db, t = table, p = progress, m = *moved](int w) {
        frame_.lifecycle().verify(table_item(sessions(w, db), db, *t, *p, false), m);
      });
    }
    return;
  }
  std::vector<engine::ItemSpec> items;
  for (const auto& [table, progress] : task.tables) {
    items.push_back(table_item(s, db, *table, *progress, true));
    oids.push_back(table->oid);
  }
  // The source session holds its snapshot's transaction open to the end, and with it the
  // lock on every table it read: with thousands of tables that exhausts the server's
  // lock table. A batch reads inside a savepoint rolled back after it, which releases
  // the batch's locks (reading needs nothing kept).
  auto started = Clock::now();
  // In a first run the batch's tables are new and empty: their indexes are built in the
  // same transaction, right after the data (a small table's index costs little more
  // than its catalog rows and file), and the transaction makes them all at once.
  bool fresh = !resume_;
  std::vector<const IndexBuild*> builds;
  if (fresh)
    for (uint32_t oid : oids)
      if (auto it = db.builds_by_table.find(oid); it != db.builds_by_table.end())
        builds.insert(builds.end(), it->second.builds.begin(), it->second.builds.end());
  s.source.exec("SAVEPOINT batch");
  s.target.exec("BEGIN");
  frame_.lifecycle().run_batch(items, [&] {
    if (fresh) build_and_finish_new(s.target, builds);
    s.target.exec("COMMIT");
  });
  s.source.exec("ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch");
  log::debug("database {}: a batch of {} tables copied in {:.3f}s", db.info.name, items.size(),
             engine::seconds_since(started));
  if (!fresh) schedule_builds(db, oids, true, pool);
}

// Index builds (priority 2) jump the queue as soon as their tables are in, to overlap with
// other tables' data; a table's finish step (priority 3) follows its last build. A batch
// of small tables gets one task that does both in one transaction.
void DataCopy::schedule_builds(DatabaseRun& db, const std::vector<uint32_t>& table_oids, bool batch,
                                   engine::TaskPool& pool) {
  if (batch) {
    std::vector<const IndexBuild*> builds;
    std::string state_key;
    for (uint32_t oid : table_oids) {
      auto it = db.builds_by_table.find(oid);
      if (it == db.builds_by_table.end()) continue;
      builds.insert(builds.end(), it->second.builds.begin(), it->second.builds.end());
      state_key = run_key(db, "finish/" + it->second.builds.front()->table);  // the batch's last table
    }
    if (builds.empty() || frame_.state().done(state_key)) return;
    pool.submit(2, [this, &db, builds, state_key](int w) {
      throw_if_interrupted();
      auto started = Clock::now();
      build_and_finish(sessions(w, db).target, builds);
      log::debug("database {}: {} indexes of a batch built in {:.3f}s", db.info.name, builds.size(),
                 engine::seconds_since(started));
      frame_.state().mark_done(state_key);
    });
    return;
  }
  auto it = db.builds_by_table.find(table_oids.front());
  if (it == db.builds_by_table.end()) return;
  auto& tb = it->second;
  std::string finish_key = run_key(db, "finish/" + tb.builds.front()->table);
  if (frame_.state().done(finish_key)) return;
  auto finish = [this, &db, &tb, finish_key](int w) {
    throw_if_interrupted();
    finish_tables(sessions(w, db).target, tb.builds);
    frame_.state().mark_done(finish_key);
  };
  int creates = 0;
  for (const IndexBuild* b : tb.builds)
    if (b->create_index) ++creates;
  if (creates == 0) {
    pool.submit(3, finish);
    return;
  }
  tb.pending = creates;
  for (const IndexBuild* b : tb.builds) {
    if (!b->create_index) continue;
    pool.submit(2, [this, &db, b, &tb, &pool, finish](int w) {
      throw_if_interrupted();
      create_indexes(sessions(w, db).target, {b});
      if (--tb.pending == 0) pool.submit(3, finish);
    });
  }
}

void DataCopy::copy_large_objects(int worker, DatabaseRun& db) {
  auto& s = sessions(worker, db);
  // Objects owned by a role the target login cannot act as stay the login's.
  auto expected = as_owned_on_target(
      db.catalog.large_objects, can_own_, login_);
  engine::ItemSpec item;
  item.group = db.info.name;
  item.name = "large objects";
  item.kind = "large objects";
  item.resume_key = run_key(db, "large-objects");
  item.source = [&s, expected] { return std::make_unique<LargeObjectSource>(s.source, expected); };
  item.sink = [&s] { return std::make_unique<LargeObjectSink>(s.target); };
  item.readback = [&s] { return std::make_unique<LargeObjectSource>(s.target, read_large_objects(s.target)); };
  frame_.lifecycle().run(item);
}

void DataCopy::copy_sequences(int worker, DatabaseRun& db) {
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
  frame_.report().add_item(db.info.name, item);
}

// Largest tables first across all databases, so that the long ones start early; small
// tables in batches, in each database's catalog order.
std::vector<DataCopy::TableTask> DataCopy::table_tasks() {
  std::vector<TableTask> tasks;
  for (auto& db : databases_) {
    TableTask batch{db.get(), {}, true};
    uint64_t batch_bytes = 0;
    for (const auto& t : db->catalog.tables) {
      if (t.extension_config) continue;
      auto* item = &frame_.progress().add(db->info.name + "." + t.display, t.bytes);
      if (t.bytes >= kSmallTableBytes) {
        tasks.push_back({db.get(), {{&t, item}}, false});
        continue;
      }
      batch.tables.emplace_back(&t, item);
      batch_bytes += t.bytes;
      if (batch.tables.size() == kBatchTables || batch_bytes >= kBatchBytes) {
        tasks.push_back(std::move(batch));
        batch = {db.get(), {}, true};
        batch_bytes = 0;
      }
    }
    if (!batch.tables.empty()) tasks.push_back(std::move(batch));
  }
  auto bytes = [](const TableTask& t) {
    uint64_t sum = 0;
    for (const auto& [table, item] : t.tables) sum += table->bytes;
    return sum;
  };
  std::stable_sort(tasks.begin(), tasks.end(), [&](const TableTask& a, const TableTask& b) { return bytes(a) > bytes(b); });
  return tasks;
}

void DataCopy::schedule(engine::TaskPool& pool) {
  for (auto& task : table_tasks())
    pool.submit(1, [this, task, &pool](int w) { copy_tables(w, task, pool); });
  for (auto& db : databases_) {
    DatabaseRun* d = db.get();
    // Extension configuration tables: one task, referenced tables first.
    TableTask ordered{d, {}, false};
    for (const TableInfo* t : extension_tables_in_fk_order(d->catalog.tables))
      ordered.tables.emplace_back(t, &frame_.progress().add(d->info.name + "." + t->display, t->bytes));
    if (!ordered.tables.empty()) pool.submit(1, [this, ordered, &pool](int w) { copy_tables(w, ordered, pool); });
    if (!d->catalog.large_objects.empty() || frame_.state().done(run_key(*d, "large-objects")))
      pool.submit(1, [this, d](int w) { copy_large_objects(w, *d); });
    if (!d->catalog.sequences.empty()) pool.submit(0, [this, d](int w) { copy_sequences(w, *d); });
  }
}

}  // namespace decant::pg
