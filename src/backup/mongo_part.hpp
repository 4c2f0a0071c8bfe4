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

class MongoBackup {
 public:
  // Connects and lists what `databases` hold (all but admin, local, config when empty).
  MongoBackup(const std::string& uri, const std::vector<std::string>& databases);
  ~MongoBackup();
  std::string display() const;
  // The source's document counts when the backup began, for the consistency check; a
  // resumed backup compares with the first run's.
  nlohmann::json counts_before() const;
  void use_counts_before(const nlohmann::json& counts);
  // What the manifest says of the source: address, version, when.
  nlohmann::json source_description() const;
  // One task per collection; `after` records the views and checks that the source's
  // document counts did not change meanwhile.
  Tasks tasks(const CreateContext& ctx, engine::ItemLifecycle& lifecycle, engine::ProgressBoard& progress,
              engine::Report& report);
  // The manifest's items, once every task has finished.
  std::vector<ItemEntry> entries(const engine::ResumeState& state) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

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
