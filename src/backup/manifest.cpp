#include "backup/manifest.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <regex>

#include "backup/repository.hpp"
#include "common/error.hpp"
#include "crypto/primitives.hpp"
#include "text/json_optional.hpp"

namespace decant::backup {
namespace {

using nlohmann::json;

[[noreturn]] void bad_manifest(const std::string& id, const std::string& what) {
  throw Error(ExitCode::backup_manifest, "the manifest of backup " + id + " " + what,
              "restore another backup (decant backup list); this one cannot be trusted");
}

}  // namespace

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ChunkInfo, key, sha256, size, rows, raw_bytes)

json to_json(const ChunkInfo& c) { return c; }
ChunkInfo chunk_from_json(const json& j) { return j.get<ChunkInfo>(); }

json to_json(const Manifest& m) {
  json items = json::array();
  for (const auto& i : m.items) {
    items.push_back({{"engine", i.engine}, {"group", i.group}, {"name", i.name}, {"kind", i.kind}, {"rows", i.rows},
                     {"digest", i.digest}, {"raw_bytes", i.raw_bytes}, {"metadata", i.metadata}, {"framing", i.framing},
                     {"chunks", i.chunks}});
  }
  return {{"format", m.format}, {"id", m.id},           {"created", m.created},
          {"reason", m.reason}, {"sources", m.sources}, {"items", items}};
}

Manifest manifest_from_json(const json& j) {
  Manifest m;
  m.format = j.at("format").get<int>();
  m.id = j.at("id").get<std::string>();
  m.created = j.at("created").get<std::string>();
  m.reason = j.at("reason").get<std::string>();
  m.sources = j.at("sources");
  for (const auto& i : j.at("items")) {
    ItemEntry e{i.at("engine").get<std::string>(), i.at("group").get<std::string>(), i.at("name").get<std::string>(),
                i.at("kind").get<std::string>(),   i.at("rows").get<uint64_t>(),    i.at("digest").get<std::string>(),
                i.at("raw_bytes").get<uint64_t>(), i.at("metadata"),                i.value("framing", "length"), {}};
    e.chunks = i.at("chunks").get<std::vector<ChunkInfo>>();
    m.items.push_back(std::move(e));
  }
  return m;
}

// Fields after the first four came in later versions: missing, they read as empty.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(IndexEntry, id, created, reason, state, engines, items, rows, raw_bytes,
                                                stored_bytes, recipients, verified_at, verified_how)

json to_json(const IndexEntry& e) { return e; }

IndexEntry index_from_json(const json& j) {
  for (const char* key : {"id", "created", "reason", "state"})
    if (!j.at(key).is_string()) throw json::type_error::create(302, std::string(key) + " is not a string", &j);
  return j.get<IndexEntry>();
}

std::string utc_now_iso() {
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", now);
}

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

std::string new_backup_id() {
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  return fmt::format("{:%Y%m%dT%H%M%SZ}-{}", now, crypto::to_hex(crypto::random_bytes(4)));
}

std::string recipient_fingerprint(const crypto::AgeRecipient& r) {
  return "sha256:" + crypto::to_hex(crypto::sha256(r.encoded())).substr(0, 16);
}

std::string manifest_key(const std::string& id) { return "backups/" + id + "/manifest.json.age"; }
std::string index_key(const std::string& id) { return "index/" + id + ".json"; }
std::string data_prefix(const std::string& id) { return "backups/" + id + "/data/"; }
std::string chunks_key(const std::string& id) { return "backups/" + id + "/chunks.json"; }

void store_index(Repository& repo, const IndexEntry& entry) { repo.put(index_key(entry.id), to_json(entry).dump(2) + "\n"); }

