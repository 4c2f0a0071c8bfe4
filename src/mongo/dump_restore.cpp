#include "mongo/dump_restore.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <thread>

#include "archive/bson_file.hpp"
#include "archive/dump_names.hpp"
#include "archive/mongodump_layout.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "process/signals.hpp"
#include "engine/item_lifecycle.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "engine/run_frame.hpp"
#include "engine/stream.hpp"
#include "engine/task_pool.hpp"
#include "mongo/catalog.hpp"
#include "mongo/client.hpp"
#include "mongo/document_stream.hpp"
#include "mongo/privileges.hpp"

namespace decant::mongo {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// A collection file this large gets several inserters (mongorestore's
// numInsertionWorkersPerCollection).
constexpr uint64_t kParallelInsertBytes = 4u << 20;

}  // namespace

std::string dump_metadata_json(const CollectionInfo& c, const std::vector<Bson>& index_specs, const std::string& uuid) {
  std::string indexes = "[";
  for (size_t i = 0; i < index_specs.size(); ++i) indexes += (i ? "," : "") + index_specs[i].json();
  indexes += "]";
  return fmt::format(R"({{"indexes":{},"uuid":"{}","collectionName":{},"type":"{}","options":{}}})", indexes, uuid,
                     nlohmann::json(c.name).dump(), c.is_view ? "view" : "collection", c.options.json());
}

namespace {

// Writes a collection's (or view's) metadata.json as mongodump does.
void write_metadata(mongoc_client_t* client, const std::string& where, const CollectionInfo& c,
                    const archive::MongodumpLayout& layout, const archive::MongodumpLayout::Files& files) {
  auto specs = c.is_view ? std::vector<Bson>{} : list_index_specs(client, c.db, c.name, where);
  layout.write_metadata(files, dump_metadata_json(c, specs, collection_uuid(client, c.db, c.name, where)));
}

// A path as the resume state knows it: absolute, normalized, no trailing separator, so
// that "dump/" and "./dump" resume the same run.
std::string path_identity(const std::string& path) {
  fs::path p = fs::weakly_canonical(fs::absolute(path));
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

class MongoDump {
 public:
  explicit MongoDump(const DumpOptions& options) : options_(options) {}

  engine::Endpoints open() {
    uri_ = Uri::parse(options_.source, "source");
    return {uri_->display(), options_.out_dir,
            uri_->display() + " -> " + path_identity(options_.out_dir) + (options_.gzip ? " (gzip)" : "")};
  }

  int run(engine::RunFrame& frame) {
    pool_ = std::make_unique<ClientPool>(*uri_);
    list_collections_to_dump();
    frame.start_writing();
    log::info("dumping {} collection(s) from {} to {}", collections_.size(), uri_->display(), options_.out_dir);
    frame.run_tasks("dumping", [this, &frame](engine::TaskPool& tasks) {
      for (const auto& c : collections_) {
        auto* item = &frame.progress().add(c.display(), c.bytes, engine::kDocuments);
        tasks.submit(1, [this, &frame, &c, item](int) { dump_collection(frame, c, *item); });
      }
    });
    return frame.conclude("dump complete and verified", "run the same command again without --resume");
  }

 private:
  void list_collections_to_dump() {
    auto client = pool_->acquire();
    ping(client.get(), pool_->where());
    for (const auto& db : list_databases(client.get(), options_.databases, pool_->where()))
      for (auto& c : list_collections(client.get(), db, pool_->where())) collections_.push_back(std::move(c));
  }

  void dump_collection(engine::RunFrame& frame, const CollectionInfo& col, engine::ProgressItem& item) {
    auto client = pool_->acquire();
    auto files = layout_.collection(col.db, col.name);
    if (col.is_view) {
      // A view is its metadata only.
      write_metadata(client.get(), pool_->where(), col, layout_, files);
      frame.report().add_item(col.db, engine::ItemReport::verified_item(col.name, "view"));
      return;
    }
    engine::ItemSpec spec = collection_spec(col, &item, finished_key(col));
    // Metadata first: a file an earlier run finished keeps both as they are.
    spec.prepare = [&] { write_metadata(client.get(), pool_->where(), col, layout_, files); };
    spec.source = [&] { return std::make_unique<FindSource>(client.get(), col.db, col.name, pool_->where()); };
    layout_.write_documents(spec, files);
    frame.lifecycle().run(spec);
  }

  const DumpOptions& options_;
  archive::MongodumpLayout layout_{options_.out_dir, options_.gzip};
  std::optional<Uri> uri_;
  std::unique_ptr<ClientPool> pool_;
  std::vector<CollectionInfo> collections_;
};

}  // namespace

int dump(const DumpOptions& options) {
  MongoDump dump(options);
  return engine::run_in_frame({"mongo dump", "mongo-dump", "the same --source, --out and --gzip", options.run}, dump);
}

namespace {

struct DumpedCollection {
  CollectionInfo info;
  fs::path bson;  // empty for a view
  std::vector<Bson> index_specs;  // from the metadata, without the _id index
  bool timeseries = false;        // mongodump keeps its raw buckets, in system.buckets.NAME
};

[[noreturn]] void bad_metadata(const fs::path& file, const std::string& what) {
  throw Error(ExitCode::copy_failed, "the metadata file " + file.string() + " is not valid: " + what,
              "restore from an intact dump");
}

// A sub-document or array of `doc`, checked: metadata comes from files anyone can edit.
std::optional<Bson> sub_document(const bson_t* doc, const char* key, bool array, const fs::path& file) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key)) return std::nullopt;
  if (array ? !BSON_ITER_HOLDS_ARRAY(&it) : !BSON_ITER_HOLDS_DOCUMENT(&it))
    bad_metadata(file, std::string("\"") + key + "\" is not " + (array ? "an array" : "a document"));
  uint32_t len = 0;
  const uint8_t* data = nullptr;
  if (array)
    bson_iter_array(&it, &len, &data);
  else
    bson_iter_document(&it, &len, &data);
  return Bson(bson_new_from_data(data, len));
}

