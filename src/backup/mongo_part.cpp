#include "backup/mongo_part.hpp"

#include <fmt/format.h>

#include <map>

#include "backup/chunks.hpp"
#include "common/error.hpp"
#include "engine/run_frame.hpp"
#include "engine/item_lifecycle.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "mongo/catalog.hpp"
#include "mongo/client.hpp"
#include "mongo/document_stream.hpp"
#include "mongo/dump_restore.hpp"
#include "mongo/privileges.hpp"
#include "archive/bson_file.hpp"
#include "archive/mongodump_layout.hpp"

namespace decant::mongo {
// The manifest's names are the members' own; a field a later version adds reads as empty
// from an older manifest.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ServerIdentity, process_id, host, pid, started_ms, set_name, hosts)
}  // namespace decant::mongo

namespace decant::backup {
using nlohmann::json;
using mongo::Bson;
using mongo::CollectionInfo;

namespace {

constexpr uint64_t kParallelInsertDocuments = 20000;

// A collection's options and indexes as the manifest keeps them: canonical extended JSON,
// which gives back every BSON type exactly.
json collection_metadata(const CollectionInfo& c) {
  json indexes = json::array();
  for (const auto& i : c.indexes) indexes.push_back(i.json());
  return {{"options", c.options.json()}, {"indexes", indexes}};
}

CollectionInfo collection_from_entry(const ItemEntry& e) {
  CollectionInfo c;
  c.db = e.group;
  c.name = e.name;
  c.is_view = e.kind == "view";
  try {
    c.options = Bson::from_json(e.metadata.at("options").get<std::string>());
    for (const auto& i : e.metadata.at("indexes")) c.indexes.push_back(Bson::from_json(i.get<std::string>()));
  } catch (const std::exception& x) {
    throw Error(ExitCode::backup_manifest, fmt::format("the manifest's metadata of {} is not valid: {}", e.display(), x.what()),
                "restore another backup (decant backup list)");
  }
  c.documents = e.rows;
  c.bytes = e.raw_bytes;
  return c;
}

ArchiveItem archive_item(const CollectionInfo& c) {
  return {"mongo", c.db, c.name, c.is_view ? "view" : "collection", collection_metadata(c), Framing::bson};
}

std::string resume_key(const CollectionInfo& c) { return "mongo/" + mongo::finished_key(c); }

json identity_json(const mongo::ServerIdentity& id) { return id; }
mongo::ServerIdentity identity_from_json(const json& j) { return j.get<mongo::ServerIdentity>(); }

}  // namespace

namespace {

struct MongoBackupState {
  mongo::Uri uri;
  mongo::ClientPool pool;
  std::vector<CollectionInfo> collections;
  std::map<std::string, uint64_t> counts_before;
  json description;
  explicit MongoBackupState(const std::string& text) : uri(mongo::Uri::parse(text, "MongoDB source")), pool(uri) {}
};

class MongoBackup final : public BackupSource {
 public:
  // Connects and lists what `databases` hold (all but admin, local, config when empty).
  MongoBackup(const std::string& uri, const std::vector<std::string>& databases);
  std::string display() const override { return state_.uri.display(); }
  std::string engine() const override { return "mongo"; }
  nlohmann::json source_description() const override { return state_.description; }
  // One task per collection; `after` records the views and checks that the source's
  // document counts did not change since the backup began (a resumed backup compares with
  // its first run's counts).
  Tasks tasks(const CreateContext& ctx, engine::RunFrame& frame) override;
  std::vector<ItemEntry> entries(const engine::ResumeState& state) const override;

