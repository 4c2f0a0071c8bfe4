#include "pg/large_objects.hpp"

#include <fmt/format.h>
#include <libpq/libpq-fs.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace decant::pg {
namespace {

constexpr size_t kChunk = 1 << 20;
constexpr uint64_t kCommitBytes = 64ull << 20;  // one transaction per object would be slow, one for all unbounded

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t get_le(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

// "grantee:PRIVILEGE:grantable", split from the right: a role name may hold ':'.
struct PrivilegeItem {
  std::string grantee, privilege;
  bool grantable = false;
};
PrivilegeItem parse_privilege(const std::string& item) {
  auto last = item.rfind(':');
  auto middle = item.rfind(':', last - 1);
  return {item.substr(0, middle), item.substr(middle + 1, last - middle - 1), item.substr(last + 1) == "true"};
}

}  // namespace

LargeObjectRecord parse_large_object_record(std::string_view row) {
  LargeObjectRecord r;
  if (row.size() < 5 || (row[0] != 'M' && row[0] != 'D') || (row[0] == 'D' && row.size() < 13))
    throw Error(ExitCode::internal, "a large object record is too short or of no known type");
  r.type = row[0];
  r.oid = static_cast<uint32_t>(get_le(row, 1, 4));
  if (r.type == 'D') {
    r.offset = get_le(row, 5, 8);
    r.bytes = row.substr(13);
  } else {
    r.bytes = row.substr(5);
  }
  return r;
}

LargeObjectStatements large_object_statements(uint32_t oid, const nlohmann::json& meta,
                                              const std::function<std::string(const std::string&)>& ident,
                                              const std::function<std::string(const std::string&)>& literal) {
  LargeObjectStatements s;
  std::string owner = ident(meta.at("owner").get<std::string>());
  s.owner = fmt::format("ALTER LARGE OBJECT {} OWNER TO {};\n", oid, owner);
  if (!meta.at("default").get<bool>()) {
    s.privileges = fmt::format("REVOKE ALL ON LARGE OBJECT {} FROM PUBLIC;\nREVOKE ALL ON LARGE OBJECT {} FROM {};\n", oid,
                               oid, owner);
    for (const auto& item : meta.at("privileges")) {
      auto p = parse_privilege(item.get<std::string>());
      s.privileges += fmt::format("GRANT {} ON LARGE OBJECT {} TO {}{};\n", p.privilege, oid,
                                  p.grantee == "PUBLIC" ? "PUBLIC" : ident(p.grantee),
                                  p.grantable ? " WITH GRANT OPTION" : "");
    }
  }
  const auto& comment = meta.at("comment");
  s.comment = fmt::format("COMMENT ON LARGE OBJECT {} IS {};\n", oid,
                          comment.is_null() ? std::string("NULL") : literal(comment.get<std::string>()));
  return s;
}

std::vector<LargeObjectInfo> read_large_objects(Connection& conn) {
  auto r = conn.exec(R"SQL(
SELECT l.oid, pg_catalog.pg_get_userbyid(l.lomowner), l.lomacl IS NULL,
       ARRAY(SELECT format('%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                           a.privilege_type, a.is_grantable)
             FROM pg_catalog.aclexplode(coalesce(l.lomacl, pg_catalog.acldefault('L', l.lomowner))) a),
       pg_catalog.obj_description(l.oid, 'pg_largeobject')
FROM pg_catalog.pg_largeobject_metadata l ORDER BY l.oid)SQL");
  std::vector<LargeObjectInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    LargeObjectInfo lo;
    lo.oid = static_cast<uint32_t>(std::stoul(r.text(i, 0)));
    lo.owner = r.text(i, 1);
    lo.default_privileges = r.boolean(i, 2);
    lo.privileges = r.text_array(i, 3);
    std::sort(lo.privileges.begin(), lo.privileges.end());  // bytewise, whatever the databases' collations
    if (!r.is_null(i, 4)) lo.comment = r.text(i, 4);
    out.push_back(std::move(lo));
  }
  return out;
}

std::vector<LargeObjectInfo> as_owned_on_target(std::vector<LargeObjectInfo> objects,
                                                const std::function<bool(const std::string&)>& assumable,
                                                const std::string& login) {
  for (auto& lo : objects) {
    if (assumable(lo.owner)) continue;
    for (auto& item : lo.privileges) {
      auto p = parse_privilege(item);
      if (p.grantee == lo.owner) item = fmt::format("{}:{}:{}", login, p.privilege, p.grantable ? "true" : "false");
    }
    std::sort(lo.privileges.begin(), lo.privileges.end());
    lo.owner = login;
  }
  return objects;
}

// ---- source ----

LargeObjectSource::LargeObjectSource(Connection& conn, std::vector<LargeObjectInfo> objects)
    : conn_(conn), objects_(std::move(objects)) {
  // Large object descriptors live in a transaction; a worker's source session already
  // has its snapshot's, a read-back opens its own.
  if (PQtransactionStatus(conn_.raw()) == PQTRANS_IDLE) {
    conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    own_transaction_ = true;
  }
}

LargeObjectSource::~LargeObjectSource() {
  if (fd_ >= 0 && PQstatus(conn_.raw()) == CONNECTION_OK) lo_close(conn_.raw(), fd_);
}

void LargeObjectSource::close_current() {
  if (fd_ >= 0 && lo_close(conn_.raw(), fd_) < 0) conn_.fail(nullptr, fmt::format("closing large object {}", oid_));
  fd_ = -1;
}

bool LargeObjectSource::next(std::string_view& row) {
  for (;;) {
    if (fd_ >= 0) {
      // The next chunk: read until it is full or the object ends, so that both ends cut
      // the same chunks whatever lo_read returns at a time.
      row_.assign("D");
      put_u32(row_, oid_);
      put_u64(row_, offset_);
      size_t header = row_.size();
      row_.resize(header + kChunk);
      size_t have = 0;
      while (have < kChunk) {
        int n = lo_read(conn_.raw(), fd_, row_.data() + header + have, kChunk - have);
        if (n < 0) conn_.fail(nullptr, fmt::format("reading large object {}", oid_));
        if (n == 0) break;
        have += static_cast<size_t>(n);
      }
      row_.resize(header + have);
      if (have > 0) {
        offset_ += have;
        row = row_;
        return true;
      }
      close_current();
    }
    if (next_object_ == objects_.size()) {
      if (own_transaction_) {
        conn_.exec("COMMIT");
        own_transaction_ = false;
      }
      return false;
    }
    const LargeObjectInfo& lo = objects_[next_object_++];
    oid_ = lo.oid;
    offset_ = 0;
    fd_ = lo_open(conn_.raw(), oid_, INV_READ);
    if (fd_ < 0) conn_.fail(nullptr, fmt::format("opening large object {}", oid_));
    nlohmann::json meta = {{"owner", lo.owner},
                           {"privileges", lo.privileges},
                           {"default", lo.default_privileges},
                           {"comment", lo.comment ? nlohmann::json(*lo.comment) : nlohmann::json(nullptr)}};
    row_.assign("M");
    put_u32(row_, oid_);
    row_ += meta.dump();
    row = row_;
    return true;
  }
}

// ---- sink ----

LargeObjectSink::LargeObjectSink(Connection& conn) : conn_(conn) {}

LargeObjectSink::~LargeObjectSink() {
  if (fd_ >= 0 && PQstatus(conn_.raw()) == CONNECTION_OK) lo_close(conn_.raw(), fd_);
}

void LargeObjectSink::close_current() {
  if (fd_ >= 0 && lo_close(conn_.raw(), fd_) < 0) conn_.fail(nullptr, fmt::format("closing large object {}", oid_));
  fd_ = -1;
}

void LargeObjectSink::write(std::string_view row) {
  auto record = parse_large_object_record(row);
  ++rows_;
  if (record.type == 'D') {
    if (record.oid != oid_ || fd_ < 0 || record.offset != offset_)
      throw Error(ExitCode::internal, fmt::format("large object {}: data out of order", record.oid));
    if (lo_write(conn_.raw(), fd_, record.bytes.data(), record.bytes.size()) != static_cast<int>(record.bytes.size()))
      conn_.fail(nullptr, fmt::format("writing large object {}", record.oid));
    offset_ += record.bytes.size();
    since_commit_ += record.bytes.size();
    return;
  }
  // A new object: its metadata. Commit between objects, never inside one.
  close_current();
  if (in_transaction_ && since_commit_ > kCommitBytes) {
    conn_.exec("COMMIT");
    in_transaction_ = false;
  }
  if (!in_transaction_) {
    conn_.exec("BEGIN");
    in_transaction_ = true;
    since_commit_ = 0;
  }
  uint32_t oid = record.oid;
  std::string id = std::to_string(oid);
  // Created here; one an interrupted run created is emptied and written again.
  conn_.exec_params(
      "SELECT pg_catalog.lo_create($1::oid) WHERE NOT EXISTS "
      "(SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1::oid)",
      {id});
  auto statements = large_object_statements(oid, nlohmann::json::parse(record.bytes),
                                            [this](const std::string& name) { return conn_.quote_ident(name); },
                                            [this](const std::string& text) { return conn_.quote_literal(text); });
  conn_.exec(statements.owner + statements.privileges + statements.comment);
  fd_ = lo_open(conn_.raw(), oid, INV_WRITE);
  if (fd_ < 0) conn_.fail(nullptr, fmt::format("opening large object {}", oid));
  if (lo_truncate64(conn_.raw(), fd_, 0) < 0) conn_.fail(nullptr, fmt::format("emptying large object {}", oid));
  oid_ = oid;
  offset_ = 0;
}

uint64_t LargeObjectSink::finish() {
  close_current();
  if (in_transaction_) conn_.exec("COMMIT");
  in_transaction_ = false;
  return rows_;
}

}  // namespace decant::pg