std::optional<std::string> string_field(const bson_t* doc, const char* key, const fs::path& file) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key)) return std::nullopt;
  if (!BSON_ITER_HOLDS_UTF8(&it)) bad_metadata(file, std::string("\"") + key + "\" is not a string");
  return std::string(bson_iter_utf8(&it, nullptr));
}

void read_metadata(const fs::path& file, DumpedCollection& d) {
  Bson meta;
  try {
    meta = Bson::from_json(archive::read_text_file(file));
  } catch (const Error& e) {
    bad_metadata(file, e.what());
  }
  // The collection's real name: the file name is escaped, and may be shortened.
  if (auto name = string_field(meta.get(), "collectionName", file)) d.info.name = *name;
  if (auto type = string_field(meta.get(), "type", file)) {
    d.info.is_view = *type == "view";
    d.timeseries = *type == "timeseries";
  }
  if (auto options = sub_document(meta.get(), "options", false, file)) d.info.options = std::move(*options);
  if (auto indexes = sub_document(meta.get(), "indexes", true, file)) {
    bson_iter_t idx;
    bson_iter_init(&idx, indexes->get());
    std::vector<Bson> specs;
    while (bson_iter_next(&idx)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&idx)) bad_metadata(file, "an index is not a document");
      uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_document(&idx, &len, &data);
      specs.emplace_back(bson_new_from_data(data, len));
    }
    for (auto& spec : without_default_id_index(std::move(specs))) d.index_specs.push_back(portable_index_spec(spec.get()));
  }
}

std::optional<std::string> strip_suffix(const std::string& name, const std::string& ending) {
  if (name.size() > ending.size() && name.compare(name.size() - ending.size(), ending.size(), ending) == 0)
    return name.substr(0, name.size() - ending.size());
  return std::nullopt;
}

// The collection files of one database's directory, as mongorestore reads them.
std::vector<DumpedCollection> read_dump_dir(const fs::path& dir, const std::string& db,
                                            std::vector<std::string>& left_out) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::map<std::string, DumpedCollection> by_file;  // keyed by the escaped file stem
  for (const auto& f : files) {
    std::string name = f.filename().string();
    auto meta = strip_suffix(name, ".metadata.json");
    if (!meta) meta = strip_suffix(name, ".metadata.json.gz");
    auto bson = strip_suffix(name, ".bson");
    if (!bson) bson = strip_suffix(name, ".bson.gz");
    if (meta) {
      read_metadata(f, by_file[*meta]);
    } else if (bson) {
      by_file[*bson].bson = f;
    } else if (name.rfind(".decant-", 0) == 0) {
      left_out.push_back(db + ": " + name + " (an unfinished file of an interrupted decant dump)");
    } else {
      left_out.push_back(db + ": " + name + " (not a collection file)");
    }
  }
  std::vector<DumpedCollection> out;
  for (auto& [stem, d] : by_file) {
    d.info.db = db;
    if (d.info.name.empty()) {
      auto name = archive::unescape_collection_name(stem);
      if (!name) throw Error(ExitCode::copy_failed, "cannot tell the collection of " + (dir / stem).string(),
                             "its name is not a valid escaped name and it has no metadata.json");
      d.info.name = *name;
    }
    if (d.timeseries)
      throw Error(ExitCode::copy_failed,
                  d.info.display() + " is a time-series collection: the dump holds its raw buckets, which decant "
                                     "cannot restore yet; nothing was changed",
                  "restore that database with mongorestore, or dump the collection with decant mongo dump");
    if (d.info.name.rfind("system.", 0) == 0 && d.info.name != "system.js") {
      left_out.push_back(d.info.display() + " (a system collection)");
      continue;
    }
    for (auto& spec : d.index_specs) d.info.indexes.push_back(Bson::copy_of(spec.get()));
    std::error_code ec;
    if (!d.bson.empty()) d.info.bytes = fs::file_size(d.bson, ec);
    out.push_back(std::move(d));
  }
  return out;
}

