#include "pg/dump_archive.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>

#include "common/error.hpp"

namespace decant::pg {
namespace {

constexpr int kFormatCustom = 1;
constexpr int kFormatDirectory = 3;  // as pg_dump writes it in toc.dat

[[noreturn]] void unreadable(const std::string& why) {
  throw Error(ExitCode::copy_failed, "the schema archive in the backup is not one decant can read: " + why,
              "export with the decant version that made the backup, or restore it with `decant backup restore`");
}

// pg_dump's integers: a sign byte, then int_size bytes of the magnitude, least significant first.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  int byte() {
    need(1);
    return static_cast<unsigned char>(bytes_[at_++]);
  }
  std::string_view take(size_t n) {
    need(n);
    auto out = bytes_.substr(at_, n);
    at_ += n;
    return out;
  }
  int integer() {
    bool negative = byte() != 0;
    uint64_t magnitude = 0;
    for (int i = 0; i < int_size; ++i) magnitude |= static_cast<uint64_t>(byte()) << (8 * i);
    if (magnitude > 0x7fffffff) unreadable("an integer out of range");
    int v = static_cast<int>(magnitude);
    return negative ? -v : v;
  }
  std::optional<std::string> string() {
    int n = integer();
    if (n < 0) return std::nullopt;
    return std::string(take(static_cast<size_t>(n)));
  }
  std::string required_string(const char* what) {
    auto s = string();
    if (!s) unreadable(fmt::format("a TOC entry without {}", what));
    return *s;
  }
  size_t position() const { return at_; }
  int int_size = 4;

 private:
  void need(size_t n) const {
    if (bytes_.size() - at_ < n) unreadable("it ends early");
  }
  std::string_view bytes_;
  size_t at_ = 0;
};

class Writer {
 public:
  explicit Writer(int int_size) : int_size_(int_size) {}
  void byte(int b) { out_ += static_cast<char>(b); }
  void integer(int v) {
    byte(v < 0 ? 1 : 0);
    uint64_t magnitude = v < 0 ? static_cast<uint64_t>(-static_cast<int64_t>(v)) : static_cast<uint64_t>(v);
    for (int i = 0; i < int_size_; ++i) byte(static_cast<int>((magnitude >> (8 * i)) & 0xff));
  }
  void string(const std::optional<std::string>& s) {
    if (!s) return integer(-1);
    integer(static_cast<int>(s->size()));
    out_ += *s;
  }
  void raw(std::string_view bytes) { out_ += bytes; }
  std::string take() { return std::move(out_); }

 private:
  int int_size_;
  std::string out_;
};

int version_of(int major, int minor) { return major * 100 + minor; }

}  // namespace

int DumpArchive::max_dump_id() const {
  int id = 0;
  for (const auto& e : entries) id = std::max(id, e.dump_id);
  return id;
}

const ArchiveEntry* DumpArchive::find(std::string_view desc, std::string_view oid) const {
  for (const auto& e : entries)
    if (e.desc == desc && e.oid == oid) return &e;
  return nullptr;
}

DumpArchive read_custom_archive(std::string_view bytes) {
  Reader in(bytes);
  if (in.take(5) != "PGDMP") unreadable("it does not start with PGDMP");
  DumpArchive a;
  a.major = in.byte();
  a.minor = in.byte();
  a.revision = in.byte();
  int version = version_of(a.major, a.minor);
  if (version < version_of(1, 14) || version > version_of(1, 16))
    unreadable(fmt::format("archive version {}.{} (decant reads 1.14 to 1.16: pg_dump 12 to 17)", a.major, a.minor));
  a.int_size = in.byte();
  a.offset_size = in.byte();
  if (a.int_size < 1 || a.int_size > 8 || a.offset_size < 1 || a.offset_size > 8) unreadable("odd integer sizes");
  in.int_size = a.int_size;
  if (in.byte() != kFormatCustom) unreadable("not pg_dump's custom format");
  // The compression: an algorithm byte from 1.15, a level before.
  if (version >= version_of(1, 15))
    in.byte();
  else
    in.integer();
  size_t tail_start = in.position();
  for (int i = 0; i < 7; ++i) in.integer();  // creation time
  for (int i = 0; i < 3; ++i) in.string();   // database, server version, pg_dump version
  a.header_tail = std::string(bytes.substr(tail_start, in.position() - tail_start));

  int count = in.integer();
  if (count < 0) unreadable("a negative entry count");
  a.entries.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    ArchiveEntry e;
    e.dump_id = in.integer();
    if (e.dump_id <= 0) unreadable("an entry id out of range");
    e.has_data = in.integer() != 0;
    e.table_oid = in.required_string("table oid");
    e.oid = in.required_string("oid");
    e.tag = in.string().value_or("");
    e.desc = in.required_string("description");
    int section = in.integer();
    if (section < 1 || section > 4) unreadable("an unknown section");
    e.section = static_cast<ArchiveSection>(section);
    e.defn = in.string();
    e.drop_stmt = in.string();
    e.copy_stmt = in.string();
    e.namespace_name = in.string();
    e.tablespace = in.string();
    e.table_am = in.string();
    if (version >= version_of(1, 16)) e.relkind = in.integer();
    e.owner = in.string();
    if (in.string().value_or("false") == "true") unreadable("a table WITH OIDS");
    while (auto dep = in.string()) {
      int id = 0;
      auto [end, ec] = std::from_chars(dep->data(), dep->data() + dep->size(), id);
      if (ec != std::errc() || end != dep->data() + dep->size()) unreadable("a dependency that is not a number");
      e.dependencies.push_back(id);
    }
    // The custom format's data position: a flag byte and an offset.
    in.take(1 + static_cast<size_t>(a.offset_size));
    a.entries.push_back(std::move(e));
  }
  return a;
}

DumpArchive read_custom_archive_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    throw Error(ExitCode::local_io, "cannot read the schema archive " + path.string(),
                "check the state directory's disk, then run the same command with --resume");
  return read_custom_archive(bytes);
}

std::string directory_toc(const DumpArchive& a) {
  int version = version_of(a.major, a.minor);
  Writer out(a.int_size);
  out.raw("PGDMP");
  out.byte(a.major);
  out.byte(a.minor);
  out.byte(a.revision);
  out.byte(a.int_size);
  out.byte(a.offset_size);
  out.byte(kFormatDirectory);
  if (version >= version_of(1, 15))
    out.byte(0);  // no compression
  else
    out.integer(0);
  out.raw(a.header_tail);
  out.integer(static_cast<int>(a.entries.size()));
  for (const auto& e : a.entries) {
    out.integer(e.dump_id);
    out.integer(e.has_data ? 1 : 0);
    out.string(e.table_oid);
    out.string(e.oid);
    out.string(e.tag);
    out.string(e.desc);
    out.integer(static_cast<int>(e.section));
    out.string(e.defn);
    out.string(e.drop_stmt);
    out.string(e.copy_stmt);
    out.string(e.namespace_name);
    out.string(e.tablespace);
    out.string(e.table_am);
    if (version >= version_of(1, 16)) out.integer(e.relkind);
    out.string(e.owner);
    out.string("false");
    for (int dep : e.dependencies) out.string(std::to_string(dep));
    out.string(std::nullopt);
    out.string(e.file);
  }
  return out.take();
}

}  // namespace decant::pg
