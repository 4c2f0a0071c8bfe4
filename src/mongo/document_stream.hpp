#pragma once
// A collection's documents as engine rows: each row is one document's raw BSON bytes,
// so field order and every BSON type travel untouched and hash identically on both ends.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/item_lifecycle.hpp"
#include "engine/resume_state.hpp"
#include "engine/stream.hpp"
#include "mongo/catalog.hpp"
#include "mongo/client.hpp"

namespace decant::mongo {

class FindSource : public engine::RowSource {
 public:
  FindSource(mongoc_client_t* client, const std::string& db, const std::string& collection, std::string where);
  bool next(std::string_view& row) override;

 private:
  CollectionPtr collection_;
  CursorPtr cursor_;
  std::string where_;
};

// Unordered bulk inserts in batches (by count and size), as mongorestore does.
// `bypass_validation` inserts past the collection's validator, as the source holds
// documents it may no longer accept; it needs a privilege beyond readWrite, so it is
// asked for only where there is a validator.
class InsertSink : public engine::RowSink {
 public:
  InsertSink(mongoc_client_t* client, const std::string& db, const std::string& collection, std::string where,
             bool bypass_validation = false);
  void write(std::string_view row) override;
  uint64_t finish() override;

 private:
  void flush();
  mongoc_client_t* client_;
  CollectionPtr collection_;
  std::string namespace_;  // DB.COLL, for messages
  std::string where_;
  bool bypass_validation_;
  std::vector<std::string> batch_;
  size_t batch_bytes_ = 0;
  uint64_t inserted_ = 0;
};

// Several InsertSinks fed from one stream, each on its own pooled client: the
// insertions into one large collection run in parallel (mongorestore's
// numInsertionWorkersPerCollection), while the reader stays one cursor.
class ParallelInsertSink : public engine::RowSink {
 public:
  ParallelInsertSink(const ClientPool& pool, const std::string& db, const std::string& collection, int workers,
                     std::string where, bool bypass_validation = false);
  ~ParallelInsertSink() override;
  void write(std::string_view row) override;
  uint64_t finish() override;

 private:
  using Batch = std::vector<std::string>;
  void push(Batch batch);
  void work();
  void stop();

  const ClientPool& pool_;
  std::string db_, collection_, where_;
  bool bypass_validation_;
  Batch current_;
  size_t current_bytes_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<Batch> queue_;
  bool closed_ = false;
  std::exception_ptr failure_;
  std::atomic<uint64_t> inserted_{0};
  std::vector<std::thread> threads_;
};

// How many collection tasks, and inserters per large collection, a target pool can serve:
// each task holds one client and each inserter one more, so that no worker ever waits
// for a client that will not come back.
struct InsertParallelism {
  int jobs = 1;
  int inserters = 1;
};
InsertParallelism plan_parallelism(const Uri& target, int jobs);

// The resume state's keys for a collection: finished (with its record), and begun
// (recorded before the target collection is dropped, so that --resume knows a
// half-written one as its own).
std::string finished_key(const CollectionInfo& c);
std::string started_key(const CollectionInfo& c);

// Which of `collections` the target already holds: a view's name taken at all, or a
// collection with documents. When resuming (`resuming` set), what the earlier run began is
// its own to redo, and views are always created again.
std::vector<std::string> occupied_on_target(mongoc_client_t* target, const std::vector<const CollectionInfo*>& collections,
                                            const engine::ResumeState* resuming, const std::string& where);

// A collection as an item of the lifecycle: its names and how progress counts it; the
// caller adds how its documents move.
engine::ItemSpec collection_spec(const CollectionInfo& c, engine::ProgressItem* progress, std::string resume_key);
// A collection on a target server as the item lifecycle sees it: where its resume record
// lives, how it is read back, and that its index set must be the source's. The command
// adds how it is filled (prepare, source, sink, complete).
engine::ItemSpec collection_item(const CollectionInfo& c, mongoc_client_t* target, const std::string& where,
                                 engine::ProgressItem& progress);

// A view (re)created on the target once what it reads exists, and checked there: the
// report item says whether its definition is the source's.
engine::ItemReport create_view(mongoc_client_t* target, const CollectionInfo& view, const std::string& where);

// The sink for one collection: `inserters` of them for a large one, a single one for a
// small collection (not worth the threads) or a capped one (it keeps its natural order).
std::unique_ptr<engine::RowSink> make_insert_sink(mongoc_client_t* client, const ClientPool& pool,
                                                  const CollectionInfo& c, bool large, int inserters);

}  // namespace decant::mongo
