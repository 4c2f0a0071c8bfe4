#include "archive/mongodump_layout.hpp"

#include "archive/bson_file.hpp"
#include "archive/dump_names.hpp"
#include "common/error.hpp"

namespace decant::archive {
namespace fs = std::filesystem;

bool is_directory_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name != "." && name != "..";
}

MongodumpLayout::MongodumpLayout(fs::path out_dir, bool gzip) : out_dir_(std::move(out_dir)), gzip_(gzip) {}

MongodumpLayout::Files MongodumpLayout::collection(const std::string& db, const std::string& name) const {
  fs::path dir = out_dir_ / db;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(ExitCode::local_io, "cannot create " + dir.string() + ": " + ec.message(), "check --out");
  // The file names are escaped; the metadata keeps the real name.
  std::string stem = escape_collection_name(name);
  std::string gz = gzip_ ? ".gz" : "";
  return {dir / (stem + ".bson" + gz), dir / (stem + ".metadata.json" + gz)};
}

void MongodumpLayout::write_metadata(const Files& files, const std::string& metadata_json) const {
  write_text_file(files.metadata, metadata_json, gzip_);
}

void MongodumpLayout::write_documents(engine::ItemSpec& spec, const Files& files) const {
  fs::path file = files.documents;
  bool gzip = gzip_;
  spec.target_side = "the file " + file.string();
  spec.sink = [file, gzip] { return std::make_unique<FileSink>(file, gzip); };
  spec.readback = [file] { return std::make_unique<BsonFileSource>(file); };
}

}  // namespace decant::archive
