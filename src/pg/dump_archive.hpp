#pragma once
// pg_dump's archive, as far as decant reads and writes it: the header and table of
// contents of a custom-format archive (a backup keeps each database's schema as one), and
// the toc.dat of a directory-format archive, so that `backup export --format pg_dump`
// writes what pg_restore reads. Archive versions 1.14 (pg_dump 12-15), 1.15 (16) and
// 1.16 (17); others are refused rather than guessed at.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace decant::pg {

// pg_dump's teSection.
enum class ArchiveSection : int { none = 1, pre_data = 2, data = 3, post_data = 4 };

// One TOC entry. pg_dump writes absent strings as NULL, distinct from empty ones; both
// are kept as they were.
struct ArchiveEntry {
  int dump_id = 0;
  bool has_data = false;  // its data is in the archive (TABLE DATA, BLOBS)
  std::string table_oid = "0";
  std::string oid = "0";
  std::string tag;
  std::string desc;
  ArchiveSection section = ArchiveSection::none;
  std::optional<std::string> defn, drop_stmt, copy_stmt, namespace_name, tablespace, table_am;
  int relkind = 0;  // archive 1.16 and later
  std::optional<std::string> owner;
  std::vector<int> dependencies;
  std::string file;  // directory format: the entry's data file, "" for none
};

struct DumpArchive {
  int major = 1, minor = 0, revision = 0;
  int int_size = 4, offset_size = 8;
  // The header after its compression field, as read: creation time, database name,
  // server and pg_dump versions.
  std::string header_tail;
  std::vector<ArchiveEntry> entries;

  int max_dump_id() const;
  // The entry for catalog object `oid` of kind `desc` ("TABLE", "SEQUENCE"), if any.
  const ArchiveEntry* find(std::string_view desc, std::string_view oid) const;
};

// The header and TOC of a custom-format archive (its data blocks are not read). Throws
// Error(copy_failed) naming what is wrong when it is not one decant can read.
DumpArchive read_custom_archive(std::string_view bytes);
// The same, of the archive file `path` (Error(local_io) when it cannot be read).
DumpArchive read_custom_archive_file(const std::filesystem::path& path);

// toc.dat of a directory-format archive holding `archive`'s entries, uncompressed.
std::string directory_toc(const DumpArchive& archive);

}  // namespace decant::pg
