// `backup verify`: --quick (every chunk present with its size, no key), full (every item
// read back and compared with the manifest) or by a restore into scratch servers.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/chunks.hpp"
#include "backup/keys.hpp"
#include "backup/manifest.hpp"
#include "backup/parts.hpp"
#include "backup/repository.hpp"
#include "backup/restore_parts.hpp"
#include "common/error.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/row_hash.hpp"
#include "engine/run_frame.hpp"

namespace decant::backup {
using nlohmann::json;

using Clock = std::chrono::steady_clock;

namespace {

// verify --quick: every chunk the plain chunk list names is present with its size.
int verify_quick(const Repository& repo, const IndexEntry& entry, engine::RunFrame& frame) {
  if (!repo.size(manifest_key(entry.id)))
    throw Error(ExitCode::backup_manifest, "the manifest of backup " + entry.id + " is missing",
                "restore another backup (decant backup list)");
  auto list = repo.get(chunks_key(entry.id));
  auto chunks = list ? json::parse(*list, nullptr, false) : json();
  if (!chunks.is_array())
    throw Error(ExitCode::backup_manifest, "the chunk list of backup " + entry.id + " is missing or damaged",
                "run a full decant backup verify");
  ItemEntry all_chunks{"", "", entry.id, "backup", 0, "", 0, json::object(), "length", {}};
  for (const auto& c : chunks) all_chunks.chunks.push_back({c.at("key"), "", c.at("size"), 0, 0});
  auto problems = check_chunks(repo, all_chunks);
  for (const auto& p : problems) frame.report().add_check("chunk present", false, p);
  // A chunk missing or of another size is a damaged backup (18), not a difference (8).
  if (!problems.empty()) throw_damaged(problems, entry.id, "it cannot be restored whole");
  frame.report().add_check(fmt::format("{} chunk(s) present with their sizes", all_chunks.chunks.size()), true);
  return frame.conclude("backup " + entry.id + " is present (quick check)", "restore another backup");
}

// A full verify without a server: every item's chunks read back and their rows compared
// with the manifest.
void verify_items(const Repository& repo, const Manifest& manifest, const crypto::AgeKeys& keys,
                  engine::RunFrame& frame) {
  Tasks tasks;
  engine::Report& report = frame.report();
  for (const auto& i : manifest.items) {
    if (i.chunks.empty() && i.rows == 0) {
      report.add_item(i.group, engine::ItemReport::verified_item(i.name, i.kind));
      continue;
    }
    auto* item = &frame.progress().add(i.display(), i.raw_bytes);
    tasks.work.push_back({i.group, [&, item, entry_ptr = &i](int) {
      const ItemEntry& e = *entry_ptr;
      item->begin();
      auto t0 = Clock::now();
      ChunkReader reader(repo, e, keys);
      engine::RowDigest digest = engine::digest_of(reader);  // the reader checks it against the manifest
      auto r = engine::ItemReport::verified_item(e.name, e.kind);
      r.rows = digest.rows();
      r.bytes = e.raw_bytes;
      r.seconds = engine::seconds_since(t0);
      r.source_digest = e.digest;
      r.target_digest = digest.hex();
      report.add_item(e.group, r);
      item->bytes = e.raw_bytes;
      item->finish();
    }});
  }
  GroupSpans spans;
  run_tasks(frame, "verifying", tasks, spans);
}

}  // namespace

int verify(const VerifyOptions& options) {
  bool by_restore = options.restore_mongo || options.restore_pg;
  // Only a scratch restore keeps a state; verify never resumes, so it is always new.
  engine::RunSettings settings{"backup verify", by_restore ? "backup-verify" : "", "the same --repo and --id",
                               options.run};
  std::string to = display_of(options.restore_pg, options.restore_mongo);
  return run_on_backup(settings, options.repo, options.id, to, [&](engine::RunFrame& frame, BackupAt& backup) {
    Repository& repo = *backup.repo;
    const IndexEntry& entry = backup.entry;
    if (options.quick) return verify_quick(repo, entry, frame);
    auto keys = read_keys(options.keys);
    Manifest manifest = load_manifest(repo, entry.id, keys);
    if (by_restore) {
      // Nothing is replaced on a scratch server: one that holds any of the backup's databases
      // or collections may be a real one (the source restarted has another identity).
      try {
        restore_parts(manifest, repo, keys,
                      {options.restore_mongo, options.restore_pg, options.pg_bin, {}, false, false, true}, frame);
      } catch (const Error& e) {
        if (e.code() != ExitCode::target_not_empty) throw;
        throw Error(e.code(), e.what(), "give an empty scratch server to restore into: verify replaces nothing");
      }
    } else {
      verify_items(repo, manifest, keys, frame);
    }
    frame.conclude("backup " + entry.id + (by_restore ? " restored and verified" : " verified"),
                   "restore another backup");
    // Only a full verify that passed makes a backup "verified" for prune; the entry is read
    // again, as it may have changed (or been pruned) during a long verify.
    if (auto now = load_index(repo, entry.id)) {
      now->verified_at = utc_now_iso();
      now->verified_how = by_restore ? "restore" : "full";
      store_index(repo, *now);
    }
    return 0;
  });
}

}  // namespace decant::backup
