#include "mongo/instance_copy.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

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
#include "mongo/target_journal.hpp"

namespace decant::mongo {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kParallelInsertDocuments = 20000;

class MongoCopy {
 public:
  explicit MongoCopy(const CopyOptions& options) : options_(options), jobs_(engine::resolve_jobs(options.run.jobs)) {}

  // The ends of the copy, parsed (a malformed URI is a usage error).
  engine::Endpoints open();
  // A run with --resume; never a preflight, which has no frame.
  bool resuming() const { return frame_ && frame_->resuming(); }
  int run(engine::RunFrame& frame);
  CopyPreflight preflight();

 private:
  void connect();
  void plan();
  void check_targets();
  void copy_collection(const CollectionInfo& c, engine::ProgressItem& progress);
  void check_source_unchanged();

  const CopyOptions& options_;
  std::optional<Uri> source_uri_;
  std::optional<Uri> target_uri_;
  std::unique_ptr<ClientPool> source_pool_;
  std::unique_ptr<ClientPool> target_pool_;
  int jobs_;
  int inserters_ = 1;  // per large collection, within the target pool's size
  int target_wire_version_ = 0;
  engine::RunFrame* frame_ = nullptr;  // of run(); preflight() writes nothing and has none
  std::vector<CollectionInfo> collections_;
  std::map<std::string, uint64_t> counts_before_;  // the source's, by DB.COLL
  std::string privileges_;                         // how the target login's check went
};

engine::Endpoints MongoCopy::open() {
  source_uri_ = Uri::parse(options_.source, "source");
  target_uri_ = Uri::parse(options_.target, "target");
  return {source_uri_->display(), target_uri_->display(), source_uri_->display() + " -> " + target_uri_->display(),
          [this] { return target_journal(*target_uri_); }};
}

void MongoCopy::connect() {
  // Never more tasks than the source pool can lend either.
  int source_pool_size = std::max(1, mongoc_uri_get_option_as_int32(source_uri_->get(), MONGOC_URI_MAXPOOLSIZE, 100));
  auto parallelism = plan_parallelism(*target_uri_, std::min(jobs_, source_pool_size));
  jobs_ = parallelism.jobs;
  inserters_ = parallelism.inserters;
  source_pool_ = std::make_unique<ClientPool>(*source_uri_);
  target_pool_ = std::make_unique<ClientPool>(*target_uri_);
}

void MongoCopy::plan() {
  auto src = source_pool_->acquire();
  auto tgt = target_pool_->acquire();
  // Reach both servers before anything else, so that a bad URI, host or password is
  // reported before any work.
  ping(src.get(), source_pool_->where());
  ping(tgt.get(), target_pool_->where());
  // Before anything is written (--drop would drop the source's own collections): the
  // servers are compared by what they say about themselves, not by their addresses.
  if (auto same = same_server(identify_server(src.get(), source_pool_->where()),
                              identify_server(tgt.get(), target_pool_->where())))
    throw Error(ExitCode::same_server,
                fmt::format("the target {} is the source {} ({}); nothing was written", target_uri_->display(),
                            source_uri_->display(), *same),
                "give the external server as --target");
  target_wire_version_ = max_wire_version(tgt.get(), target_pool_->where());
  for (const auto& db : list_databases(src.get(), options_.databases, source_pool_->where()))
    for (auto& c : list_collections(src.get(), db, source_pool_->where())) collections_.push_back(std::move(c));
  counts_before_ = stored_document_counts(src.get(), collections_, source_pool_->where());
}

// MongoDB reads take no snapshot: a source written to during the copy is caught by its
// collections' document counts, taken before and after.
void MongoCopy::check_source_unchanged() {
  auto src = source_pool_->acquire();
  std::string changed =
      changed_counts(counts_before_, stored_document_counts(src.get(), collections_, source_pool_->where()));
  frame_->report().add_check("source unchanged during the copy", changed.empty(),
                    changed.empty() ? ""
                                    : "the source changed during the copy, document counts of " + changed +
                                          ": the runbook scales the applications to zero first (kubectl scale "
                                          "deploy -l layer=application --replicas=0), then copy again with --drop");
}

// Refuses, before anything is written, a target login short of a privilege the copy needs,
// and target collections that hold documents.
void MongoCopy::check_targets() {
  auto tgt = target_pool_->acquire();
  std::vector<const CollectionInfo*> all;
  for (const auto& c : collections_) all.push_back(&c);
  privileges_ = require_privileges(tgt.get(), copy_target(all, options_.run.state_on_target), target_pool_->where());
  auto non_empty = occupied_on_target(tgt.get(), all, resuming() ? &frame_->state() : nullptr, target_pool_->where());
  if (non_empty.empty() || options_.drop) return;
  throw Error(ExitCode::target_not_empty,
              fmt::format("the target already has documents in {} collection(s): {}; nothing was changed",
                          non_empty.size(), fmt::join(non_empty.begin(), non_empty.begin() + std::min<size_t>(5, non_empty.size()), ", ")),
              resuming() ? "use --drop to drop and copy them again"
                              : "use --drop to replace them, or --resume to continue an interrupted copy");
}

void MongoCopy::copy_collection(const CollectionInfo& c, engine::ProgressItem& progress) {
  auto src = source_pool_->acquire();
  auto tgt = target_pool_->acquire();
  const std::string& from = source_pool_->where();
  const std::string& to = target_pool_->where();
  auto item = collection_item(c, tgt.get(), to, progress);
  item.target_side = "the target";
  // A collection an earlier run left half-copied, or one --drop replaces, starts afresh;
  // recorded first, so that --resume knows the half-copied one as its own.
  item.prepare = [&] {
    frame_->state().mark_done(started_key(c));
    drop_collection(tgt.get(), c.db, c.name, to);
    run_command(tgt.get(), c.db, create_command(c), to);
  };
  item.source = [&] { return std::make_unique<FindSource>(src.get(), c.db, c.name, from); };
  item.sink = [&] {
    return make_insert_sink(tgt.get(), *target_pool_, c, c.documents >= kParallelInsertDocuments, inserters_);
  };
  // Indexes after the data, as mongorestore does: one build per index instead of
  // maintaining them through every insert.
  item.complete = [&] {
    if (!c.indexes.empty()) run_command(tgt.get(), c.db, create_indexes_command(c, target_wire_version_), to);
  };
  frame_->lifecycle().run(item);
}

int MongoCopy::run(engine::RunFrame& frame) {
  frame_ = &frame;
  connect();
  frame.limit_jobs(jobs_);
  plan();
  check_targets();
  frame.start_writing();
  log::info("copying {} collection(s) from {} to {} with {} jobs", collections_.size(), source_uri_->display(),
            target_uri_->display(), frame.jobs());

  frame.run_tasks("copying documents", [this](engine::TaskPool& pool) {
    for (const auto& c : collections_) {
      if (c.is_view) continue;
      auto& item = frame_->progress().add(c.display(), c.bytes, engine::kDocuments);
      pool.submit(1, [this, &c, &item](int) { copy_collection(c, item); });
    }
  });
  // Views last: they may read other views and collections.
  {
    auto tgt = target_pool_->acquire();
    for (const auto& c : collections_)
      if (c.is_view) frame.report().add_item(c.db, create_view(tgt.get(), c, target_pool_->where()));
  }
  check_source_unchanged();
  return frame.conclude("copy complete and verified", "run with --drop to copy again");
}

CopyPreflight MongoCopy::preflight() {
  open();
  connect();
  plan();
  check_targets();
  CopyPreflight out;
  {
    auto src = source_pool_->acquire();
    auto tgt = target_pool_->acquire();
    out.source_version = server_version(src.get(), source_pool_->where());
    out.target_version = server_version(tgt.get(), target_pool_->where());
  }
  out.target_privileges = privileges_;
  for (const auto& c : collections_) {
    if (c.is_view) continue;
    auto counted = counts_before_.find(c.display());
    CollectionSummary summary{c.display(), c.bytes, counted != counts_before_.end() ? counted->second : c.documents};
    out.bytes += summary.bytes;
    out.documents += summary.documents;
    out.collections.push_back(std::move(summary));
  }
  return out;
}

}  // namespace

// Without a frame: nothing is resumed or written.
CopyPreflight preflight_copy(const CopyOptions& options) { return MongoCopy(options).preflight(); }

int copy_instance(const CopyOptions& options) {
  return engine::run_in_frame({"mongo copy", "mongo-copy", "the same --source and --target", options.run},
                              MongoCopy(options));
}

}  // namespace decant::mongo
