#include "backup/restore_parts.hpp"

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "backup/chunks.hpp"
#include "backup/mongo_part.hpp"
#include "backup/parts.hpp"
#include "backup/pg_part.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "engine/run_frame.hpp"
#include "mongo/client.hpp"
#include "pg/conninfo.hpp"

namespace decant::backup {
using nlohmann::json;

std::string display_of(const std::optional<std::string>& pg, const std::optional<std::string>& mongo) {
  std::vector<std::string> parts;
  if (pg) parts.push_back(pg::ConnInfo::parse(*pg, "PostgreSQL target").display());
  if (mongo) parts.push_back(mongo::Uri::parse(*mongo, "MongoDB target").display());
  return fmt::format("{}", fmt::join(parts, " and "));
}

namespace {

// What a restore that failed after its first write leaves, for the error's hint.
std::string stopped_part_way(bool pg, bool mongo) {
  std::string again = pg && mongo ? "--clean and --drop" : pg ? "--clean" : "--drop";
  return "the restore stopped part-way: the target keeps what it had made (roles, databases, collections, tables, "
         "some partly loaded); restore again with " + again;
}

}  // namespace

void restore_parts(const Manifest& manifest, const Repository& repo, const crypto::AgeKeys& keys,
                   const RestoreTargets& to, engine::RunFrame& frame) {
  std::vector<const ItemEntry*> mongo_items;
  bool has_pg = false;
  for (const auto& i : manifest.items) {
    if (i.engine == "mongo") mongo_items.push_back(&i);
    if (i.engine == "pg") has_pg = true;
  }
  if (!to.mongo_uri && !to.pg_uri) throw Error(ExitCode::usage, "nothing to restore into", "give --pg URI and/or --mongo URI");
  if (to.pg_uri && !has_pg)
    throw Error(ExitCode::usage, "backup " + manifest.id + " has no PostgreSQL part", "leave out --pg");
  if (to.mongo_uri && mongo_items.empty())
    throw Error(ExitCode::usage, "backup " + manifest.id + " has no MongoDB part", "leave out --mongo");
  std::unique_ptr<MongoRestore> mongo;
  std::unique_ptr<PgRestore> pg;
  json mongo_source = manifest.sources.value("mongo", json::object());
  if (to.mongo_uri) {
    mongo = std::make_unique<MongoRestore>(*to.mongo_uri, mongo_items);
    mongo->check_target(to.drop, frame.resuming(), frame.state(), to.scratch ? &mongo_source : nullptr);
  }
  if (to.pg_uri) {
    pg = std::make_unique<PgRestore>(*to.pg_uri, manifest, to.pg_bin, to.extension_update);
    pg->check_target(to.clean, to.scratch);
  }
  // Every chunk the restore will read, present with its size, before anything is written:
  // a damaged backup leaves the target as it was. Their hashes are checked as they stream.
  std::vector<const ItemEntry*> reads = mongo ? mongo_items : std::vector<const ItemEntry*>{};
  for (const auto& i : manifest.items)
    if (pg && i.engine == "pg") reads.push_back(&i);
  if (auto problems = check_chunks(repo, reads, frame.jobs()); !problems.empty())
    throw_damaged(problems, manifest.id, "nothing was written");

  frame.start_writing();
  GroupSpans spans;
  RestoreContext ctx = restore_context(repo, keys, frame, spans);
  try {
    Tasks tasks;
    if (mongo) tasks = combine(std::move(tasks), mongo->tasks(ctx));
    if (pg) tasks = combine(std::move(tasks), pg->tasks(ctx, to.clean));
    log::info("restoring backup {} to {}{}{}", manifest.id, mongo ? mongo->display() : "", mongo && pg ? " and " : "",
              pg ? pg->display() : "");
    run_tasks(frame, to.scratch ? "restoring to verify" : "restoring", tasks, spans);
  } catch (const Error& e) {
    if (to.scratch || e.code() == ExitCode::interrupted) throw;
    throw Error(e.code(), e.what(), e.hint() + "; " + stopped_part_way(pg != nullptr, mongo != nullptr));
  }
}

}  // namespace decant::backup
