#include "mongo/document_stream.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "common/error.hpp"
#include "common/log.hpp"

namespace decant::mongo {
namespace {
constexpr size_t kBatchDocuments = 1000;
constexpr size_t kBatchBytes = 8u << 20;
constexpr int32_t kReadBatchDocuments = 10000;
}  // namespace

FindSource::FindSource(mongoc_client_t* client, const std::string& db, const std::string& collection,
                       std::string where)
    : collection_(mongoc_client_get_collection(client, db.c_str(), collection.c_str())), where_(std::move(where)) {
  Bson filter;
  // Natural order, no sort: the digest does not depend on order. Large batches (a server
  // still caps each at 16 MB): fewer round trips, and less work per document on FerretDB.
  Bson opts;
  BSON_APPEND_INT32(opts.get(), "batchSize", kReadBatchDocuments);
  cursor_.reset(mongoc_collection_find_with_opts(collection_.get(), filter.get(), opts.get(), nullptr));
}

bool FindSource::next(std::string_view& row) {
  const bson_t* doc = nullptr;
  if (mongoc_cursor_next(cursor_.get(), &doc)) {
    row = {reinterpret_cast<const char*>(bson_get_data(doc)), doc->len};
    return true;
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor_.get(), &error)) fail(error, where_, "reading documents");
  return false;
}

InsertSink::InsertSink(mongoc_client_t* client, const std::string& db, const std::string& collection,
                       std::string where, bool bypass_validation)
    : client_(client),
      collection_(mongoc_client_get_collection(client, db.c_str(), collection.c_str())),
      namespace_(db + "." + collection),
      where_(std::move(where)),
      bypass_validation_(bypass_validation) {}

void InsertSink::write(std::string_view row) {
  batch_.emplace_back(row);
  batch_bytes_ += row.size();
  if (batch_.size() >= kBatchDocuments || batch_bytes_ >= kBatchBytes) flush();
}

void InsertSink::flush() {
  if (batch_.empty()) return;
  // (void* storage: bson_t's alignment attribute does not survive template arguments.)
  std::vector<Bson> docs;
  std::vector<const void*> ptrs;
  for (const auto& raw : batch_) {
    bson_t* doc = bson_new_from_data(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
    if (!doc) throw Error(ExitCode::internal, "a document from the source is not valid BSON");
    docs.emplace_back(doc);
    ptrs.push_back(docs.back().get());
  }
  Bson opts;
  BSON_APPEND_BOOL(opts.get(), "ordered", false);
  // Documents are stored as the source had them: no client-side key checks (MongoDB
  // stores empty keys), and past a validator (created with the collection, first).
  BSON_APPEND_BOOL(opts.get(), "validate", false);
  if (bypass_validation_) BSON_APPEND_BOOL(opts.get(), "bypassDocumentValidation", true);
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_collection_insert_many(collection_.get(), reinterpret_cast<const bson_t**>(ptrs.data()),
                                          ptrs.size(), opts.get(), &reply, &error);
  bson_iter_t it;
  if (bson_iter_init_find(&it, &reply, "insertedCount")) inserted_ += static_cast<uint64_t>(bson_iter_as_int64(&it));
  bson_destroy(&reply);
  if (!ok) {
    // A server that cannot store a value may drop the connection instead of answering
    // (FerretDB 1.x does). If it still answers a ping, that was no network failure.
    bool still_answers = false;
    if (error.domain == MONGOC_ERROR_STREAM) {
      log::debug("inserting into {}: connection broken (code {}): {}", namespace_, error.code, error.message);
      try {
        ping(client_, where_);
        still_answers = true;
      } catch (const Error&) {
      }
    }
    if (still_answers)
      throw Error(ExitCode::copy_failed,
                  fmt::format("the {} closed the connection while inserting into {} and answers again: a server "
                              "drops the connection on a document it cannot store (FerretDB 1.x does on Decimal128, "
                              "MinKey/MaxKey and code with scope) [{}]",
                              where_, namespace_, error.message),
                  "check the target server's log for the value it refused, and the types of the values in " +
                      namespace_);
    fail(error, where_, "inserting documents into " + namespace_);
  }
  batch_.clear();
  batch_bytes_ = 0;
}

uint64_t InsertSink::finish() {
  flush();
  return inserted_;
}

ParallelInsertSink::ParallelInsertSink(const ClientPool& pool, const std::string& db, const std::string& collection,
                                       int workers, std::string where, bool bypass_validation)
    : pool_(pool), db_(db), collection_(collection), where_(std::move(where)), bypass_validation_(bypass_validation) {
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
}

ParallelInsertSink::~ParallelInsertSink() { stop(); }

void ParallelInsertSink::stop() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
  room_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void ParallelInsertSink::work() {
  try {
    auto client = pool_.acquire();
    InsertSink sink(client.get(), db_, collection_, where_, bypass_validation_);
    for (;;) {
      Batch batch;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return closed_ || !queue_.empty() || failure_; });
        if (failure_ || queue_.empty()) break;  // closed and drained, or another worker failed
        batch = std::move(queue_.front());
        queue_.pop_front();
      }
      room_.notify_one();
      for (const auto& doc : batch) sink.write(doc);
    }
    inserted_ += sink.finish();
  } catch (...) {
    std::lock_guard lock(mutex_);
    if (!failure_) failure_ = std::current_exception();
  }
  ready_.notify_all();
  room_.notify_all();
}

