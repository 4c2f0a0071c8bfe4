// `backup create`: both engines' items into chunks in one pool, then the manifest, then the
// index entry that says the backup is complete.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/keys.hpp"
#include "backup/manifest.hpp"
#include "backup/mongo_part.hpp"
#include "backup/parts.hpp"
#include "backup/pg_part.hpp"
#include "backup/repository.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "engine/run_frame.hpp"

namespace decant::backup {
using nlohmann::json;

namespace {

// A create run without --resume replaces an interrupted one of the same sources: that
// backup will never finish, so its index entry says so and prune may remove it.
void abandon_interrupted(engine::ResumeState& state, Repository& repo) {
  if (!state.exists()) return;
  try {
    state.load();
  } catch (const Error&) {
    return;
  }
  auto recorded = state.get("backup");
  if (!recorded) return;
  auto entry = load_index(repo, recorded->value("id", ""));
  if (!entry || entry->state != "writing") return;
  entry->state = "abandoned";
  store_index(repo, *entry);
  log::info("backup {} was interrupted and is replaced by a new one: marked abandoned", entry->id);
}

// The backup's index entry: the interrupted one --resume continues, or a new one listed as
// being written before any chunk exists (prune leaves it alone).
IndexEntry begin_backup(engine::RunFrame& frame, Repository& repo, const CreateOptions& options,
                        const std::vector<std::string>& engines, const std::vector<std::string>& fingerprints) {
  engine::ResumeState& state = frame.state();
  IndexEntry entry;
  if (frame.resuming()) {
    auto recorded = state.get("backup");
    if (!recorded) throw Error(ExitCode::nothing_to_resume, "no interrupted backup to resume", "run without --resume");
    entry = index_from_json(*recorded);
    if (entry.recipients != fingerprints)
      throw Error(ExitCode::usage, "backup " + entry.id + " was begun for other recipients",
                  "resume with the same --recipient keys, or run without --resume");
    return entry;
  }
  abandon_interrupted(state, repo);
  frame.start_writing();
  entry.id = new_backup_id();
  entry.created = utc_now_iso();
  entry.reason = options.reason;
  entry.engines = engines;
  entry.recipients = fingerprints;
  store_index(repo, entry);
  state.mark_done("backup", to_json(entry));
  return entry;
}

// The chunks are all stored; then the chunk list and the manifest; only then is the backup
// complete.
void complete_backup(Repository& repo, IndexEntry& entry, const Manifest& manifest,
                     const std::vector<crypto::AgeRecipient>& recipients, engine::Report& report) {
  repo.put(chunks_key(entry.id), chunk_list(manifest).dump() + "\n");
  store_manifest(repo, manifest, recipients);
  entry.state = "complete";
  entry.items = manifest.items.size();
  for (const auto& i : manifest.items) {
    entry.rows += i.rows;
    entry.raw_bytes += i.raw_bytes;
    for (const auto& c : i.chunks) entry.stored_bytes += c.size;
  }
  store_index(repo, entry);
  report.add_note(fmt::format("backup {}: {} item(s), {} rows, {} of data stored as {}", entry.id, entry.items,
                              entry.rows, engine::human_bytes(entry.raw_bytes), engine::human_bytes(entry.stored_bytes)));
}

// The backup of one run: its sources and repository, opened first; then the items in one
// pool, the manifest and the index entry.
class BackupCreate {
 public:
  explicit BackupCreate(const CreateOptions& options) : options_(options) {}

  engine::Endpoints open() {
    if (!options_.mongo && !options_.pg)
      throw Error(ExitCode::usage, "nothing to back up", "give --pg URI and/or --mongo URI");
    recipients_ = read_recipients(options_.recipients);
    repo_ = open_repository(options_.repo, RepositoryUse::create);
    if (options_.pg) sources_.push_back(open_pg_backup(*options_.pg, options_.pg_databases, options_.pg_bin));
    if (options_.mongo) sources_.push_back(open_mongo_backup(*options_.mongo, options_.mongo_databases));
    std::vector<std::string> sources;
    for (const auto& source : sources_) {
      sources.push_back(source->display());
      engines_.push_back(source->engine());
    }
    std::string from = fmt::format("{}", fmt::join(sources, " and "));
    return {from, repo_->describe(), "backup " + repo_->describe() + " <- " + from};
  }

  int run(engine::RunFrame& frame) {
    std::vector<std::string> fingerprints;
    for (const auto& r : recipients_) fingerprints.push_back(recipient_fingerprint(r));
    IndexEntry entry = begin_backup(frame, *repo_, options_, engines_, fingerprints);
    log::info("backup {}: {} to {}", entry.id, frame.endpoints().source, repo_->describe());
    back_up_items(frame, entry);
    // A difference throws here, before anything says the backup is complete.
    if (!frame.report().all_verified())
      frame.conclude("", "run the backup again without --resume once the cause is fixed");
    complete_backup(*repo_, entry, manifest(entry, frame.state()), recipients_, frame.report());
    frame.conclude("backup " + entry.id + " complete and verified", "run the backup again");
    fmt::print("{}\n", entry.id);
    return 0;
  }

 private:
  void back_up_items(engine::RunFrame& frame, const IndexEntry& entry) {
    engine::ResumeState& state = frame.state();
    ChunkSettings chunk_settings{recipients_, options_.chunk_bytes, 2, 2};
    GroupSpans spans;
    CreateContext ctx{*repo_, entry.id, chunk_settings, state, spans};
    Tasks tasks;
    for (const auto& source : sources_) tasks = combine(std::move(tasks), source->tasks(ctx, frame));
    run_tasks(frame, "backing up", tasks, spans);
  }

  Manifest manifest(const IndexEntry& entry, engine::ResumeState& state) const {
    Manifest manifest;
    manifest.id = entry.id;
    manifest.created = entry.created;
    manifest.reason = entry.reason;
    for (const auto& source : sources_) {
      manifest.sources[source->engine()] = source->source_description();
      for (auto& e : source->entries(state)) manifest.items.push_back(std::move(e));
    }
    return manifest;
  }

  const CreateOptions& options_;
  std::vector<crypto::AgeRecipient> recipients_;
  std::unique_ptr<Repository> repo_;
  std::vector<std::unique_ptr<BackupSource>> sources_;  // PostgreSQL first, as the manifest lists them
  std::vector<std::string> engines_;
};

}  // namespace

int create(const CreateOptions& options) {
  BackupCreate backup(options);
  return engine::run_in_frame({"backup create", "backup-create", "the same --repo and --pg/--mongo", options.run}, backup);
}

}  // namespace decant::backup
