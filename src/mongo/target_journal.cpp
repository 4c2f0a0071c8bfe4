#include "mongo/target_journal.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "process/run_context.hpp"

namespace decant::mongo {
namespace {

constexpr const char* kCollection = "journal";
constexpr const char* kLeaseCollection = "lease";
constexpr auto kLeaseTerm = std::chrono::seconds(30);
constexpr auto kLeaseRenewal = std::chrono::seconds(10);

std::string date_json(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return fmt::format(R"({{"$date": {{"$numberLong": "{}"}}}})", ms);
}

// One copy at a time keeps its journal on a server (there is one journal). MongoDB has no
// session lock, so a lease: a document its holder renews every 10 s. A second copy (a Job's
// next pod while the first still runs on a node cut off from the API server but not from
// this server) waits until the lease lapses, 30 s unrenewed: its holder ended, however it
// died. A holder that could not renew in time, and finds the lease taken, stops its run.
// (The times are the copies' clocks: pods on nodes kept in time by NTP.)
class TargetLease {
 public:
  explicit TargetLease(const ClientPool& pool) : pool_(pool) {
    std::random_device random;
    holder_ = fmt::format("{}/{}/{:08x}", host_name(), getpid(), random());
  }
  ~TargetLease() { release(); }
  TargetLease(const TargetLease&) = delete;
  TargetLease& operator=(const TargetLease&) = delete;

  // Blocks until this copy holds the lease.
  void hold() {
    if (renewer_.joinable()) return;
    if (!take()) {
      log::warn("another decant copy keeps its journal on the target ({} holds its lease): waiting for it to end (a "
                "Job's earlier pod that still runs?)",
                current_holder());
      do {
        throw_if_interrupted();
        std::this_thread::sleep_for(std::chrono::seconds(1));
      } while (!take());
      log::info("the other copy ended; going on");
    }
    renewer_ = std::jthread([this](std::stop_token stop) { renew(stop); });
  }

  // Stops renewing and gives the lease up.
  void release() noexcept {
    if (!renewer_.joinable()) return;
    renewer_.request_stop();
    wake_.notify_all();
    renewer_.join();
    try {
      auto client = pool_.acquire();
      CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kLeaseCollection));
      Bson mine = Bson::from_json(fmt::format(R"({{"_id": "journal", "holder": "{}"}})", holder_));
      mongoc_collection_delete_one(coll.get(), mine.get(), nullptr, nullptr, nullptr);
    } catch (const Error&) {
      // It lapses by itself.
    }
  }

 private:
  static std::string host_name() {
    char name[256] = {};
    return gethostname(name, sizeof name - 1) == 0 ? name : "unknown";
  }

  // Takes or renews the lease: true when this copy holds it for another term. `renewing`:
  // only while it is still this copy's.
  bool take(bool renewing = false) {
    auto now = std::chrono::system_clock::now();
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kLeaseCollection));
    Bson selector = Bson::from_json(
        renewing ? fmt::format(R"({{"_id": "journal", "holder": "{}"}})", holder_)
                 : fmt::format(R"({{"_id": "journal", "$or": [{{"holder": "{}"}}, {{"until": {{"$lt": {}}}}}]}})", holder_,
                               date_json(now)));
    Bson update = Bson::from_json(
        fmt::format(R"({{"$set": {{"holder": "{}", "until": {}}}}})", holder_, date_json(now + kLeaseTerm)));
    Bson opts = Bson::from_json(renewing ? "{}" : R"({"upsert": true})");
    bson_t reply;
    bson_error_t error;
    bool ok = mongoc_collection_update_one(coll.get(), selector.get(), update.get(), opts.get(), &reply, &error);
    bson_iter_t it;
    int64_t matched = 0, upserted = 0;
    if (ok && bson_iter_init_find(&it, &reply, "matchedCount")) matched = bson_iter_as_int64(&it);
    if (ok && bson_iter_init_find(&it, &reply, "upsertedCount")) upserted = bson_iter_as_int64(&it);
    bson_destroy(&reply);
    constexpr uint32_t kDuplicateKey = 11000;  // the lease is another copy's, still running
    if (!ok && (error.code == kDuplicateKey || std::string_view(error.message).find("duplicate key") != std::string_view::npos))
      return false;
    if (!ok) fail(error, pool_.where(), "taking the lease on the copy's journal");
    return matched + upserted > 0;
  }

  std::string current_holder() {
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kLeaseCollection));
    Bson filter = Bson::from_json(R"({"_id": "journal"})");
    CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), nullptr, nullptr));
    for (const auto& doc : drain(cursor.get(), pool_.where(), "reading the lease on the copy's journal")) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc.get(), "holder") && BSON_ITER_HOLDS_UTF8(&it)) return bson_iter_utf8(&it, nullptr);
    }
    return "another copy";
  }

  void renew(std::stop_token stop) {
    auto held_until = std::chrono::steady_clock::now() + kLeaseTerm;
    std::mutex mutex;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        if (wake_.wait_for(lock, stop, kLeaseRenewal, [] { return false; }) || stop.stop_requested()) return;
      }
      try {
        if (take(true)) {
          held_until = std::chrono::steady_clock::now() + kLeaseTerm;
          continue;
        }
        log::warn("the copy lost its lease on the target {} to another copy: stopping, so that two copies never write "
                   "it at once",
                   pool_.where());
        run_context().request_stop(StopReason::failure);
        return;
      } catch (const Error& e) {
        // Unreachable for now: the copy's own statements will say so; the lease lapses.
        log::debug("renewing the lease on the copy's journal: {}", e.what());
        if (std::chrono::steady_clock::now() > held_until) {
          log::warn("the copy could not renew its lease on the target {} for {} s: stopping", pool_.where(),
                     kLeaseTerm.count());
          run_context().request_stop(StopReason::failure);
          return;
        }
      }
    }
  }

  const ClientPool& pool_;
  std::string holder_;
  std::condition_variable_any wake_;
  std::jthread renewer_;
};