std::optional<IndexEntry> load_index(const Repository& repo, const std::string& id) {
  auto bytes = repo.get(index_key(id));
  if (!bytes) return std::nullopt;
  auto j = json::parse(*bytes, nullptr, false);
  try {
    if (!j.is_discarded()) return index_from_json(j);
  } catch (const json::exception&) {
  }
  throw Error(ExitCode::backup_manifest, "the index entry of backup " + id + " is not a valid decant index entry",
              "remove or repair " + index_key(id) + "; nothing was changed");
}

bool valid_backup_id(const std::string& id) {
  static const std::regex form("[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4,32}");
  return std::regex_match(id, form);
}

std::vector<IndexEntry> load_all_indexes(const Repository& repo) {
  std::vector<IndexEntry> out;
  for (const auto& key : repo.list("index/")) {
    if (key.size() < 11 || key.compare(key.size() - 5, 5, ".json") != 0) continue;
    std::string id = key.substr(6, key.size() - 11);
    if (!valid_backup_id(id)) continue;  // not decant's
    auto e = load_index(repo, id);
    // The entry's id names the paths prune removes: it must be the file's.
    if (!e || e->id != id)
      throw Error(ExitCode::backup_manifest, "the index entry " + key + " names another backup (" + (e ? e->id : "") + ")",
                  "remove or repair that file; nothing was changed");
    out.push_back(std::move(*e));
  }
  std::sort(out.begin(), out.end(), [](const IndexEntry& a, const IndexEntry& b) { return a.id < b.id; });
  return out;
}

void store_manifest(Repository& repo, const Manifest& m, const std::vector<crypto::AgeRecipient>& recipients) {
  repo.put(manifest_key(m.id), crypto::age_encrypt(to_json(m).dump(), recipients));
}

Manifest load_manifest(const Repository& repo, const std::string& id, const crypto::AgeKeys& keys) {
  auto bytes = repo.get(manifest_key(id));
  if (!bytes) bad_manifest(id, "is missing (" + manifest_key(id) + "): the backup is incomplete or was removed");
  std::string plain;
  try {
    plain = crypto::age_decrypt(*bytes, keys);
  } catch (const crypto::AgeError& e) {
    if (e.failure() == crypto::AgeFailure::no_match)
      throw Error(ExitCode::backup_key, "none of the given identities opens backup " + id,
                  "give the identity file (--identity) whose public key the backup was made for");
    bad_manifest(id, std::string("was changed or damaged (") + e.what() + ")");
  }
  auto j = json::parse(plain, nullptr, false);
  Manifest m;
  try {
    if (j.is_discarded()) bad_manifest(id, "is not valid JSON");
    m = manifest_from_json(j);
  } catch (const json::exception& e) {
    bad_manifest(id, std::string("is not a decant manifest: ") + e.what());
  }
  if (m.id != id) bad_manifest(id, "belongs to another backup (" + m.id + "): it was swapped");
  if (m.format != 1) bad_manifest(id, fmt::format("has format {}, which this decant does not read", m.format));
  return m;
}

nlohmann::json chunk_list(const Manifest& m) {
  nlohmann::json list = nlohmann::json::array();
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

void BackupAt::open(const RepositoryOptions& options, const std::optional<std::string>& id) {
  repo = open_repository(options, RepositoryUse::existing);
  entry = find_backup(load_all_indexes(*repo), id, *repo);
}

int run_on_backup(const engine::RunSettings& settings, const RepositoryOptions& repo,
                  const std::optional<std::string>& id, const std::string& to,
                  const std::function<int(engine::RunFrame&, BackupAt&)>& body) {
  BackupAt backup;
  auto open = [&] {
    backup.open(repo, id);
    // "restore REPO ID -> TARGET": the verb names the command's state apart from the others'.
    std::string verb = settings.command.substr(settings.command.rfind(' ') + 1);
    return engine::Endpoints{backup.name(), to, verb + " " + backup.name() + (to.empty() ? "" : " -> " + to)};
  };
  return engine::run_in_frame(settings, open, [&](engine::RunFrame& frame) { return body(frame, backup); });
}

}  // namespace decant::backup
