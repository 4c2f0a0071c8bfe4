#pragma once
// `decant mongo dump` and `decant mongo restore`: the mongodump directory layout
// (DB/COLL.bson + DB/COLL.metadata.json, ".gz" with --gzip), both ways, verified: a dump
// against the files read back, a restore against the target read back.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/run_options.hpp"

namespace decant::mongo {

struct DumpOptions {
  std::string source;
  std::string out_dir;
  bool gzip = false;
  std::vector<std::string> databases;
  engine::RunOptions run;  // --resume keeps the collection files an interrupted dump finished
};

struct RestoreOptions {
  std::string dir;  // a dump directory (DB subdirectories) or one database's directory
  std::string target;
  bool drop = false;
  // A whole dump: only this database of it. One database's directory: the target database.
  std::optional<std::string> db;
  engine::RunOptions run;  // --resume keeps the collections an interrupted restore finished
};

struct CollectionInfo;
class Bson;
// The metadata.json mongodump writes: options, indexes (as given: a dump lists the _id
// index too), uuid, collectionName, type; canonical extended JSON.
std::string dump_metadata_json(const CollectionInfo& c, const std::vector<Bson>& index_specs, const std::string& uuid);

int dump(const DumpOptions& options);
int restore(const RestoreOptions& options);

}  // namespace decant::mongo
