// `backup rotate-keys`: manifests, and with --data chunks, re-encrypted to new recipients.
#include "backup/backup.hpp"

#include <fmt/format.h>

#include "backup/chunks.hpp"
#include "backup/keys.hpp"
#include "backup/manifest.hpp"
#include "backup/repository.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "crypto/age.hpp"
#include "crypto/primitives.hpp"
#include "engine/task_pool.hpp"

namespace decant::backup {
using nlohmann::json;

int rotate_keys(const RotateOptions& options) {
  auto repo = open_repository(options.repo, RepositoryUse::existing);
  auto keys = read_keys(options.keys);
  auto recipients = read_recipients(options.recipients);
  auto all = load_all_indexes(*repo);
  std::vector<IndexEntry> chosen;
  if (options.id) chosen.push_back(find_backup(all, options.id, *repo));
  else
    for (const auto& e : all)
      if (e.state == "complete") chosen.push_back(e);
  for (auto& entry : chosen) {
    Manifest m = load_manifest(*repo, entry.id, keys);
    std::vector<std::string> old_keys;
    if (options.data) {
      // New objects beside the old ones, then the manifest that names them, then the old
      // ones removed: a crash at any point leaves a backup that restores.
      std::vector<std::function<void()>> work;
      for (auto& item : m.items)
        for (auto& chunk : item.chunks)
          work.push_back([&, item_ptr = &item, chunk_ptr = &chunk] {
            ChunkInfo& c = *chunk_ptr;
            std::string sealed = crypto::age_encrypt(open_chunk(*repo, *item_ptr, c, keys), recipients);
            std::string base = c.key.substr(0, c.key.find('.', c.key.rfind('/')));
            std::string key;
            do key = base + ".zst." + crypto::to_hex(crypto::random_bytes(8)) + ".age";
            while (key == c.key || repo->size(key));
            repo->put(key, sealed);
            c = ChunkInfo{key, crypto::to_hex(crypto::sha256(sealed)), sealed.size(), c.rows, c.raw_bytes};
          });
      for (const auto& item : m.items)
        for (const auto& chunk : item.chunks) old_keys.push_back(chunk.key);
      engine::TaskPool pool(engine::resolve_jobs(options.jobs));
      for (const auto& w : work) pool.submit(1, [w](int) { w(); });
      pool.wait();
      repo->put(chunks_key(entry.id), chunk_list(m).dump() + "\n");
    }
    store_manifest(*repo, m, recipients);
    for (const auto& k : old_keys) repo->remove_prefix(k);
    // Re-encrypted chunks are new bytes: only a full verify makes the backup verified again.
    if (options.data) entry.verified_at.reset();
    // Without --data the chunks still need the old keys: the index keeps naming them.
    std::vector<std::string> before = entry.recipients;
    entry.recipients.clear();
    for (const auto& r : recipients) entry.recipients.push_back(recipient_fingerprint(r));
    if (!options.data) {
      for (const auto& f : before)
        if (std::find(entry.recipients.begin(), entry.recipients.end(), f) == entry.recipients.end())
          entry.recipients.push_back(f);
      log::warn("{}: only the manifest was re-encrypted; its chunks still need the old key (rotate with --data "
                "before destroying it)",
                entry.id);
    }
    store_index(*repo, entry);
    fmt::print("{}: manifest{} re-encrypted to {} recipient(s)\n", entry.id, options.data ? " and chunks" : "",
               recipients.size());
  }
  if (chosen.empty()) fmt::print("no complete backup in {}\n", repo->describe());
  return 0;
}

}  // namespace decant::backup