void ParallelInsertSink::push(Batch batch) {
  std::unique_lock lock(mutex_);
  // A bounded queue: the reader waits for the writers instead of buffering the collection.
  room_.wait(lock, [this] { return queue_.size() < 2 * threads_.size() || failure_; });
  if (failure_) std::rethrow_exception(failure_);
  queue_.push_back(std::move(batch));
  lock.unlock();
  ready_.notify_one();
}

void ParallelInsertSink::write(std::string_view row) {
  current_.emplace_back(row);
  current_bytes_ += row.size();
  if (current_.size() >= kBatchDocuments || current_bytes_ >= kBatchBytes) {
    push(std::move(current_));
    current_ = {};
    current_bytes_ = 0;
  }
}

uint64_t ParallelInsertSink::finish() {
  if (!current_.empty()) push(std::move(current_));
  current_ = {};
  stop();
  if (failure_) std::rethrow_exception(failure_);
  return inserted_;
}

InsertParallelism plan_parallelism(const Uri& target, int jobs) {
  int pool_size = std::max(1, mongoc_uri_get_option_as_int32(target.get(), MONGOC_URI_MAXPOOLSIZE, 100));
  InsertParallelism p;
  p.jobs = std::clamp(jobs, 1, pool_size);
  p.inserters = std::clamp((pool_size - p.jobs) / p.jobs, 1, std::min(p.jobs, 4));
  return p;
}

std::unique_ptr<engine::RowSink> make_insert_sink(mongoc_client_t* client, const ClientPool& pool,
                                                  const CollectionInfo& c, bool large, int inserters) {
  bool bypass = c.has_validator();
  if (large && inserters > 1 && !c.capped())
    return std::make_unique<ParallelInsertSink>(pool, c.db, c.name, inserters, pool.where(), bypass);
  return std::make_unique<InsertSink>(client, c.db, c.name, pool.where(), bypass);
}

std::string finished_key(const CollectionInfo& c) { return "collection/" + c.display(); }
std::string started_key(const CollectionInfo& c) { return "started/" + c.display(); }

std::vector<std::string> occupied_on_target(mongoc_client_t* target, const std::vector<const CollectionInfo*>& collections,
                                            const engine::ResumeState* resuming, const std::string& where) {
  std::vector<std::string> occupied;
  std::map<std::string, std::vector<std::string>> existing;  // per database, listed once
  for (const auto* c : collections) {
    if (resuming && (c->is_view || resuming->done(finished_key(*c)) || resuming->done(started_key(*c)))) continue;
    if (!existing.count(c->db))
      for (const auto& t : list_collections(target, c->db, where)) existing[c->db].push_back(t.name);
    const auto& names = existing[c->db];
    if (std::find(names.begin(), names.end(), c->name) == names.end()) continue;
    // A view would replace whatever holds its name; a collection, only documents count.
    if (c->is_view || count_documents(target, c->db, c->name, where) > 0) occupied.push_back(c->display());
  }
  return occupied;
}

engine::ItemSpec collection_spec(const CollectionInfo& c, engine::ProgressItem* progress, std::string resume_key) {
  engine::ItemSpec item;
  item.group = c.db;
  item.name = c.name;
  item.kind = "collection";
  item.noun = "document";
  item.resume_key = std::move(resume_key);
  item.progress = progress;
  return item;
}

engine::ItemSpec collection_item(const CollectionInfo& c, mongoc_client_t* target, const std::string& where,
                                 engine::ProgressItem& progress) {
  engine::ItemSpec item = collection_spec(c, &progress, finished_key(c));
  item.readback = [target, &c, where] { return std::make_unique<FindSource>(target, c.db, c.name, where); };
  item.other_checks = [target, &c, where](bool again) -> std::string {
    if (index_fingerprints(c.indexes) == index_fingerprints(list_indexes(target, c.db, c.name, where))) return "";
    return again ? "its indexes changed on the target since an earlier run finished it" : "the index sets differ";
  };
  return item;
}

engine::ItemReport create_view(mongoc_client_t* target, const CollectionInfo& view, const std::string& where) {
  drop_collection(target, view.db, view.name, where);
  run_command(target, view.db, create_command(view), where);
  engine::ItemReport item;
  item.name = view.name;
  item.kind = "view";
  auto created = list_collections(target, view.db, where);
  auto it = std::find_if(created.begin(), created.end(), [&](const CollectionInfo& t) { return t.name == view.name; });
  item.verified = it != created.end() && it->is_view && it->options.json() == view.options.json();
  if (!item.verified) item.problem = "the view's definition differs on the target";
  return item;
}

}  // namespace decant::mongo
