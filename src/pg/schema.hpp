#pragma once
// The schema moves through pg_dump and pg_restore (custom format, schema sections only,
// no data): pre-data before the data, post-data after it, minus the indexes and
// constraints decant builds itself per table. The password reaches the children via
// PGPASSWORD in their environment, never their argv.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "pg/conninfo.hpp"
#include "pg/tools.hpp"

namespace decant::pg {

// One line of `pg_restore -l`: "ID; TABLEOID OID DESC SCHEMA NAME OWNER".
struct TocEntry {
  uint32_t catalog_oid = 0;
  uint32_t oid = 0;
  std::string desc;  // INDEX, CONSTRAINT, FK CONSTRAINT, TABLE, ...
  std::string owner;  // the line's last word
  std::string line;
};
std::vector<TocEntry> parse_toc(const std::string& listing);

class SchemaTransfer {
 public:
  SchemaTransfer(PgTools tools, const ConnInfo& source, const ConnInfo& target)
      : tools_(std::move(tools)), source_(source), target_(target) {}

  // pg_dump of `db`'s pre-data and post-data sections in `snapshot` into `file`.
  void dump(const std::string& db, const std::string& snapshot, const std::filesystem::path& file) const;
  std::vector<TocEntry> list(const std::filesystem::path& file) const;
  // `keep_owner`: false restores with --no-owner (the target login owns everything).
  void restore_pre_data(const std::string& db, const std::filesystem::path& file, bool keep_owner) const;
  // Restores post-data except the INDEX/CONSTRAINT entries whose oid is in `built`.
  void restore_post_data(const std::string& db, const std::filesystem::path& file,
                         const std::vector<TocEntry>& toc, const std::set<uint32_t>& built,
                         bool keep_owner) const;

 private:
  void restore(const std::string& db, const std::filesystem::path& file, const std::vector<std::string>& args,
               const std::string& doing) const;
  PgTools tools_;
  const ConnInfo& source_;
  const ConnInfo& target_;
};

}  // namespace decant::pg
