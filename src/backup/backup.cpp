#include "backup/backup.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

#include "backup/archive_item.hpp"
#include "backup/chunks.hpp"
#include "backup/manifest.hpp"
#include "backup/mongo_part.hpp"
#include "backup/pg_part.hpp"
#include "backup/repository.hpp"
#include "mongo/client.hpp"
#include "pg/conninfo.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "crypto/age.hpp"
#include "engine/item_lifecycle.hpp"
#include "engine/progress.hpp"
#include "engine/report.hpp"
#include "engine/resume_state.hpp"
#include "engine/run_frame.hpp"
#include "engine/task_pool.hpp"

namespace decant::backup {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

std::vector<crypto::AgeRecipient> read_recipients(const RecipientOptions& options) {
  std::vector<crypto::AgeRecipient> out;
  for (const auto& r : options.recipients) out.push_back(crypto::AgeRecipient::parse(r));
  for (const auto& file : options.recipient_files) {
    std::ifstream in(file);
    if (!in) throw Error(ExitCode::local_io, "cannot read the recipients file " + file, "check the path");
    for (std::string line; std::getline(in, line);) {
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty() && line[0] != '#') out.push_back(crypto::AgeRecipient::parse(line));
    }
  }
  if (out.empty())
    throw Error(ExitCode::usage, "no recipient to encrypt the backup to",
                "give --recipient age1... (the public key of an identity made with age-keygen) or --recipients-file");
  return out;
}

crypto::AgeKeys read_keys(const KeyOptions& options) {
  crypto::AgeKeys keys;
  for (const auto& f : options.identity_files)
    for (auto& id : crypto::read_identity_file(f)) keys.identities.push_back(std::move(id));
  if (keys.identities.empty())
    throw Error(ExitCode::usage, "no identity to decrypt the backup with",
                "give --identity FILE (an age identity file, AGE-SECRET-KEY-1...)");
  return keys;
}

// The chunk keys and sizes in plain text, beside the manifest: what `verify --quick`
// checks without a key.
std::string chunks_key(const std::string& id) { return "backups/" + id + "/chunks.json"; }

json chunk_list(const Manifest& m) {
  json list = json::array();
  for (const auto& i : m.items)
    for (const auto& c : i.chunks) list.push_back({{"key", c.key}, {"size", c.size}});
  return list;
}

const IndexEntry& find_backup(const std::vector<IndexEntry>& all, const std::optional<std::string>& id,
                              const Repository& repo) {
  if (id) {
    for (const auto& e : all)
      if (e.id == *id) {
        if (e.state != "complete")
          throw Error(ExitCode::backup_manifest, "backup " + *id + " is not complete (its create was interrupted)",
                      "finish it with decant backup create --resume, or use another backup");
        return e;
      }
    throw Error(ExitCode::usage, "the repository " + repo.describe() + " has no backup " + *id,
                "decant backup list shows the backups it has");
  }
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->state == "complete") return *it;
  throw Error(ExitCode::usage, "the repository " + repo.describe() + " has no complete backup",
              "create one with decant backup create");
}

// Runs the tasks on the frame's workers, then their `after`.
void run_tasks(engine::RunFrame& frame, const std::string& phase, const Tasks& tasks) {
  frame.run_tasks(phase, [&](engine::TaskPool& pool) {
    for (const auto& w : tasks.work) pool.submit(1, w);
  });
  if (tasks.after) tasks.after();
}

// Addresses as messages, reports and state identities show them: never the password.
std::string display_of(const std::optional<std::string>& pg, const std::optional<std::string>& mongo) {
  std::vector<std::string> parts;
  if (pg) parts.push_back(pg::ConnInfo::parse(*pg, "PostgreSQL target").display());
  if (mongo) parts.push_back(mongo::Uri::parse(*mongo, "MongoDB target").display());
  return fmt::format("{}", fmt::join(parts, " and "));
}

// Both engines' tasks in one pool, then both `after`s.
Tasks combine(Tasks a, Tasks b) {
  for (auto& w : b.work) a.work.push_back(std::move(w));
  auto first = std::move(a.after), second = std::move(b.after);
  a.after = [first, second] {
    if (first) first();
    if (second) second();
  };
  return a;
}

// Where a restore writes, and what it may replace there.
struct RestoreTargets {
  std::optional<std::string> mongo_uri, pg_uri, pg_bin;
  std::set<std::string> extension_update;
  bool drop = false, clean = false;
  // A scratch restore (verify --restore-*) refuses the servers the backup came from.
  bool scratch = false;
};

