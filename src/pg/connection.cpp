#include "pg/connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include "common/error.hpp"
#include "common/log.hpp"
#include "process/run_context.hpp"
#include "pg/sqlstate.hpp"
#include "common/c_handle.hpp"

namespace decant::pg {
namespace {

constexpr char kBinarySignature[] = "PGCOPY\n\377\r\n";  // 11 bytes with the NUL


std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool contains(const std::string& haystack, const char* needle) { return haystack.find(needle) != std::string::npos; }

// A connection failure libpq raised itself: no server was reached, or TLS failed. These
// messages are libpq's own, in English: decant never sets a locale for its own messages.
ExitCode classify_client_failure(PGconn* conn, const std::string& msg) {
  if (PQconnectionNeedsPassword(conn)) return ExitCode::auth;
  if (contains(msg, "SSL") || contains(msg, "certificate") || contains(msg, "sslmode")) return ExitCode::tls;
  if (contains(msg, "invalid ") || contains(msg, "connection option")) return ExitCode::usage;
  return ExitCode::unreachable;
}

std::string connect_hint(ExitCode code, const std::string& role) {
  switch (code) {
    case ExitCode::auth:
      return "check the user and password of --" + role + " (in the URI, PGPASSWORD or ~/.pgpass) and the server's pg_hba.conf";
    case ExitCode::usage:
      return "check the database name and options in --" + role;
    case ExitCode::privileges:
      return "grant the --" + role + " login CONNECT on that database";
    case ExitCode::tls:
      return "check sslmode, sslrootcert (the CA that signed the server's certificate) and the host name in --" +
             role;
    default:
      return "check the host and port of --" + role + ", that the server runs and that this machine can reach it";
  }
}

}  // namespace

int64_t Result::int64(int row, int col) const { return std::stoll(text(row, col)); }
bool Result::boolean(int row, int col) const { return PQgetvalue(res_.get(), row, col)[0] == 't'; }

std::vector<std::string> Result::text_array(int row, int col) const {
  // Parses PostgreSQL's text form of a one-dimensional array: {a,"b c",NULL}.
  std::vector<std::string> out;
  if (is_null(row, col)) return out;
  std::string s = text(row, col);
  if (s.size() < 2) return out;
  size_t i = 1;
  while (i < s.size() - 1) {
    std::string item;
    if (s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        item += s[i++];
      }
      ++i;  // closing quote
    } else {
      while (i < s.size() - 1 && s[i] != ',') item += s[i++];
    }
    out.push_back(item);
    if (i < s.size() && s[i] == ',') ++i;
  }
  return out;
}

Connection Connection::open(const ConnInfo& info, const std::string& dbname) {
  Connection c;
  c.where_ = info.role() + " " + info.display(dbname);
  throw_if_interrupted();
  c.conn_.reset(PQconnectStart(info.for_database(dbname).c_str()));
  if (!c.conn_) throw Error(ExitCode::internal, "out of memory connecting to the " + c.where_);
  // Verbose errors carry the server's SQLSTATE, which classifies a failure whatever the
  // server's language. The connection is driven here, not by PQconnectdb, so that a stop
  // ends the wait at once; libpq leaves connect_timeout to such a loop.
  PQsetErrorVerbosity(c.conn_.get(), PQERRORS_VERBOSE);
  auto deadline = std::chrono::steady_clock::now() + info.connect_budget();
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  bool timed_out = false;
  while (PQstatus(c.conn_.get()) != CONNECTION_BAD && status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED) {
    pollfd pfd{PQsocket(c.conn_.get()), static_cast<short>(status == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
    int rc = pfd.fd >= 0 ? ::poll(&pfd, 1, 100) : 1;
    throw_if_interrupted();
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      break;
    }
    if (rc != 0) status = PQconnectPoll(c.conn_.get());
  }
  if (timed_out || PQstatus(c.conn_.get()) != CONNECTION_OK) {
    std::string verbose = trimmed(PQerrorMessage(c.conn_.get()));
    if (timed_out) verbose = "timeout expired after " + std::to_string(info.connect_budget().count()) + " s";
    std::string state = sqlstate_in(verbose);
    std::string msg = without_verbose_parts(verbose, state);
    ExitCode code = timed_out          ? ExitCode::unreachable
                    : !state.empty()   ? classify_sqlstate(state)
                                       : classify_client_failure(c.conn_.get(), msg);
    throw Error(code, "cannot connect to the " + c.where_ + ": " + msg, connect_hint(code, info.role()));
  }
  PQsetErrorVerbosity(c.conn_.get(), PQERRORS_DEFAULT);
  // A stop cancels the statement this connection is running.
  c.cancel_.reset(PQgetCancel(c.conn_.get()));
  PGcancel* cancel = c.cancel_.get();
  c.stop_hook_ = run_context().on_stop([cancel](int) {
    char err[256];
    if (cancel) PQcancel(cancel, err, sizeof err);
  });
  // Server notices ("role is already a member ...") are for the verbose log only.
  PQsetNoticeProcessor(c.conn_.get(), [](void*, const char* message) {
    std::string m = message;
    while (!m.empty() && m.back() == '\n') m.pop_back();
    log::debug("server: {}", m);
  }, nullptr);
  return c;
}

void Connection::fail(const PGresult* res, const std::string& doing) const {
  std::string msg = res ? PQresultErrorMessage(res) : "";
  if (msg.empty()) msg = PQerrorMessage(conn_.get());
  msg = trimmed(msg);
  if (msg.rfind("ERROR:  ", 0) == 0) msg = msg.substr(8);
  // A statement cancelled because the run stops is an interruption, not a failure.
  if (run_context().stop_requested())
    throw Error(ExitCode::interrupted, "interrupted", "run the same command with --resume to continue where it stopped");
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  ExitCode code =
      PQstatus(conn_.get()) == CONNECTION_BAD ? ExitCode::unreachable : classify_sqlstate(state ? state : "");
  if (code == ExitCode::usage || code == ExitCode::auth) code = ExitCode::copy_failed;  // not at connect time
  std::string hint = code == ExitCode::privileges   ? "grant the login the privilege, or connect as one that has it"
                     : code == ExitCode::unreachable ? "the connection was lost; run the same command with --resume"
                                                     : "fix the cause, then run the same command with --resume";
  throw Error(code, "the " + where_ + " failed " + doing + ": " + msg, hint);
}

Result Connection::exec(const std::string& sql) {
  throw_if_interrupted();
  Result r(PQexec(conn_.get(), sql.c_str()));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r.get(), "running " + sql.substr(0, 60));
  return r;
}

