#pragma once
// A database's large objects as one engine stream, metadata and contents together, so
// that copying them and verifying them is the same pump() and digest as for a table.
// Each object is a metadata row ('M': oid, owner, privileges, comment) followed by its
// contents in 1 MiB chunks ('D': oid, offset, bytes). The sink creates the object and
// sets its metadata itself: pg_dump 17 moved large objects' metadata into the data
// section, which decant does not restore, and doing it here is the same for every
// pg_dump version.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/stream.hpp"
#include "pg/connection.hpp"

namespace decant::pg {

struct LargeObjectInfo {
  uint32_t oid = 0;
  std::string owner;
  std::vector<std::string> privileges;  // "grantee:PRIVILEGE:grantable", sorted; the effective ACL
  bool default_privileges = true;       // the ACL was never changed
  std::optional<std::string> comment;
};

// Every large object of the connection's database, in its current snapshot.
std::vector<LargeObjectInfo> read_large_objects(Connection& conn);

// `objects` as the target must hold them when the target login cannot act as some
// owners: those objects stay owned by `login` (and the owner's privileges go to it).
std::vector<LargeObjectInfo> as_owned_on_target(std::vector<LargeObjectInfo> objects,
                                                const std::function<bool(const std::string&)>& assumable,
                                                const std::string& login);

// One record of the stream: 'M' (the object's metadata as JSON: owner, default,
// privileges, comment) or 'D' (`bytes` of its contents at `offset`).
struct LargeObjectRecord {
  char type = 0;
  uint32_t oid = 0;
  uint64_t offset = 0;
  std::string_view bytes;  // 'M': the JSON text
};
LargeObjectRecord parse_large_object_record(std::string_view row);

// The statements that give large object `oid` the owner, privileges and comment of a
// metadata record's JSON; `ident` quotes a role name, `literal` a string.
struct LargeObjectStatements {
  std::string owner;       // ALTER LARGE OBJECT ... OWNER TO
  std::string privileges;  // REVOKE/GRANT, empty when they were never changed
  std::string comment;     // COMMENT ON LARGE OBJECT (IS NULL when there is none)
};
LargeObjectStatements large_object_statements(uint32_t oid, const nlohmann::json& meta,
                                              const std::function<std::string(const std::string&)>& ident,
                                              const std::function<std::string(const std::string&)>& literal);

// Reads `objects` from `conn` (inside a transaction: its own when there is none).
class LargeObjectSource : public engine::RowSource {
 public:
  LargeObjectSource(Connection& conn, std::vector<LargeObjectInfo> objects);
  ~LargeObjectSource() override;
  bool next(std::string_view& row) override;

 private:
  void close_current();
  Connection& conn_;
  std::vector<LargeObjectInfo> objects_;
  size_t next_object_ = 0;
  int fd_ = -1;  // the object being read
  uint32_t oid_ = 0;
  uint64_t offset_ = 0;
  bool own_transaction_ = false;
  std::string row_;
};

// Writes large objects into `conn`'s database: creates each one (or empties it when it
// exists, on --resume), sets owner, privileges and comment, writes its contents.
// Commits every ~64 MiB, between objects.
class LargeObjectSink : public engine::RowSink {
 public:
  explicit LargeObjectSink(Connection& conn);
  ~LargeObjectSink() override;
  void write(std::string_view row) override;
  uint64_t finish() override;

 private:
  void close_current();
  Connection& conn_;
  int fd_ = -1;
  uint32_t oid_ = 0;
  uint64_t offset_ = 0;
  uint64_t since_commit_ = 0;
  uint64_t rows_ = 0;
  bool in_transaction_ = false;
};

}  // namespace decant::pg