class TargetJournal final : public engine::JournalStore {
 public:
  explicit TargetJournal(const Uri& target) : pool_(target), display_(target.display()), lease_(pool_) {}

  std::optional<std::string> read() override {
    lease_.hold();
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kCollection));
    Bson filter, opts = Bson::from_json(R"({"sort": {"_id": 1}})");
    CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
    std::optional<std::string> text;
    next_ = 0;
    for (const auto& doc : drain(cursor.get(), pool_.where(), "reading the resume journal")) {
      bson_iter_t it;
      if (bson_iter_init_find(&it, doc.get(), "lines") && BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t size = 0;
        const char* lines = bson_iter_utf8(&it, &size);
        if (!text) text.emplace();
        text->append(lines, size);
      }
      if (bson_iter_init_find(&it, doc.get(), "_id") && BSON_ITER_HOLDS_INT64(&it))
        next_ = std::max(next_, bson_iter_int64(&it) + 1);
    }
    return text;
  }

  // Not atomic as one write: the old lines go first, so that a crash leaves no journal
  // (a run that starts anew) or the new one, never a mix.
  void replace(const std::string& text) override {
    lease_.hold();
    drop();
    next_ = 0;
    append(text);
  }

  void append(const std::string& lines) override {
    lease_.hold();
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kCollection));
    Bson doc;
    BSON_APPEND_INT64(doc.get(), "_id", next_);
    BSON_APPEND_UTF8(doc.get(), "lines", lines.c_str());
    bson_error_t error;
    if (!mongoc_collection_insert_one(coll.get(), doc.get(), nullptr, nullptr, &error))
      fail(error, pool_.where(), "writing the resume journal");
    ++next_;
  }

  // The journal gone, its lease too: a later copy need not wait.
  void remove() override {
    lease_.hold();
    drop();
    lease_.release();
    // MongoDB drops a database with its last collection, FerretDB does not; a login without
    // dropDatabase (readWrite) leaves that empty database.
    try {
      auto client = pool_.acquire();
      run_command(client.get(), kStateDatabase, Bson::from_json(R"({"dropDatabase": 1})"), pool_.where());
    } catch (const Error&) {
    }
  }

  std::string where() const override {
    return fmt::format("the database {} of the target {}", kStateDatabase, display_);
  }

 private:
  // The collection, not the database: readWrite allows it (dropDatabase needs dbAdmin), and
  // the database goes with its last collection.
  void drop() {
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kCollection));
    bson_error_t error;
    constexpr uint32_t kNamespaceNotFound = 26;  // no journal: nothing to drop
    if (!mongoc_collection_drop(coll.get(), &error) && error.code != kNamespaceNotFound &&
        std::string_view(error.message).find("ns not found") == std::string_view::npos)
      fail(error, pool_.where(), "removing the resume journal");
  }

  ClientPool pool_;
  std::string display_;
  TargetLease lease_;
  int64_t next_ = 0;  // the _id of the next append
};

}  // namespace

std::unique_ptr<engine::JournalStore> target_journal(const Uri& target) {
  return std::make_unique<TargetJournal>(target);
}

}  // namespace decant::mongo