Result Connection::exec_params(const std::string& sql, const std::vector<std::optional<std::string>>& params) {
  throw_if_interrupted();
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  Result r(PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                        nullptr, 0));
  auto st = PQresultStatus(r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(r.get(), "running " + sql.substr(0, 60));
  return r;
}

std::string Connection::quote_ident(std::string_view name) const {
  CHandle<char, PQfreemem> q(PQescapeIdentifier(conn_.get(), name.data(), name.size()));
  if (!q) throw Error(ExitCode::internal, "cannot quote identifier: " + trimmed(PQerrorMessage(conn_.get())));
  return q.get();
}

std::string Connection::quote_literal(std::string_view value) const {
  CHandle<char, PQfreemem> q(PQescapeLiteral(conn_.get(), value.data(), value.size()));
  if (!q) throw Error(ExitCode::internal, "cannot quote literal: " + trimmed(PQerrorMessage(conn_.get())));
  return q.get();
}

// ---- COPY streams ----

CopyOutSource::CopyOutSource(Connection& conn, const std::string& copy_sql, bool binary)
    : conn_(conn), binary_(binary) {
  Result r(PQexec(conn_.raw(), copy_sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_OUT) conn_.fail(r.get(), "starting " + copy_sql.substr(0, 80));
}

CopyOutSource::~CopyOutSource() {
  if (buffer_) PQfreemem(buffer_);
  // An abandoned COPY OUT (error elsewhere) must be drained or the connection is unusable;
  // the connection is discarded by its owner in that case, so nothing more to do here.
}

bool CopyOutSource::next(std::string_view& row) {
  for (;;) {
    if (buffer_) {
      PQfreemem(buffer_);
      buffer_ = nullptr;
    }
    if (ended_) return false;
    int n = PQgetCopyData(conn_.raw(), &buffer_, 0);
    if (n == -1) {
      ended_ = true;
      // The COPY's own result tells whether the server finished it cleanly.
      Result r(PQgetResult(conn_.raw()));
      if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) conn_.fail(r.get(), "reading COPY data");
      while (PGresult* extra = PQgetResult(conn_.raw())) PQclear(extra);
      return false;
    }
    if (n < 0) conn_.fail(nullptr, "reading COPY data");
    std::string_view data(buffer_, static_cast<size_t>(n));
    if (binary_ && first_) {
      // 11-byte signature, 4-byte flags, 4-byte header extension length, extension.
      if (data.size() < 19 || std::memcmp(data.data(), kBinarySignature, 11) != 0)
        throw Error(ExitCode::internal, "unexpected binary COPY header from the " + conn_.where());
      uint32_t ext = (static_cast<uint32_t>(static_cast<unsigned char>(data[15])) << 24) |
                     (static_cast<uint32_t>(static_cast<unsigned char>(data[16])) << 16) |
                     (static_cast<uint32_t>(static_cast<unsigned char>(data[17])) << 8) |
                     static_cast<uint32_t>(static_cast<unsigned char>(data[18]));
      data.remove_prefix(19 + ext);
    }
    first_ = false;
    // The binary trailer is a field count of -1; a real row never starts with it.
    if (binary_ && data.size() == 2 && static_cast<unsigned char>(data[0]) == 0xff &&
        static_cast<unsigned char>(data[1]) == 0xff)
      continue;
    if (data.empty()) continue;
    row = data;
    return true;
  }
}

CopyInSink::CopyInSink(Connection& conn, const std::string& copy_sql, bool binary) : conn_(conn), binary_(binary) {
  Result r(PQexec(conn_.raw(), copy_sql.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) conn_.fail(r.get(), "starting " + copy_sql.substr(0, 80));
  if (binary_) {
    char header[19] = {};
    std::memcpy(header, kBinarySignature, 11);
    put(header, sizeof header);
  }
}

void CopyInSink::put(const char* data, size_t size) {
  if (PQputCopyData(conn_.raw(), data, static_cast<int>(size)) != 1) conn_.fail(nullptr, "sending COPY data");
}

void CopyInSink::write(std::string_view row) { put(row.data(), row.size()); }

uint64_t CopyInSink::finish() {
  if (binary_) put("\xff\xff", 2);
  if (PQputCopyEnd(conn_.raw(), nullptr) != 1) conn_.fail(nullptr, "ending COPY");
  Result r(PQgetResult(conn_.raw()));
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) conn_.fail(r.get(), "writing COPY data");
  while (PGresult* extra = PQgetResult(conn_.raw())) PQclear(extra);
  const char* tuples = PQcmdTuples(r.get());
  return tuples && *tuples ? std::stoull(tuples) : 0;
}

}  // namespace decant::pg
