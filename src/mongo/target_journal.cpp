#include "mongo/target_journal.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "process/identity.hpp"
#include "process/run_context.hpp"

namespace decant::mongo {
namespace {

constexpr const char* kCollection = "journal";
constexpr const char* kLeaseCollection = "lease";
constexpr auto kLeaseTerm = std::chrono::seconds(30);
constexpr auto kLeaseRenewal = std::chrono::seconds(5);

// One copy at a time keeps its journal on a server (there is one journal). MongoDB has no
// session lock, so a lease: a document naming its holder with a stamp the holder renews
// every 5 s. A second copy (a Job's next pod while the first still runs on a node cut off
// from the API server but not from this server) waits, and takes the lease over only once
// it has seen the stamp unchanged for 30 s by its own clock (the copies' clocks are never
// compared), with an update conditional on that very stamp (two waiters never both win).
// The holder counts its term from before each renewal it sent: a holder that could not
// renew within it stops its run and writes no more (well before a waiter takes over).
// The lease also names the holder's process (ProcessIdentity): a waiter that shares its
// process table (a copy run again on the machine where one was killed) sees at once that
// it has ended, and takes the lease over without waiting out the term.
class TargetLease {
 public:
  explicit TargetLease(const ClientPool& pool) : pool_(pool), process_(ProcessIdentity::self()) {
    std::random_device random;
    holder_ = fmt::format("{}/{}/{:08x}{:08x}", host_name(), getpid(), random(), random());
  }
  ~TargetLease() {
    stop_renewing();
    give_up();
  }
  TargetLease(const TargetLease&) = delete;
  TargetLease& operator=(const TargetLease&) = delete;

  // Blocks until this copy holds the lease; throws once it has lost it.
  void hold() {
    if (lost_) throw lost_error();
    if (renewer_.joinable()) return;
    Clock::time_point sent = Clock::now();
    if (!take()) {
      log::warn("another decant copy keeps its journal on the target ({} holds its lease): waiting for it to end (a "
                "Job's earlier pod that still runs?)",
                seen_holder_);
      do {
        throw_if_interrupted();
        std::this_thread::sleep_for(std::chrono::seconds(1));
        sent = Clock::now();
      } while (!take());
      log::info("the other copy ended; going on");
    }
    held_until_ = sent + kLeaseTerm;
    renewer_ = std::jthread([this](std::stop_token stop) { renew(stop); });
  }

  void stop_renewing() noexcept {
    if (!renewer_.joinable()) return;
    renewer_.request_stop();
    renewer_.join();
  }

  // Deletes the lease, when it is still this copy's.
  void give_up() noexcept {
    if (lost_) return;
    try {
      auto client = pool_.acquire();
      CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kLeaseCollection));
      Bson mine = Bson::from_json(fmt::format(R"({{"_id": "journal", "holder": "{}"}})", holder_));
      mongoc_collection_delete_one(coll.get(), mine.get(), nullptr, nullptr, nullptr);
    } catch (...) {
      // It lapses by itself.
    }
  }

 private:
  using Clock = std::chrono::steady_clock;

  static std::string host_name() {
    char name[256] = {};
    return gethostname(name, sizeof name - 1) == 0 ? name : "unknown";
  }

  Error lost_error() const {
    return Error(ExitCode::interrupted,
                 fmt::format("the copy lost its lease on the target {}: another copy may write it", pool_.where()),
                 "let the other copy finish, then run the same command again");
  }

  // This copy's name, stamp and process, as the lease's fields.
  std::string fields() const {
    return fmt::format(R"("holder": "{}", "stamp": "{}/{}", "boot": "{}", "pid_namespace": "{}", "pid": {}, "started": {})",
                       holder_, holder_, stamp_, process_.boot, process_.pid_namespace, process_.pid, process_.started);
  }

  // One update: `selector` matched gets this copy's fields and a new stamp.
  bool update(mongoc_collection_t* coll, const std::string& selector) {
    ++stamp_;
    Bson query = Bson::from_json(selector);
    Bson set = Bson::from_json(fmt::format(R"({{"$set": {{{}}}}})", fields()));
    bson_t reply;
    bson_error_t error;
    bool ok = mongoc_collection_update_one(coll, query.get(), set.get(), nullptr, &reply, &error);
    bson_iter_t it;
    int64_t matched = 0;
    if (ok && bson_iter_init_find(&it, &reply, "matchedCount")) matched = bson_iter_as_int64(&it);
    bson_destroy(&reply);
    if (!ok) fail(error, pool_.where(), "renewing the lease on the copy's journal");
    return matched > 0;
  }