// Restores a backup's parts into the given servers, in the frame.
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
  frame.start_writing();
  RestoreContext ctx{repo, keys, frame.state(), frame.lifecycle(), frame.progress(), frame.report(), frame.jobs()};
  Tasks tasks;
  if (mongo) tasks = combine(std::move(tasks), mongo->tasks(ctx));
  if (pg) tasks = combine(std::move(tasks), pg->tasks(ctx, to.clean));
  log::info("restoring backup {} to {}{}{}", manifest.id, mongo ? mongo->display() : "", mongo && pg ? " and " : "",
            pg ? pg->display() : "");
  run_tasks(frame, to.scratch ? "restoring to verify" : "restoring", tasks);
}

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

}  // namespace

int create(const CreateOptions& options) {
  engine::RunSettings settings{"backup create", options.report_path, options.progress_interval,
                               options.jobs,    "backup-create",     options.state_dir,
                               options.resume,  "the same --repo and --pg/--mongo"};
  std::vector<crypto::AgeRecipient> recipients;
  std::unique_ptr<Repository> repo;
  std::unique_ptr<PgBackup> pg;
  std::unique_ptr<MongoBackup> mongo;
  std::vector<std::string> engines;
  auto open = [&] {
    if (!options.mongo && !options.pg)
      throw Error(ExitCode::usage, "nothing to back up", "give --pg URI and/or --mongo URI");
    recipients = read_recipients(options.recipients);
    repo = open_repository(options.repo);
    std::vector<std::string> sources;
    if (options.pg) {
      pg = std::make_unique<PgBackup>(*options.pg, options.pg_databases, options.pg_bin);
      sources.push_back(pg->display());
      engines.push_back("pg");
    }
    if (options.mongo) {
      mongo = std::make_unique<MongoBackup>(*options.mongo, options.mongo_databases);
      sources.push_back(mongo->display());
      engines.push_back("mongo");
    }
    std::string from = fmt::format("{}", fmt::join(sources, " and "));
    return engine::Endpoints{from, repo->describe(), "backup " + repo->describe() + " <- " + from};
  };
  return engine::run_in_frame(settings, open, [&](engine::RunFrame& frame) {
    engine::ResumeState& state = frame.state();
    IndexEntry entry;
    std::vector<std::string> fingerprints;
    for (const auto& r : recipients) fingerprints.push_back(recipient_fingerprint(r));
    if (frame.resuming()) {
      auto recorded = state.get("backup");
      if (!recorded) throw Error(ExitCode::nothing_to_resume, "no interrupted backup to resume", "run without --resume");
      entry = index_from_json(*recorded);
      if (entry.recipients != fingerprints)
        throw Error(ExitCode::usage, "backup " + entry.id + " was begun for other recipients",
                    "resume with the same --recipient keys, or run without --resume");
    } else {
      abandon_interrupted(state, *repo);
      frame.start_writing();
      entry.id = new_backup_id();
      entry.created = utc_now_iso();
      entry.reason = options.reason;
      entry.engines = engines;
      entry.recipients = fingerprints;
      // Listed as being written before any chunk exists: prune leaves it alone.
      store_index(*repo, entry);
      state.mark_done("backup", to_json(entry));
    }
    log::info("backup {}: {} to {}", entry.id, frame.endpoints().source, repo->describe());

    ChunkSettings chunk_settings{recipients, options.chunk_bytes, 2, 2};
    CreateContext ctx{*repo, entry.id, chunk_settings, state};
    Tasks tasks;
    if (pg) tasks = combine(std::move(tasks), pg->tasks(ctx, frame.lifecycle(), frame.progress()));
    if (mongo) {
      // The document counts the consistency check compares with are the first run's.
      if (auto counted = state.get("mongo-counts")) mongo->use_counts_before(*counted);
      else state.mark_done("mongo-counts", mongo->counts_before());
      tasks = combine(std::move(tasks), mongo->tasks(ctx, frame.lifecycle(), frame.progress(), frame.report()));
    }
    run_tasks(frame, "backing up", tasks);
    // A difference throws here, before anything says the backup is complete.
    if (!frame.report().all_verified())
      frame.conclude("", "run the backup again without --resume once the cause is fixed");

    Manifest manifest;
    manifest.id = entry.id;
    manifest.created = entry.created;
    manifest.reason = entry.reason;
    if (pg) {
      manifest.sources["pg"] = pg->source_description();
      manifest.items = pg->entries(state);
    }
    if (mongo) {
      manifest.sources["mongo"] = mongo->source_description();
      for (auto& e : mongo->entries(state)) manifest.items.push_back(std::move(e));
    }
    // The chunks are all stored; then the manifest; only then is the backup complete.
    repo->put(chunks_key(entry.id), chunk_list(manifest).dump() + "\n");
    store_manifest(*repo, manifest, recipients);
    entry.state = "complete";
    entry.items = manifest.items.size();
    for (const auto& i : manifest.items) {
      entry.rows += i.rows;
      entry.raw_bytes += i.raw_bytes;
      for (const auto& c : i.chunks) entry.stored_bytes += c.size;
    }
    store_index(*repo, entry);
    frame.report().add_note(fmt::format("backup {}: {} item(s), {} rows, {} of data stored as {}", entry.id, entry.items,
                                        entry.rows, engine::human_bytes(entry.raw_bytes),
                                        engine::human_bytes(entry.stored_bytes)));
    frame.conclude("backup " + entry.id + " complete and verified", "run the backup again");
    fmt::print("{}\n", entry.id);
    return 0;
  });
}

