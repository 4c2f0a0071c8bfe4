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
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/signals.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/stream.hpp"
#include "engine/task_pool.hpp"
#include "mongo/catalog.hpp"
#include "mongo/client.hpp"
#include "mongo/document_stream.hpp"

namespace decant::mongo {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int resolve_jobs(int jobs) { return jobs > 0 ? jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::string suffix(bool gzip) { return gzip ? ".gz" : ""; }

// The metadata.json mongodump writes: options, indexes (the _id index included), uuid,
// collectionName, type; canonical extended JSON.
std::string metadata_json(const CollectionInfo& c, const std::vector<Bson>& index_specs, const std::string& uuid) {
  std::string indexes = "[";
  for (size_t i = 0; i < index_specs.size(); ++i) indexes += (i ? "," : "") + index_specs[i].json();
  indexes += "]";
  return fmt::format(R"({{"indexes":{},"uuid":"{}","collectionName":{},"type":"{}","options":{}}})", indexes, uuid,
                     nlohmann::json(c.name).dump(), c.is_view ? "view" : "collection", c.options.json());
}

// Runs `work` for each item in a task pool, with progress on a terminal or in log lines,
// and prints the summary; returns the exit code (8 when anything differs).
int run_jobs(int jobs, std::chrono::milliseconds interval, engine::ProgressBoard& progress, engine::Report& report,
             const std::string& phase, const std::vector<std::function<void()>>& work, Clock::time_point started,
             const std::string& done_message) {
  progress.set_phase(phase);
  bool tty = isatty(STDOUT_FILENO) != 0;
  progress.start(tty, tty ? std::chrono::milliseconds(500) : interval);
  {
    engine::TaskPool pool(resolve_jobs(jobs));
    for (const auto& w : work) pool.submit(1, [w](int) { w(); });
    try {
      pool.wait();
    } catch (...) {
      progress.stop();
      throw;
    }
  }
  progress.stop();
  engine::conclude(report, seconds_since(started), done_message, "run the command again");
  return 0;
}

}  // namespace

int dump(const DumpOptions& options) {
  Uri uri = Uri::parse(options.source, "source");
  ClientPool pool(uri);
  engine::Report report("mongo dump", uri.display(), options.out_dir);
  engine::ProgressBoard progress;
  auto started = Clock::now();
  return engine::run_reported(options.report_path, report, [&] {
    std::vector<CollectionInfo> collections;
    {
      auto client = pool.acquire();
      Bson ping;
      BSON_APPEND_INT32(ping.get(), "ping", 1);
      run_command(client.get(), "admin", ping, pool.where());
      for (const auto& db : list_databases(client.get(), options.databases, pool.where()))
        for (auto& c : list_collections(client.get(), db, pool.where())) collections.push_back(std::move(c));
    }
    std::vector<std::function<void()>> work;
    for (const auto& c : collections) {
      auto* item = &progress.add(c.display(), c.bytes);
      work.push_back([&, item, c_ptr = &c] {
        const CollectionInfo& col = *c_ptr;
        auto client = pool.acquire();
        fs::path dir = fs::path(options.out_dir) / col.db;
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
          throw Error(ExitCode::local_io, "cannot create " + dir.string() + ": " + ec.message(), "check --out");
        auto specs = col.is_view ? std::vector<Bson>{} : list_index_specs(client.get(), col.db, col.name, pool.where());
        std::string uuid = collection_uuid(client.get(), col.db, col.name, pool.where());
        archive::write_text_file(dir / (col.name + ".metadata.json" + suffix(options.gzip)),
                                 metadata_json(col, specs, uuid), options.gzip);
        engine::ItemReport r;
        r.name = col.name;
        r.kind = col.is_view ? "view" : "collection";
        if (col.is_view) {
          r.verified = true;
          report.add_item(col.db, r);
          return;
        }
        item->begin();
        auto t0 = Clock::now();
        fs::path file = dir / (col.name + ".bson" + suffix(options.gzip));
        engine::PumpResult moved;
        uint64_t written = 0;
        {
          FindSource source(client.get(), col.db, col.name, pool.where());
          archive::BsonFileSink sink(file, options.gzip);
          moved = engine::pump(source, sink, item);
          written = sink.finish();
        }
        // Verification: read the file back, as mongorestore will.
        archive::BsonFileSource readback(file);
        RowDigest on_disk = engine::digest_of(readback);
        r.rows = moved.digest.rows();
        r.bytes = moved.bytes;
        r.seconds = seconds_since(t0);
        r.source_digest = moved.digest.hex();
        r.target_digest = on_disk.hex();
        r.verified = moved.digest == on_disk && written == moved.digest.rows();
        if (!r.verified) r.problem = fmt::format("{} documents read, the file holds {}", r.rows, on_disk.rows());
        report.add_item(col.db, r);
        item->finish();
      });
    }
    log::info("dumping {} collection(s) from {} to {}", collections.size(), uri.display(), options.out_dir);
    return run_jobs(options.jobs, options.progress_interval, progress, report, "dumping", work, started,
                    "dump complete and verified");
  });
}

namespace {

struct DumpedCollection {
  CollectionInfo info;
  fs::path bson;  // empty for a view
  std::vector<Bson> index_specs;  // from the metadata, without the _id index
};

// Reads DB/COLL.metadata.json(.gz) and DB/COLL.bson(.gz) in `dir`, as mongorestore does.
std::vector<DumpedCollection> read_dump_dir(const fs::path& dir, const std::string& db) {
  std::vector<DumpedCollection> out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  auto strip = [](std::string name, const std::string& ending) {
    return name.size() > ending.size() && name.compare(name.size() - ending.size(), ending.size(), ending) == 0
               ? std::optional<std::string>(name.substr(0, name.size() - ending.size()))
               : std::nullopt;
  };
  std::map<std::string, DumpedCollection> by_name;
  for (const auto& f : files) {
    std::string name = f.filename().string();
    if (auto c = strip(name, ".metadata.json").value_or(strip(name, ".metadata.json.gz").value_or(""));
        !c.empty()) {
      auto& d = by_name[c];
      d.info.db = db;
      d.info.name = c;
      Bson meta = Bson::from_json(archive::read_text_file(f));
      bson_iter_t it;
      if (bson_iter_init_find(&it, meta.get(), "options") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len = 0;
        const uint8_t* data = nullptr;
        bson_iter_document(&it, &len, &data);
        d.info.options = Bson(bson_new_from_data(data, len));
      }
      if (bson_iter_init_find(&it, meta.get(), "type") && BSON_ITER_HOLDS_UTF8(&it))
        d.info.is_view = std::string(bson_iter_utf8(&it, nullptr)) == "view";
      bson_iter_t idx;
      if (bson_iter_init_find(&it, meta.get(), "indexes") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &idx))
        while (bson_iter_next(&idx)) {
          uint32_t len = 0;
          const uint8_t* data = nullptr;
          bson_iter_document(&idx, &len, &data);
          Bson spec(bson_new_from_data(data, len));
          bson_iter_t n;
          if (bson_iter_init_find(&n, spec.get(), "name") && std::string(bson_iter_utf8(&n, nullptr)) == "_id_")
            continue;
          Bson portable;
          bson_copy_to_excluding_noinit(spec.get(), portable.get(), "v", "ns", "background", nullptr);
          d.index_specs.push_back(std::move(portable));
        }
    } else if (auto b = strip(name, ".bson").value_or(strip(name, ".bson.gz").value_or("")); !b.empty()) {
      auto& d = by_name[b];
      d.info.db = db;
      d.info.name = b;
      d.bson = f;
    }
  }
  for (auto& [name, d] : by_name) {
    if (name.rfind("system.", 0) == 0) continue;
    for (auto& spec : d.index_specs) d.info.indexes.push_back(Bson::copy_of(spec.get()));
    std::error_code ec;
    if (!d.bson.empty()) d.info.bytes = fs::file_size(d.bson, ec);
    out.push_back(std::move(d));
  }
  return out;
}

bool holds_bson_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.find(".bson") != std::string::npos || n.find(".metadata.json") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

int restore(const RestoreOptions& options) {
  Uri uri = Uri::parse(options.target, "target");
  ClientPool pool(uri);
  engine::Report report("mongo restore", options.dir, uri.display());
  engine::ProgressBoard progress;
  auto started = Clock::now();
  return engine::run_reported(options.report_path, report, [&] {
    fs::path root(options.dir);
    std::error_code ec;
    if (!fs::is_directory(root, ec))
      throw Error(ExitCode::usage, "the dump directory " + root.string() + " does not exist", "check --dir");
    // Either a whole dump (one subdirectory per database) or one database's directory,
    // restored into the database it is named after (or --db).
    std::vector<DumpedCollection> collections;
    if (holds_bson_files(root)) {
      collections = read_dump_dir(root, options.db.value_or(fs::absolute(root).lexically_normal().filename().string()));
    } else {
      for (const auto& e : fs::directory_iterator(root))
        if (e.is_directory() && e.path().filename() != "admin" && e.path().filename() != "config" &&
            e.path().filename() != "local")
          for (auto& c : read_dump_dir(e.path(), e.path().filename().string())) collections.push_back(std::move(c));
    }
    if (collections.empty())
      throw Error(ExitCode::usage, "no .bson or .metadata.json files in " + root.string(),
                  "give the directory mongodump or decant mongo dump wrote");
    {
      auto client = pool.acquire();
      Bson ping;
      BSON_APPEND_INT32(ping.get(), "ping", 1);
      run_command(client.get(), "admin", ping, pool.where());
      std::vector<std::string> non_empty;
      for (const auto& c : collections)
        if (!c.info.is_view && count_documents(client.get(), c.info.db, c.info.name, pool.where()) > 0)
          non_empty.push_back(c.info.display());
      if (!non_empty.empty() && !options.drop)
        throw Error(ExitCode::target_not_empty,
                    fmt::format("the target already has documents in {}; nothing was changed",
                                fmt::join(non_empty, ", ")),
                    "use --drop to replace them (as mongorestore --drop)");
    }
    std::vector<std::function<void()>> work;
    for (const auto& c : collections) {
      if (c.info.is_view) continue;
      auto* item = &progress.add(c.info.display(), c.info.bytes);
      work.push_back([&, item, c_ptr = &c] {
        const auto& d = *c_ptr;
        auto client = pool.acquire();
        engine::ItemReport r;
        r.name = d.info.name;
        r.kind = "collection";
        item->begin();
        auto t0 = Clock::now();
        drop_collection(client.get(), d.info.db, d.info.name, pool.where());
        run_command(client.get(), d.info.db, create_command(d.info), pool.where());
        engine::PumpResult moved;
        uint64_t stored = 0;
        if (!d.bson.empty()) {
          archive::BsonFileSource source(d.bson);
          InsertSink sink(client.get(), d.info.db, d.info.name, pool.where());
          moved = engine::pump(source, sink, item);
          stored = sink.finish();
        }
        if (!d.info.indexes.empty())
          run_command(client.get(), d.info.db, create_indexes_command(d.info), pool.where());
        FindSource readback(client.get(), d.info.db, d.info.name, pool.where());
        RowDigest held = engine::digest_of(readback);
        bool indexes_match = index_fingerprints(d.index_specs) ==
                             index_fingerprints(list_indexes(client.get(), d.info.db, d.info.name, pool.where()));
        r.rows = moved.digest.rows();
        r.bytes = moved.bytes;
        r.seconds = seconds_since(t0);
        r.source_digest = moved.digest.hex();
        r.target_digest = held.hex();
        r.verified = moved.digest == held && stored == moved.digest.rows() && indexes_match;
        if (!r.verified)
          r.problem = !indexes_match ? "the index sets differ"
                                     : fmt::format("the file holds {} documents, the target {}", r.rows, held.rows());
        report.add_item(d.info.db, r);
        item->finish();
      });
    }
    log::info("restoring {} collection(s) from {} to {}", collections.size(), options.dir, uri.display());
    int code = run_jobs(options.jobs, options.progress_interval, progress, report, "restoring", work, started,
                        "restore complete and verified");
    // Views last, once what they read exists.
    auto client = pool.acquire();
    for (const auto& c : collections)
      if (c.info.is_view) {
        drop_collection(client.get(), c.info.db, c.info.name, pool.where());
        run_command(client.get(), c.info.db, create_command(c.info), pool.where());
      }
    return code;
  });
}

}  // namespace decant::mongo