  // Renews the lease if this copy holds it, makes it if there is none, or takes it over
  // once its stamp has stood still for a term or its holder is seen ended; false while
  // another copy holds it.
  bool take() {
    auto client = pool_.acquire();
    CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kLeaseCollection));
    if (update(coll.get(), fmt::format(R"({{"_id": "journal", "holder": "{}"}})", holder_))) return true;
    Bson lease = Bson::from_json(fmt::format(R"({{"_id": "journal", {}}})", fields()));
    bson_error_t error;
    if (mongoc_collection_insert_one(coll.get(), lease.get(), nullptr, nullptr, &error)) return true;
    constexpr uint32_t kDuplicateKey = 11000;  // another copy's lease is there
    if (error.code != kDuplicateKey && std::string_view(error.message).find("duplicate key") == std::string_view::npos)
      fail(error, pool_.where(), "taking the lease on the copy's journal");
    Bson filter = Bson::from_json(R"({"_id": "journal"})");
    CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), nullptr, nullptr));
    std::string holder, stamp;
    ProcessIdentity process;
    for (const auto& doc : drain(cursor.get(), pool_.where(), "reading the lease on the copy's journal")) {
      holder = utf8_field(doc.get(), "holder");
      stamp = utf8_field(doc.get(), "stamp");
      process.boot = utf8_field(doc.get(), "boot");
      process.pid_namespace = utf8_field(doc.get(), "pid_namespace");
      process.pid = static_cast<pid_t>(int64_field(doc.get(), "pid"));
      process.started = static_cast<uint64_t>(int64_field(doc.get(), "started"));
    }
    if (process_.sees_ended(process) && update(coll.get(), fmt::format(R"({{"_id": "journal", "stamp": "{}"}})", stamp))) {
      log::info("the copy that held the lease on the target ({}) has ended on this machine: took its lease over",
                holder.empty() ? "another copy" : holder);
      return true;
    }
    if (stamp != seen_stamp_ || seen_holder_.empty()) {
      seen_holder_ = holder.empty() ? "another copy" : holder;
      seen_stamp_ = stamp;
      seen_since_ = Clock::now();
      return false;
    }
    if (Clock::now() - seen_since_ < kLeaseTerm) return false;
    return update(coll.get(), fmt::format(R"({{"_id": "journal", "stamp": "{}"}})", stamp));
  }

  void renew(std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    for (;;) {
      {
        std::unique_lock lock(mutex);
        wake.wait_for(lock, stop, kLeaseRenewal, [] { return false; });
        if (stop.stop_requested()) return;
      }
      auto sent = Clock::now();
      try {
        auto client = pool_.acquire();
        CollectionPtr coll(mongoc_client_get_collection(client.get(), kStateDatabase, kLeaseCollection));
        if (update(coll.get(), fmt::format(R"({{"_id": "journal", "holder": "{}"}})", holder_))) {
          held_until_ = sent + kLeaseTerm;
          continue;
        }
      } catch (const std::exception& e) {
        // The server out of reach: the copy's own statements will say so; the term runs on.
        log::debug("renewing the lease on the copy's journal: {}", e.what());
        if (Clock::now() < held_until_) continue;
      }
      lost_ = true;
      log::warn("the copy lost its lease on the target {} (another copy took it, or it could not be renewed for {} s): "
                "stopping, so that two copies never write it at once",
                pool_.where(), kLeaseTerm.count());
      run_context().request_stop(StopReason::failure);
      return;
    }
  }

  const ClientPool& pool_;
  const ProcessIdentity process_;
  std::string holder_;
  uint64_t stamp_ = 0;
  Clock::time_point held_until_{};  // set before the renewer starts, then its own
  std::atomic<bool> lost_{false};
  // The other holder's lease as last seen, and since when its stamp stood still.
  std::string seen_holder_, seen_stamp_;
  Clock::time_point seen_since_{};
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

  // The journal gone, its lease last: a copy waiting for it never has its own lease dropped
  // with the database.
  void remove() override {
    lease_.hold();
    drop();
    lease_.stop_renewing();
    // MongoDB drops a database with its last collection, FerretDB does not; a login without
    // dropDatabase (readWrite) leaves that empty database.
    try {
      auto client = pool_.acquire();
      run_command(client.get(), kStateDatabase, Bson::from_json(R"({"dropDatabase": 1})"), pool_.where());
    } catch (const Error&) {
      // Not allowed (readWrite): the lease's collection goes too, then the database is empty.
      // (No one takes the lease over meanwhile: it was renewed a moment ago.)
      auto client = pool_.acquire();
      CollectionPtr lease(mongoc_client_get_collection(client.get(), kStateDatabase, kLeaseCollection));
      if (!mongoc_collection_drop(lease.get(), nullptr)) lease_.give_up();
    }
  }

  bool present() override {
    auto client = pool_.acquire();
    Bson command = Bson::from_json(fmt::format(R"({{"listCollections": 1, "nameOnly": true, "filter": {{"name": "{}"}}}})",
                                               kCollection));
    Bson reply = run_command(client.get(), kStateDatabase, command, pool_.where());
    return utf8_field(reply.get(), "cursor.firstBatch.0.name") == kCollection;
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