int list(const ListOptions& options) {
  auto repo = open_repository(options.repo);
  auto all = load_all_indexes(*repo);
  if (options.json) {
    json out = json::array();
    for (const auto& e : all) out.push_back(to_json(e));
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{:<24} {:<20} {:<11} {:<9} {:>6} {:>12} {:>10} {:>10}  {}\n", "id", "created", "reason", "state", "items",
             "rows", "data", "stored", "verified");
  for (const auto& e : all)
    fmt::print("{:<24} {:<20} {:<11} {:<9} {:>6} {:>12} {:>10} {:>10}  {}\n", e.id, e.created, e.reason, e.state,
               e.items, e.rows, engine::human_bytes(e.raw_bytes), engine::human_bytes(e.stored_bytes),
               e.verified_at ? *e.verified_at + " (" + e.verified_how + ")" : "-");
  if (all.empty()) fmt::print("(no backups in {})\n", repo->describe());
  return 0;
}

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
  if (problems.empty())
    frame.report().add_check(fmt::format("{} chunk(s) present with their sizes", all_chunks.chunks.size()), true);
  return frame.conclude("backup " + entry.id + " is present (quick check)", "restore another backup");
}

// A full verify without a server: every item's chunks read back and their rows compared
// with the manifest.
void verify_items(const Repository& repo, const Manifest& manifest, const crypto::AgeKeys& keys,
                  engine::RunFrame& frame) {
  std::vector<std::function<void(int)>> work;
  engine::Report& report = frame.report();
  for (const auto& i : manifest.items) {
    if (i.chunks.empty() && i.rows == 0) {
      report.add_item(i.group, engine::ItemReport::verified_item(i.name, i.kind));
      continue;
    }
    auto* item = &frame.progress().add(i.display(), i.raw_bytes);
    work.push_back([&, item, entry_ptr = &i](int) {
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
    });
  }
  run_tasks(frame, "verifying", Tasks{work, {}});
}

}  // namespace

int verify(const VerifyOptions& options) {
  bool by_restore = options.restore_mongo || options.restore_pg;
  // Only a scratch restore keeps a state; verify never resumes, so it is always new.
  engine::RunSettings settings{"backup verify",  options.report_path, options.progress_interval,
                               options.jobs,     by_restore ? "backup-verify" : "", std::nullopt,
                               false,            "the same --repo and --id"};
  std::unique_ptr<Repository> repo;
  IndexEntry entry;
  auto open = [&] {
    repo = open_repository(options.repo);
    entry = find_backup(load_all_indexes(*repo), options.id, *repo);
    return engine::Endpoints{repo->describe() + " " + entry.id, display_of(options.restore_pg, options.restore_mongo),
                             "verify " + repo->describe() + " " + entry.id};
  };
  return engine::run_in_frame(settings, open, [&](engine::RunFrame& frame) {
    if (options.quick) return verify_quick(*repo, entry, frame);
    auto keys = read_keys(options.keys);
    Manifest manifest = load_manifest(*repo, entry.id, keys);
    if (by_restore) {
      // Nothing is replaced on a scratch server: one that holds any of the backup's databases
      // or collections may be a real one (the source restarted has another identity).
      try {
        restore_parts(manifest, *repo, keys,
                      {options.restore_mongo, options.restore_pg, options.pg_bin, {}, false, false, true}, frame);
      } catch (const Error& e) {
        if (e.code() != ExitCode::target_not_empty) throw;
        throw Error(e.code(), e.what(), "give an empty scratch server to restore into: verify replaces nothing");
      }
    } else {
      verify_items(*repo, manifest, keys, frame);
    }
    frame.conclude("backup " + entry.id + (by_restore ? " restored and verified" : " verified"),
                   "restore another backup");
    // Only a full verify that passed makes a backup "verified" for prune; the entry is read
    // again, as it may have changed (or been pruned) during a long verify.
    if (auto now = load_index(*repo, entry.id)) {
      now->verified_at = utc_now_iso();
      now->verified_how = by_restore ? "restore" : "full";
      store_index(*repo, *now);
    }
    return 0;
  });
}

