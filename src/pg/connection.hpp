#pragma once
// RAII wrappers for libpq: a Result owns a PGresult, a Connection owns a PGconn (and the
// cancel handle a stop of the run uses to cancel its running statement). Errors become
// decant::Error with an exit code chosen from the SQLSTATE (for connection failures too),
// and a message that names the server but never the password.
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "process/run_context.hpp"
#include "engine/stream.hpp"
#include "pg/conninfo.hpp"
#include "common/c_handle.hpp"

namespace decant::pg {

class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : res_(r) {}
  PGresult* get() const { return res_.get(); }
  explicit operator bool() const { return res_ != nullptr; }
  int rows() const { return PQntuples(res_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col); }
  std::string text(int row, int col) const { return PQgetvalue(res_.get(), row, col); }
  int64_t int64(int row, int col) const;
  bool boolean(int row, int col) const;  // 't' / 'f'
  // Elements of a one-dimensional text[] value.
  std::vector<std::string> text_array(int row, int col) const;

 private:
  CHandle<PGresult, PQclear> res_;
};

class Connection {
 public:
  // Connects to `dbname` on the server `info` points at. Throws Error(unreachable/auth/...).
  static Connection open(const ConnInfo& info, const std::string& dbname);

  Connection() = default;
  Connection(Connection&&) noexcept = default;
  // The stop hook goes first: it must never see a freed cancel handle.
  Connection& operator=(Connection&& other) noexcept {
    if (this != &other) {
      stop_hook_.reset();
      conn_ = std::move(other.conn_);
      cancel_ = std::move(other.cancel_);
      stop_hook_ = std::move(other.stop_hook_);
      where_ = std::move(other.where_);
    }
    return *this;
  }
  bool is_open() const { return conn_ != nullptr; }
  PGconn* raw() const { return conn_.get(); }
  const std::string& where() const { return where_; }  // "source user@host:port/db"

  Result exec(const std::string& sql);
  Result exec_params(const std::string& sql, const std::vector<std::optional<std::string>>& params);

  std::string quote_ident(std::string_view name) const;
  std::string quote_literal(std::string_view value) const;
  int server_version() const { return PQserverVersion(conn_.get()); }
  // The TLS protocol the connection negotiated ("TLSv1.3"), or nullopt without TLS.
  std::optional<std::string> tls_protocol() const {
    if (!PQsslInUse(conn_.get())) return std::nullopt;
    const char* protocol = PQsslAttribute(conn_.get(), "protocol");
    return std::string(protocol ? protocol : "unknown");
  }
  std::string user() const { return PQuser(conn_.get()); }

  // Throws the error a failed result or the connection describes.
  [[noreturn]] void fail(const PGresult* res, const std::string& doing) const;

 private:
  CHandle<PGconn, PQfinish> conn_;
  CHandle<PGcancel, PQfreeCancel> cancel_;
  std::string where_;
  RunContext::Hook stop_hook_;  // declared last: unregistered before the handles are freed
};

// Streams `COPY ... TO STDOUT` rows from a source connection. For binary COPY the
// file header and trailer are stripped, so rows are format-independent of framing.
class CopyOutSource : public engine::RowSource {
 public:
  CopyOutSource(Connection& conn, const std::string& copy_sql, bool binary);
  ~CopyOutSource() override;
  bool next(std::string_view& row) override;

 private:
  Connection& conn_;
  bool binary_;
  bool first_ = true;
  bool ended_ = false;
  char* buffer_ = nullptr;
};

// Feeds rows to `COPY ... FROM STDIN`, adding the binary header and trailer.
class CopyInSink : public engine::RowSink {
 public:
  CopyInSink(Connection& conn, const std::string& copy_sql, bool binary);
  void write(std::string_view row) override;
  uint64_t finish() override;

 private:
  void put(const char* data, size_t size);
  Connection& conn_;
  bool binary_;
};

}  // namespace decant::pg
