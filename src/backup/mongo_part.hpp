#pragma once
// The MongoDB part of a backup: each collection an item (its documents as raw BSON rows,
// its options and indexes as metadata), each view an item of metadata only. Created
// through the copy engine's reader, restored through its inserters.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backup/parts.hpp"

namespace decant::backup {

// The MongoDB source of a backup being taken: connects and lists what `databases` hold
// (all but admin, local, config when empty), and counts their documents. Its `after`
// checks the counts unchanged since the backup began (a resumed backup: its first run).
std::unique_ptr<BackupSource> open_mongo_backup(const std::string& uri, const std::vector<std::string>& databases);

// Restores the MongoDB items of a manifest into `uri`: refuses a target that holds any of
// them unless `drop`; each collection is read back from the target and compared with the
// backup's rows, which are checked against the manifest as they are read.
class MongoRestore {
 public:
  MongoRestore(const std::string& uri, const std::vector<const ItemEntry*>& items);
  ~MongoRestore();
  std::string display() const;
  // `refuse_source`: the manifest's description of the server the backup was taken from,
  // which a scratch restore (verify --restore) must not write to.
  void check_target(bool drop, bool resuming, const engine::ResumeState& state,
                    const nlohmann::json* refuse_source = nullptr);
  Tasks tasks(const RestoreContext& ctx);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Writes the MongoDB items as a mongodump directory (DB/COLL.bson, DB/COLL.metadata.json)
// under `out_dir`, each file read back and compared with the manifest: what mongorestore
// (or decant mongo restore) reads, so that a backup never locks anyone in.
Tasks export_mongodump(const std::vector<const ItemEntry*>& items, const std::string& out_dir, const RestoreContext& ctx);

}  // namespace decant::backup
