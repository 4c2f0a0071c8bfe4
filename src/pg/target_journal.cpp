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
    conn_.exec_params("INSERT INTO journal (lines) VALUES ($1)", {lines});
  }

  // After a verified copy: a journal that cannot be dropped (a session still on it) is
  // said, not a failure of the copy.
  void remove() override {
    conn_ = Connection();
    try {
      auto admin = Connection::open(target_, target_.maintenance_db());
      admin.exec(std::string("DROP DATABASE IF EXISTS ") + kStateDatabase);
    } catch (const Error& e) {
      log::warn("could not drop the database {} (the finished copy's journal) on the target: {}; drop it when no "
                "session uses it",
                kStateDatabase, e.what());
    }
  }

  std::string where() const override {
    return std::string("the database ") + kStateDatabase + " of the target " + target_.display();
  }

 private:
  // Connects to decant_state; with `create`, makes it and its table first when missing.
  // False when it does not exist (and not `create`).
  bool open(bool create) {
    if (conn_.is_open()) return true;
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

  ConnInfo target_;
  Connection conn_;
};

}  // namespace

std::unique_ptr<engine::JournalStore> target_journal(const ConnInfo& target) {
  return std::make_unique<TargetJournal>(target);
}

}  // namespace decant::pg