bool has_collection_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (e.is_regular_file() && n != "oplog.bson" &&
        (n.find(".bson") != std::string::npos || n.find(".metadata.json") != std::string::npos))
      return true;
  }
  return false;
}

bool has_database_dirs(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && has_collection_files(e.path())) return true;
  return false;
}

// Either a whole dump (one subdirectory per database, maybe with oplog.bson and
// prelude.json beside them), all of it or only its database `db`, or one database's
// directory, restored into the database it is named after (or `db`).
std::vector<DumpedCollection> read_dump(const fs::path& root, const std::optional<std::string>& db,
                                        std::vector<std::string>& left_out) {
  std::vector<DumpedCollection> collections;
  if (!has_database_dirs(root)) {
    fs::path named = root.filename().empty() ? root.parent_path() : root;
    return read_dump_dir(root, db.value_or(fs::absolute(named).lexically_normal().filename().string()), left_out);
  }
  std::vector<std::string> databases;  // the dump's, named when `db` is none of them
  for (const auto& e : fs::directory_iterator(root)) {
    std::string name = e.path().filename().string();
    if (!e.is_directory()) {
      if (name == "oplog.bson") left_out.push_back("oplog.bson (decant does not replay an oplog)");
      continue;
    }
    if (name == "admin" || name == "config" || name == "local") {
      left_out.push_back("database " + name + " (users, roles and server state are not restored)");
      continue;
    }
    if (has_collection_files(e.path())) databases.push_back(name);
    // --db picks one database of a whole dump; the others are not touched on the target.
    if (db && name != *db) continue;
    for (auto& c : read_dump_dir(e.path(), name, left_out)) collections.push_back(std::move(c));
  }
  if (db && std::find(databases.begin(), databases.end(), *db) == databases.end()) {
    std::sort(databases.begin(), databases.end());
    throw Error(ExitCode::usage,
                fmt::format("the dump {} has no database named {} (it has {}); nothing was changed", root.string(),
                            *db, fmt::join(databases, ", ")),
                "give one of them as --db, or no --db to restore every database of the dump");
  }
  return collections;
}

}  // namespace

// What a dump file was when a collection was restored from it: its size and time.
static nlohmann::json file_identity(const fs::path& file) {
  if (file.empty()) return nullptr;  // a collection with no documents file
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) return nullptr;
  auto time = fs::last_write_time(file, ec);
  if (ec) return nullptr;
  return {{"size", size}, {"mtime", time.time_since_epoch().count()}};
}

namespace {

class MongoRestore {
 public:
  explicit MongoRestore(const RestoreOptions& options) : options_(options) {}

  engine::Endpoints open() {
    uri_ = Uri::parse(options_.target, "target");
    return {options_.dir, uri_->display(),
            path_identity(options_.dir) + (options_.db ? " as " + *options_.db : "") + " -> " + uri_->display()};
  }

  int run(engine::RunFrame& frame) {
    pool_ = std::make_unique<ClientPool>(*uri_);
    parallelism_ = plan_parallelism(*uri_, frame.jobs());
    frame.limit_jobs(parallelism_.jobs);
    read_dump_directory(frame.report());
    check_target(frame);
    frame.start_writing();
    log::info("restoring {} collection(s) from {} to {}", collections_.size(), options_.dir, uri_->display());
    frame.run_tasks("restoring", [this, &frame](engine::TaskPool& tasks) {
      for (const auto& c : collections_) {
        if (c.info.is_view) continue;
        auto* item = &frame.progress().add(c.info.display(), c.info.bytes, engine::kDocuments);
        tasks.submit(1, [this, &frame, &c, item](int) { restore_collection(frame, c, *item); });
      }
    });
    {
      // Views last: they may read other views and collections.
      auto client = pool_->acquire();
      for (const auto& c : collections_)
        if (c.info.is_view) frame.report().add_item(c.info.db, create_view(client.get(), c.info, pool_->where()));
    }
    return frame.conclude("restore complete and verified", "run the same command with --drop, without --resume");
  }