 private:
  using State = MongoBackupState;
  State state_;
};

}  // namespace

MongoBackup::MongoBackup(const std::string& uri, const std::vector<std::string>& databases)
    : state_(uri) {
  auto client = state_.pool.acquire();
  const std::string& where = state_.pool.where();
  mongo::ping(client.get(), where);
  for (const auto& db : mongo::list_databases(client.get(), databases, where))
    for (auto& c : mongo::list_collections(client.get(), db, where)) state_.collections.push_back(std::move(c));
  state_.counts_before = mongo::stored_document_counts(client.get(), state_.collections, where);
  state_.description = {{"address", state_.uri.display()},
                         {"version", mongo::server_version(client.get(), where)},
                         {"identity", identity_json(mongo::identify_server(client.get(), where))},
                         {"databases", databases},
                         // FerretDB has no cluster time: the backup's point is when it began, with
                         // the document counts checked unchanged at its end.
                         {"started", utc_now_iso()}};
}


Tasks MongoBackup::tasks(const CreateContext& ctx, engine::RunFrame& frame) {
  Tasks t;
  State& st = state_;
  if (auto counted = ctx.state.get("mongo-counts"))
    st.counts_before = counted->get<std::map<std::string, uint64_t>>();
  else
    ctx.state.mark_done("mongo-counts", st.counts_before);
  engine::ItemLifecycle& lifecycle = frame.lifecycle();
  engine::ProgressBoard& progress = frame.progress();
  engine::Report& report = frame.report();
  for (const auto& c : st.collections) {
    if (c.is_view) continue;
    auto* item = &progress.add(c.display(), c.bytes, engine::kDocuments);
    t.work.push_back({c.db, [&ctx, &lifecycle, &st, item, &c](int) {
      auto client = st.pool.acquire();
      engine::ItemSpec spec = mongo::collection_spec(c, item, resume_key(c));
      spec.source = [&] { return std::make_unique<mongo::FindSource>(client.get(), c.db, c.name, st.pool.where()); };
      write_to_backup(spec, ctx, archive_item(c));
      lifecycle.run(spec);
    }});
  }
  t.after = [&st, &report] {
    auto client = st.pool.acquire();
    for (const auto& c : st.collections) {
      if (!c.is_view) continue;
      report.add_item(c.db, engine::ItemReport::verified_item(c.name, "view"));
    }
    std::string changed =
        mongo::changed_counts(st.counts_before, mongo::stored_document_counts(client.get(), st.collections, st.pool.where()));
    report.add_check("MongoDB source unchanged during the backup", changed.empty(),
                     changed.empty() ? ""
                                     : "document counts changed in " + changed +
                                           ": the backup is not one point in time; stop the writers (kubectl scale "
                                           "deploy -l layer=application --replicas=0) and back up again");
  };
  return t;
}

std::vector<ItemEntry> MongoBackup::entries(const engine::ResumeState& state) const {
  std::vector<ItemEntry> out;
  for (const auto& c : state_.collections) {
    if (c.is_view) {
      out.push_back(metadata_entry(archive_item(c)));
    } else if (auto e = finished_entry(state, resume_key(c), archive_item(c))) {
      out.push_back(std::move(*e));
    } else {
      throw Error(ExitCode::internal, "the collection " + c.display() + " was not backed up");
    }
  }
  return out;
}

struct MongoRestore::State {
  mongo::Uri uri;
  mongo::ClientPool pool;
  std::vector<const ItemEntry*> entries;
  std::vector<CollectionInfo> collections;  // the entries', in order
  mongo::InsertParallelism parallelism;
  int wire_version = 0;
  State(const std::string& text) : uri(mongo::Uri::parse(text, "MongoDB target")), pool(uri) {}
};

MongoRestore::MongoRestore(const std::string& uri, const std::vector<const ItemEntry*>& items)
    : state_(std::make_unique<State>(uri)) {
  state_->entries = items;
  for (const auto* e : items) state_->collections.push_back(collection_from_entry(*e));
}

MongoRestore::~MongoRestore() = default;

std::string MongoRestore::display() const { return state_->uri.display(); }

void MongoRestore::check_target(bool drop, bool resuming, const engine::ResumeState& state,
                                const json* refuse_source) {
  State& st = *state_;
  auto client = st.pool.acquire();
  mongo::ping(client.get(), st.pool.where());
  st.wire_version = mongo::max_wire_version(client.get(), st.pool.where());
  if (refuse_source && refuse_source->contains("identity")) {
    auto source = identity_from_json(refuse_source->at("identity"));
    if (auto why = mongo::same_server(source, mongo::identify_server(client.get(), st.pool.where())))
      throw Error(ExitCode::same_server,
                  "the scratch server " + st.uri.display() + " is the server this backup was taken from (" + *why +
                      "); nothing was written",
                  "give a throwaway MongoDB server to --restore-mongo");
  }
  std::vector<const CollectionInfo*> all;
  for (const auto& c : st.collections) all.push_back(&c);
  mongo::require_privileges(client.get(), mongo::copy_target(all, false), st.pool.where());
  auto in_the_way = mongo::occupied_on_target(client.get(), all, resuming ? &state : nullptr, st.pool.where());
  if (!in_the_way.empty() && !drop)
    throw Error(ExitCode::target_not_empty,
                fmt::format("the MongoDB target already has documents in {}; nothing was changed",
                            fmt::join(in_the_way, ", ")),
                "use --drop to replace them, or --resume to continue an interrupted restore");
}

Tasks MongoRestore::tasks(const RestoreContext& ctx) {
  State& st = *state_;
  st.parallelism = mongo::plan_parallelism(st.uri, ctx.jobs);
  Tasks t;
  for (size_t i = 0; i < st.collections.size(); ++i) {
    const CollectionInfo& c = st.collections[i];
    if (c.is_view) continue;
    const ItemEntry& entry = *st.entries[i];
    auto* item = &ctx.progress.add(c.display(), entry.raw_bytes, engine::kDocuments);
    t.work.push_back({c.db, [&ctx, &st, &c, &entry, item](int) {
      auto client = st.pool.acquire();
      const std::string& where = st.pool.where();
      auto spec = mongo::collection_item(c, client.get(), where, *item);
      spec.resume_key = "mongo/" + spec.resume_key;
      spec.source_side = "the backup";
      spec.prepare = [&] {
        ctx.state.mark_done("mongo/" + mongo::started_key(c));
        mongo::drop_collection(client.get(), c.db, c.name, where);
        mongo::run_command(client.get(), c.db, mongo::create_command(c), where);
      };
      spec.source = [&] { return std::make_unique<ChunkReader>(ctx.repo, entry, ctx.keys); };
      spec.sink = [&] {
        return mongo::make_insert_sink(client.get(), st.pool, c, c.documents >= kParallelInsertDocuments,
                                       st.parallelism.inserters);
      };
      spec.complete = [&] {
        if (!c.indexes.empty()) mongo::run_command(client.get(), c.db, mongo::create_indexes_command(c, st.wire_version), where);
      };
      ctx.lifecycle.run(spec);
    }});
  }
  t.after = [&ctx, &st] {
    auto client = st.pool.acquire();
    for (const auto& c : st.collections)
      if (c.is_view) ctx.report.add_item(c.db, mongo::create_view(client.get(), c, st.pool.where()));
  };
  return t;
}

Tasks export_mongodump(const std::vector<const ItemEntry*>& items, const std::string& out_dir, const RestoreContext& ctx) {
  Tasks t;
  auto layout = std::make_shared<archive::MongodumpLayout>(out_dir, false);
  for (const ItemEntry* entry : items) {
    auto* item = entry->kind == "view" ? nullptr : &ctx.progress.add(entry->display(), entry->raw_bytes, engine::kDocuments);
    t.work.push_back({entry->group, [&ctx, entry, item, layout](int) {
      CollectionInfo c = collection_from_entry(*entry);
      if (!archive::is_directory_name(c.db))
        throw Error(ExitCode::backup_manifest, "the manifest names a database that is not a directory name: " + c.db,
                    "restore another backup");
      auto files = layout->collection(c.db, c.name);
      layout->write_metadata(files, mongo::dump_metadata_json(c, c.indexes, ""));
      if (c.is_view) {
        ctx.report.add_item(c.db, engine::ItemReport::verified_item(c.name, "view"));
        return;
      }
      engine::ItemSpec spec = mongo::collection_spec(c, item, "export/" + mongo::finished_key(c));
      spec.source_side = "the backup";
      spec.source = [&] { return std::make_unique<ChunkReader>(ctx.repo, *entry, ctx.keys); };
      layout->write_documents(spec, files);
      ctx.lifecycle.run(spec);
    }});
  }
  return t;
}

std::unique_ptr<BackupSource> open_mongo_backup(const std::string& uri, const std::vector<std::string>& databases) {
  return std::make_unique<MongoBackup>(uri, databases);
}

}  // namespace decant::backup
