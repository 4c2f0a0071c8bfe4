#include "pg/target_journal.hpp"

#include "common/error.hpp"
#include "common/log.hpp"
#include "pg/connection.hpp"

namespace decant::pg {
namespace {

class TargetJournal final : public engine::JournalStore {
 public:
  explicit TargetJournal(ConnInfo target) : target_(std::move(target)) {}

  std::optional<std::string> read() override {
    if (!open(false)) return std::nullopt;
    auto r = conn_.exec("SELECT pg_catalog.string_agg(lines, '' ORDER BY seq) FROM journal");
    if (r.is_null(0, 0)) return std::nullopt;
    return r.text(0, 0);
  }

  void replace(const std::string& text) override {
    open(true);
    hold_the_target();
    conn_.exec("BEGIN");
    try {
      conn_.exec("DELETE FROM journal");
      conn_.exec_params("INSERT INTO journal (lines) VALUES ($1)", {text});
      conn_.exec("COMMIT");
    } catch (...) {
      conn_ = Connection();  // its transaction ends with it
      throw;
    }
  }

  void append(const std::string& lines) override {
    open(true);
    hold_the_target();
    conn_.exec_params("INSERT INTO journal (lines) VALUES ($1)", {lines});
  }

  // After a verified copy: a journal that cannot be dropped (a session still on it) is
  // said, not a failure of the copy.
  void remove() override {
    conn_ = Connection();
    struct Release {
      Connection& lock;
      ~Release() { lock = Connection(); }
    } release{lock_};
    try {
      auto admin = Connection::open(target_, target_.maintenance_db());
      admin.exec(std::string("DROP DATABASE IF EXISTS ") + kStateDatabase);
    } catch (const Error& e) {
      log::warn("could not drop the database {} (the finished copy's journal) on the target: {}; drop it when no "
                "session uses it",
                kStateDatabase, e.what());
    }
  }

  bool present() override {
    auto admin = Connection::open(target_, target_.maintenance_db());
    return admin.exec_params("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {kStateDatabase}).rows() > 0;
  }

  std::string where() const override {
    return std::string("the database ") + kStateDatabase + " of the target " + target_.display();
  }

 private:
  // One copy at a time keeps its journal on a server (there is one journal): a second one,
  // such as the next pod of a Job whose first still runs on a node cut off from the API
  // server but not from this server, waits for the first to end instead of writing beside
  // it. A session-level advisory lock, held as long as this journal: the server releases it
  // when the session ends, however the holder died.
  // The lock's session is kept alive and watched: the server ends a dead holder's session
  // (and frees the lock) within about 25 s by its keepalives, not the system's 2 hours.
  void hold_the_target() {
    if (lock_.is_open()) {
      try {
        lock_.exec("SELECT 1");
        return;
      } catch (const Error& e) {
        // A stop of the run cancels this statement too (Connection says so: interrupted):
        // that is the stop, not a lost lock (a Job's pod deleted mid-copy must exit as
        // interrupted, to be run again).
        if (e.code() == ExitCode::interrupted) throw;
        throw Error(ExitCode::unreachable,
                    std::string("the session holding the copy's lock on the target ended: ") + e.what(),
                    "another copy may have taken the target over; run the same command again");
      }
    }
    auto lock = Connection::open(target_, target_.maintenance_db());
    lock.exec("SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0; "
              "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3");
    if (lock.server_version() >= 140000) lock.exec("SET idle_session_timeout = 0");
    const std::string key = std::to_string(kJournalLock);
    if (lock.exec("SELECT pg_catalog.pg_try_advisory_lock(" + key + ")").boolean(0, 0)) {
      lock_ = std::move(lock);
      return;
    }
    auto holder = lock.exec(
        "SELECT coalesce(host(a.client_addr), 'a local socket') || ' since ' || "
        "pg_catalog.to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') FROM pg_catalog.pg_locks l "
        "JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND "
        "l.objid = (" + key + " & 4294967295)::oid AND l.classid = (" + key + " >> 32)::oid");
    log::warn("another decant copy keeps its journal on the target {} (a session from {}): waiting for it to end "
              "(a Job's earlier pod that still runs?)",
              target_.display(), holder.rows() > 0 && !holder.is_null(0, 0) ? holder.text(0, 0) : "unknown");
    lock.exec("SELECT pg_catalog.pg_advisory_lock(" + key + ")");  // a stop of the run cancels it
    lock_ = std::move(lock);
    log::info("the other copy ended; going on");
  }

  // Connects to decant_state; with `create`, makes it and its table first when missing.
  // False when it does not exist (and not `create`).
  bool open(bool create) {
    if (conn_.is_open()) return true;
    hold_the_target();
    {
      auto admin = Connection::open(target_, target_.maintenance_db());
      bool exists = admin.exec_params("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", {kStateDatabase}).rows() > 0;
      if (!exists && !create) return false;
      // UTF-8 whatever the server's default: the journal names tables as the source spells them.
      if (!exists)
        admin.exec(std::string("CREATE DATABASE ") + kStateDatabase +
                   " TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
    }
    conn_ = Connection::open(target_, kStateDatabase);
    conn_.exec("SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0");
    conn_.exec("CREATE TABLE IF NOT EXISTS journal (seq bigserial PRIMARY KEY, lines text NOT NULL)");
    return true;
  }

  static constexpr int64_t kJournalLock = 0x646563616e74;  // "decant"
  ConnInfo target_;
  Connection lock_;  // holds the advisory lock
  Connection conn_;
};

}  // namespace

std::unique_ptr<engine::JournalStore> target_journal(const ConnInfo& target) {
  return std::make_unique<TargetJournal>(target);
}

}  // namespace decant::pg