 private:
  void read_dump_directory(engine::Report& report) {
    fs::path root(options_.dir);
    std::error_code ec;
    if (!fs::is_directory(root, ec))
      throw Error(ExitCode::usage, "the dump directory " + root.string() + " does not exist", "check --dir");
    std::vector<std::string> left_out;
    try {
      collections_ = read_dump(root, options_.db, left_out);
    } catch (const fs::filesystem_error& e) {
      throw Error(ExitCode::local_io, std::string("cannot read the dump: ") + e.what(), "check --dir and its permissions");
    }
    for (const auto& l : left_out) report.add_left_out(l);
    if (collections_.empty())
      throw Error(ExitCode::usage, "no .bson or .metadata.json files in " + root.string(),
                  "give the directory mongodump or decant mongo dump wrote");
  }

  // Refuses, before writing anything, a target that holds documents or a namespace a view
  // would replace.
  void check_target(engine::RunFrame& frame) {
    auto client = pool_->acquire();
    ping(client.get(), pool_->where());
    wire_version_ = max_wire_version(client.get(), pool_->where());
    std::vector<const CollectionInfo*> all;
    for (const auto& c : collections_) all.push_back(&c.info);
    require_privileges(client.get(), copy_target(all, false), pool_->where());
    bool resume = options_.run.resume;
    auto in_the_way = occupied_on_target(client.get(), all, resume ? &frame.state() : nullptr, pool_->where());
    if (in_the_way.empty() || options_.drop) return;
    throw Error(ExitCode::target_not_empty,
                fmt::format("the target already has documents in {}; nothing was changed", fmt::join(in_the_way, ", ")),
                resume ? "use --drop to drop and restore them again"
                       : "use --drop to replace them (as mongorestore --drop), or --resume to continue an "
                         "interrupted restore");
  }

  void restore_collection(engine::RunFrame& frame, const DumpedCollection& d, engine::ProgressItem& item) {
    auto client = pool_->acquire();
    auto spec = collection_item(d.info, client.get(), pool_->where(), item);
    spec.source_side = "the file";
    // Recorded before the drop, so that --resume knows a half-restored collection as its own.
    spec.prepare = [&] {
      frame.state().mark_done(started_key(d.info));
      drop_collection(client.get(), d.info.db, d.info.name, pool_->where());
      run_command(client.get(), d.info.db, create_command(d.info), pool_->where());
    };
    spec.source = [&]() -> std::unique_ptr<engine::RowSource> {
      if (d.bson.empty()) return std::make_unique<engine::EmptySource>();  // metadata only: no documents
      return std::make_unique<archive::BsonFileSource>(d.bson);
    };
    spec.sink = [&] {
      return make_insert_sink(client.get(), *pool_, d.info, d.info.bytes >= kParallelInsertBytes,
                              parallelism_.inserters);
    };
    spec.complete = [&] {
      if (!d.info.indexes.empty())
        run_command(client.get(), d.info.db, create_indexes_command(d.info, wire_version_), pool_->where());
    };
    // The dump file must still be the one an earlier run restored the collection from.
    spec.add_to_record = [&](nlohmann::json& record) { record["file"] = file_identity(d.bson); };
    spec.check_record = [&](const nlohmann::json& record) -> std::string {
      if (record.value("file", nlohmann::json()) == file_identity(d.bson)) return "";
      return "the dump file " + d.bson.string() + " changed since an earlier run restored it";
    };
    frame.lifecycle().run(spec);
  }

  const RestoreOptions& options_;
  std::optional<Uri> uri_;
  std::unique_ptr<ClientPool> pool_;
  InsertParallelism parallelism_;
  int wire_version_ = 0;
  std::vector<DumpedCollection> collections_;
};

}  // namespace

int restore(const RestoreOptions& options) {
  MongoRestore restore(options);
  return engine::run_in_frame({"mongo restore", "mongo-restore", "the same --dir, --db and --target", options.run}, restore);
}

}  // namespace decant::mongo