int restore(const RestoreOptions& options) {
  engine::RunSettings settings{"backup restore", options.report_path, options.progress_interval,
                               options.jobs,     "backup-restore",    options.state_dir,
                               options.resume,   "the same --repo, --id and --pg/--mongo"};
  std::unique_ptr<Repository> repo;
  IndexEntry entry;
  auto open = [&] {
    repo = open_repository(options.repo);
    entry = find_backup(load_all_indexes(*repo), options.id, *repo);
    std::string to = display_of(options.pg, options.mongo);
    return engine::Endpoints{repo->describe() + " " + entry.id, to,
                             "restore " + repo->describe() + " " + entry.id + " -> " + to};
  };
  return engine::run_in_frame(settings, open, [&](engine::RunFrame& frame) {
    auto keys = read_keys(options.keys);
    Manifest manifest = load_manifest(*repo, entry.id, keys);
    restore_parts(manifest, *repo, keys,
                  {options.mongo, options.pg, options.pg_bin, options.extension_update, options.drop, options.clean,
                   false},
                  frame);
    return frame.conclude("restore of backup " + entry.id + " complete and verified", "run the same command with --drop");
  });
}

int export_backup(const ExportOptions& options) {
  engine::RunSettings settings{"backup export", options.report_path, options.progress_interval,
                               options.jobs,    "backup-export",     std::nullopt,
                               false,           "the same --repo, --id and --out"};
  std::unique_ptr<Repository> repo;
  IndexEntry entry;
  auto open = [&] {
    repo = open_repository(options.repo);
    entry = find_backup(load_all_indexes(*repo), options.id, *repo);
    return engine::Endpoints{repo->describe() + " " + entry.id, options.out_dir,
                             "export " + repo->describe() + " " + entry.id + " -> " + options.out_dir};
  };
  return engine::run_in_frame(settings, open, [&](engine::RunFrame& frame) {
    auto keys = read_keys(options.keys);
    Manifest manifest = load_manifest(*repo, entry.id, keys);
    std::vector<const ItemEntry*> items;
    bool has_pg = false;
    for (const auto& i : manifest.items) {
      if (i.engine == "mongo") items.push_back(&i);
      if (i.engine == "pg") has_pg = true;
    }
    bool as_pg = options.format == "pg_dump";
    if (as_pg ? !has_pg : items.empty())
      throw Error(ExitCode::usage,
                  "backup " + entry.id + " has no " + (as_pg ? "PostgreSQL" : "MongoDB") + " part to export",
                  "give another --id or --format");
    frame.start_writing();
    RestoreContext ctx{*repo, keys, frame.state(), frame.lifecycle(), frame.progress(), frame.report(), frame.jobs()};
    if (as_pg)
      export_pg_dump(manifest, options.out_dir, ctx);
    else
      run_tasks(frame, "exporting", export_mongodump(items, options.out_dir, ctx));
    return frame.conclude("backup " + entry.id + " exported to " + options.out_dir +
                              (as_pg ? " (psql -f globals.sql, then pg_restore -C -d postgres DB/ per database)"
                                     : " (mongodump layout)") +
                              " and verified",
                          "export again into an empty directory");
  });
}

namespace {

// Seconds since the epoch of "2026-12-01T04:16:46Z"; nothing when it is not that form.
std::optional<int64_t> parse_utc(const std::string& text) {
  std::tm tm{};
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z')
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

struct PruneDecision {
  const IndexEntry* entry;
  bool remove = false;
  std::string why;
};

std::vector<PruneDecision> decide_prune(const std::vector<IndexEntry>& all, int keep_days, int64_t now) {
  // Each protected role goes to the newest backup that has it (the list is oldest first).
  auto newest = [&](auto pred) -> const IndexEntry* {
    for (auto it = all.rbegin(); it != all.rend(); ++it)
      if (pred(*it)) return &*it;
    return nullptr;
  };
  const IndexEntry* newest_verified = newest([](const IndexEntry& e) { return e.state == "complete" && e.verified_at; });
  const IndexEntry* newest_pre_upgrade =
      newest([](const IndexEntry& e) { return e.state == "complete" && e.reason == "pre-upgrade"; });
  const IndexEntry* newest_complete = newest([](const IndexEntry& e) { return e.state == "complete"; });
  std::vector<PruneDecision> out;
  for (const auto& e : all) {
    PruneDecision d{&e, false, ""};
    auto created = parse_utc(e.created);
    double age_days = created ? static_cast<double>(now - *created) / 86400.0 : 0;
    if (!created) d.why = "keep: its creation time cannot be read";
    else if (age_days < keep_days) d.why = fmt::format("keep: {:.1f} days old, within {} days", age_days, keep_days);
    else if (&e == newest_verified) d.why = "keep: the newest verified backup";
    else if (&e == newest_pre_upgrade) d.why = "keep: the newest pre-upgrade backup";
    else if (&e == newest_complete) d.why = "keep: the newest complete backup";
    else if (e.state == "abandoned") {
      d.remove = true;
      d.why = fmt::format("delete: {:.1f} days old, interrupted and replaced by a later create", age_days);
    } else if (e.state != "complete") d.why = "keep: still being written (or interrupted: finish it with --resume)";
    else {
      d.remove = true;
      d.why = fmt::format("delete: {:.1f} days old", age_days);
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace

int upgrade_check(const UpgradeCheckOptions& options) {
  auto repo = open_repository(options.repo);
  auto all = load_all_indexes(*repo);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto age_of = [&](const IndexEntry& e) { return now - parse_utc(e.created).value_or(0); };
  const IndexEntry* newest = nullptr;  // the newest complete pre-upgrade backup
  for (const auto& e : all)
    if (e.reason == "pre-upgrade" && e.state == "complete" && (!newest || e.created > newest->created)) newest = &e;
  auto hours = [](int64_t seconds) { return fmt::format("{:.1f} h", static_cast<double>(seconds) / 3600.0); };
  for (const auto& e : all) {
    if (e.reason != "pre-upgrade" || e.state != "complete" || !e.verified_at || age_of(e) > options.max_age_seconds)
      continue;
    fmt::print("ok: pre-upgrade backup {} in {}, taken {} ago, verified {} ({})\n", e.id, repo->describe(),
               hours(age_of(e)), *e.verified_at, e.verified_how);
    return 0;
  }
  std::string limit = hours(options.max_age_seconds);
  if (!newest)
    throw Error(ExitCode::no_recent_backup, "no complete pre-upgrade backup in " + repo->describe(),
                "take one: decant backup create --reason pre-upgrade, then decant backup verify --id ID");
  if (age_of(*newest) > options.max_age_seconds)
    throw Error(ExitCode::no_recent_backup,
                fmt::format("the newest pre-upgrade backup in {} ({}) is {} old, over --max-age {}", repo->describe(),
                            newest->id, hours(age_of(*newest)), limit),
                "take a new one: decant backup create --reason pre-upgrade, then decant backup verify --id ID");
  throw Error(ExitCode::no_recent_backup,
              fmt::format("the pre-upgrade backup {} in {} was never fully verified", newest->id, repo->describe()),
              "verify it: decant backup verify --id " + newest->id);
}

int prune(const PruneOptions& options) {
  auto repo = open_repository(options.repo);
  auto all = load_all_indexes(*repo);
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto decisions = decide_prune(all, options.keep_days, now);
  size_t removing = 0;
  json out = json::array();
  for (const auto& d : decisions) {
    removing += d.remove;
    out.push_back({{"id", d.entry->id}, {"delete", d.remove}, {"why", d.why}});
    if (!options.json) fmt::print("{:<24} {:<11} {:<9} {}\n", d.entry->id, d.entry->reason, d.entry->state, d.why);
  }
  if (options.json) fmt::print("{}\n", out.dump(2));
  if (!options.apply) {
    if (!options.json)
      fmt::print("{} of {} backup(s) would be deleted (dry run: add --apply to delete them)\n", removing, all.size());
    return 0;
  }
  for (const auto& d : decisions) {
    if (!d.remove) continue;
    // The index entry first: a backup half deleted is never listed as complete.
    repo->remove_prefix(index_key(d.entry->id));
    repo->remove_prefix("backups/" + d.entry->id + "/");
    log::info("deleted backup {}", d.entry->id);
  }
  if (!options.json) fmt::print("{} of {} backup(s) deleted\n", removing, all.size());
  return 0;
}

int rotate_keys(const RotateOptions& options) {
  auto repo = open_repository(options.repo);
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
