#include "mongo/catalog.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/error.hpp"
#include "common/log.hpp"
#include "mongo/target_journal.hpp"

namespace decant::mongo {
namespace {

// The server's own databases, and decant's resume state (mongo/target_journal.hpp).
bool is_system_db(const std::string& name) {
  return name == "admin" || name == "local" || name == "config" || name == kStateDatabase;
}

// Appends `it`'s value to `out` under `key`, with every integral number (int32, int64 or
// a whole double) as int64: a shell writes {a: 1.0} where a driver writes {a: 1}, and a
// server may store either; both are the same index.
void append_normalized(bson_t* out, const char* key, const bson_iter_t* it) {
  switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
      BSON_APPEND_INT64(out, key, bson_iter_as_int64(it));
      return;
    case BSON_TYPE_DOUBLE: {
      double d = bson_iter_double(it);
      if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e18)
        BSON_APPEND_INT64(out, key, static_cast<int64_t>(d));
      else
        BSON_APPEND_DOUBLE(out, key, d);
      return;
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
      bool array = bson_iter_type(it) == BSON_TYPE_ARRAY;
      bson_iter_t child;
      bson_iter_recurse(it, &child);
      bson_t sub;
      if (array)
        bson_append_array_begin(out, key, -1, &sub);
      else
        bson_append_document_begin(out, key, -1, &sub);
      // Field order inside is kept: it is meaningful in a compound key pattern.
      while (bson_iter_next(&child)) append_normalized(&sub, bson_iter_key(&child), &child);
      if (array)
        bson_append_array_end(out, &sub);
      else
        bson_append_document_end(out, &sub);
      return;
    }
    default:
      bson_append_iter(out, key, -1, it);
  }
}

// The fields that define an index. A server ignores others (old specs carry "safe" or
// "dropDups"; createIndexes is sent with ignoreUnknownIndexOptions), and "v", "ns" and
// "background" describe the server, not the index.
const std::set<std::string> kIndexFields = {
    "key",  "name", "unique", "sparse", "partialFilterExpression", "expireAfterSeconds", "collation", "weights",
    "default_language", "language_override", "textIndexVersion", "2dsphereIndexVersion", "bits", "min", "max",
    "bucketSize", "hidden", "wildcardProjection", "columnstoreProjection", "prepareUnique", "clustered",
    "storageEngine", "finestIndexedLevel", "coarsestIndexedLevel"};
// Options a server may list as a bool however they were given (MongoDB 5.0+ does).
const std::set<std::string> kBoolIndexFields = {"unique", "sparse", "hidden", "prepareUnique", "clustered"};

// An index spec as a string that is equal for the same index on any server: its defining
// fields only, in name order (a server may list them in another order than they were
// given), numbers and flags normalized.
std::string index_fingerprint(const bson_t* spec) {
  std::vector<std::string> keys;
  bson_iter_t it;
  if (bson_iter_init(&it, spec))
    while (bson_iter_next(&it))
      if (kIndexFields.count(bson_iter_key(&it))) keys.push_back(bson_iter_key(&it));
  std::sort(keys.begin(), keys.end());
  Bson out;
  for (const auto& key : keys) {
    if (!bson_iter_init_find(&it, spec, key.c_str())) continue;
    if (kBoolIndexFields.count(key)) {
      // A false flag is the same index as no flag.
      if (bson_iter_as_bool(&it)) BSON_APPEND_BOOL(out.get(), key.c_str(), true);
    } else
      append_normalized(out.get(), key.c_str(), &it);
  }
  return out.json();
}

// The collection's default collation, unless it is the simple one (or there is none).
bool has_non_simple_collation(const Bson& options) {
  bson_iter_t it, locale;
  if (!bson_iter_init_find(&it, options.get(), "collation") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  bson_iter_recurse(&it, &locale);
  return !(bson_iter_find(&locale, "locale") && BSON_ITER_HOLDS_UTF8(&locale) &&
           std::string(bson_iter_utf8(&locale, nullptr)) == "simple");
}

}  // namespace

std::vector<std::string> list_databases(mongoc_client_t* client, const std::vector<std::string>& only,
                                        const std::string& where) {
  bson_error_t error;
  char** names = mongoc_client_get_database_names_with_opts(client, nullptr, &error);
  if (!names) fail(error, where, "listing databases");
  std::vector<std::string> out;
  for (char** n = names; *n; ++n)
    if (!is_system_db(*n) && (only.empty() || std::find(only.begin(), only.end(), *n) != only.end()))
      out.emplace_back(*n);
  bson_strfreev(names);
  for (const auto& name : only)
    if (std::find(out.begin(), out.end(), name) == out.end())
      throw Error(ExitCode::usage, "the " + where + " has no database named " + name, "check --db");
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Bson> list_index_specs(mongoc_client_t* client, const std::string& db, const std::string& collection,
                                   const std::string& where) {
  CollectionPtr coll(mongoc_client_get_collection(client, db.c_str(), collection.c_str()));
  CursorPtr cursor(mongoc_collection_find_indexes_with_opts(coll.get(), nullptr));
  return drain(cursor.get(), where, "listing the indexes of " + db + "." + collection);
}

uint64_t count_documents(mongoc_client_t* client, const std::string& db, const std::string& collection,
                         const std::string& where) {
  CollectionPtr coll(mongoc_client_get_collection(client, db.c_str(), collection.c_str()));
  Bson filter;
  bson_error_t error;
  int64_t n = mongoc_collection_count_documents(coll.get(), filter.get(), nullptr, nullptr, nullptr, &error);
  if (n < 0) fail(error, where, "counting documents in " + db + "." + collection);
  return static_cast<uint64_t>(n);
}

std::optional<uint64_t> stored_document_count(mongoc_client_t* client, const std::string& db,
                                              const std::string& collection, const std::string& where) {
  Bson stats;
  BSON_APPEND_UTF8(stats.get(), "collStats", collection.c_str());
  try {
    Bson reply = run_command(client, db, stats, where);
    bson_iter_t it;
    if (!bson_iter_init_find(&it, reply.get(), "count") || !BSON_ITER_HOLDS_NUMBER(&it)) return std::nullopt;
    return static_cast<uint64_t>(bson_iter_as_int64(&it));
  } catch (const Error& e) {
    // A count is a check on top of the copy, not a reason to stop it.
    log::debug("no document count for {}.{}: {}", db, collection, e.what());
    return std::nullopt;
  }
}

std::map<std::string, uint64_t> stored_document_counts(mongoc_client_t* client,
                                                       const std::vector<CollectionInfo>& collections,
                                                       const std::string& where) {
  std::map<std::string, uint64_t> out;
  for (const auto& c : collections)
    if (!c.is_view)
      if (auto n = stored_document_count(client, c.db, c.name, where)) out[c.display()] = *n;
  return out;
}

std::string changed_counts(const std::map<std::string, uint64_t>& before, const std::map<std::string, uint64_t>& after) {
  std::string out;
  for (const auto& [name, n] : before) {
    auto it = after.find(name);
    if (it != after.end() && it->second != n)
      out += fmt::format("{}{} ({} -> {})", out.empty() ? "" : ", ", name, n, it->second);
  }
  return out;
}

void drop_collection(mongoc_client_t* client, const std::string& db, const std::string& collection,
                     const std::string& where) {
  CollectionPtr coll(mongoc_client_get_collection(client, db.c_str(), collection.c_str()));
  bson_error_t error;
  if (!mongoc_collection_drop_with_opts(coll.get(), nullptr, &error) && error.code != 26)  // 26: NamespaceNotFound
    fail(error, where, "dropping " + db + "." + collection);
}

std::string collection_uuid(mongoc_client_t* client, const std::string& db, const std::string& collection,
                            const std::string& where) {
  DatabasePtr database(mongoc_client_get_database(client, db.c_str()));
  Bson opts;
  bson_t filter;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "filter", &filter);
  BSON_APPEND_UTF8(&filter, "name", collection.c_str());
  bson_append_document_end(opts.get(), &filter);
  CursorPtr cursor(mongoc_database_find_collections_with_opts(database.get(), opts.get()));
  for (auto& entry : drain(cursor.get(), where, "reading the collection " + db + "." + collection)) {
    bson_iter_t it;
    if (bson_iter_init(&it, entry.get()) && bson_iter_find_descendant(&it, "info.uuid", &it) &&
        BSON_ITER_HOLDS_BINARY(&it)) {
      bson_subtype_t subtype;
      uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_binary(&it, &subtype, &len, &data);
      std::string hex;
      for (uint32_t i = 0; i < len; ++i) hex += fmt::format("{:02x}", data[i]);
      return hex;
    }
  }
  return "";
}

namespace {

// {_id: 1} and nothing else, not partial; {_id: "hashed"} is an index of its own.
bool is_id_key_index(const bson_t* spec) {
  bson_iter_t it, key;
  if (bson_iter_init_find(&it, spec, "partialFilterExpression")) return false;
  if (!bson_iter_init_find(&it, spec, "key") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  bson_iter_recurse(&it, &key);
  return bson_iter_next(&key) && std::string(bson_iter_key(&key)) == "_id" && BSON_ITER_HOLDS_NUMBER(&key) &&
         bson_iter_as_int64(&key) == 1 && !bson_iter_next(&key);
}

bool named(const bson_t* spec, const char* name) {
  bson_iter_t it;
  return bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it) &&
         std::string(bson_iter_utf8(&it, nullptr)) == name;
}

}  // namespace

std::vector<Bson> without_default_id_index(std::vector<Bson> specs) {
  // The one named _id_; failing that (old servers named it otherwise), the first {_id: 1}.
  // Another {_id: 1} index (with its own collation) is a secondary index to copy.
  auto is_default = [](const Bson& s) { return is_id_key_index(s.get()) && named(s.get(), "_id_"); };
  auto it = std::find_if(specs.begin(), specs.end(), is_default);
  if (it == specs.end())
    it = std::find_if(specs.begin(), specs.end(), [](const Bson& s) { return is_id_key_index(s.get()); });
  if (it != specs.end()) specs.erase(it);
  return specs;
}

Bson portable_index_spec(const bson_t* spec) {
  Bson out;
  bson_copy_to_excluding_noinit(spec, out.get(), "v", "ns", "background", nullptr);
  return out;
}

std::vector<Bson> list_indexes(mongoc_client_t* client, const std::string& db, const std::string& collection,
                               const std::string& where) {
  std::vector<Bson> out;
  for (auto& spec : without_default_id_index(list_index_specs(client, db, collection, where)))
    out.push_back(portable_index_spec(spec.get()));
  return out;
}

int max_wire_version(mongoc_client_t* client, const std::string& where) {
  Bson reply = hello(client, where);
  bson_iter_t it;
  return bson_iter_init_find(&it, reply.get(), "maxWireVersion") ? static_cast<int>(bson_iter_as_int64(&it)) : 0;
}

std::vector<CollectionInfo> list_collections(mongoc_client_t* client, const std::string& db,
                                             const std::string& where) {
  DatabasePtr database(mongoc_client_get_database(client, db.c_str()));
  CursorPtr cursor(mongoc_database_find_collections_with_opts(database.get(), nullptr));
  std::vector<CollectionInfo> out;
  for (auto& entry : drain(cursor.get(), where, "listing the collections of " + db)) {
    CollectionInfo info;
    info.db = db;
    bson_iter_t it;
    if (bson_iter_init_find(&it, entry.get(), "name")) info.name = bson_iter_utf8(&it, nullptr);
    // System collections belong to the server, but for stored JavaScript, which mongodump
    // also keeps.
    if (info.name.rfind("system.", 0) == 0 && info.name != "system.js") continue;
    if (bson_iter_init_find(&it, entry.get(), "type")) info.is_view = std::string(bson_iter_utf8(&it, nullptr)) == "view";
    if (bson_iter_init_find(&it, entry.get(), "options") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_document(&it, &len, &data);
      info.options = Bson(bson_new_from_data(data, len));
    }
    if (!info.is_view) {
      info.indexes = list_indexes(client, db, info.name, where);
      Bson stats;
      BSON_APPEND_UTF8(stats.get(), "collStats", info.name.c_str());
      bson_t reply;
      bson_error_t error;
      if (mongoc_client_command_simple(client, db.c_str(), stats.get(), nullptr, &reply, &error)) {
        if (bson_iter_init_find(&it, &reply, "count")) info.documents = static_cast<uint64_t>(bson_iter_as_int64(&it));
        if (bson_iter_init_find(&it, &reply, "size")) info.bytes = static_cast<uint64_t>(bson_iter_as_int64(&it));
      }
      bson_destroy(&reply);
    }
    out.push_back(std::move(info));
  }
  std::stable_sort(out.begin(), out.end(), [](const CollectionInfo& a, const CollectionInfo& b) {
    if (a.is_view != b.is_view) return !a.is_view;
    return a.bytes > b.bytes;
  });
  return out;
}

bool CollectionInfo::capped() const {
  bson_iter_t it;
  return bson_iter_init_find(&it, options.get(), "capped") && bson_iter_as_bool(&it);
}

bool CollectionInfo::has_validator() const {
  bson_iter_t it;
  return bson_iter_init_find(&it, options.get(), "validator");
}

Bson create_command(const CollectionInfo& info) {
  Bson cmd;
  BSON_APPEND_UTF8(cmd.get(), "create", info.name.c_str());
  bson_iter_t it;
  if (bson_iter_init(&it, info.options.get()))
    while (bson_iter_next(&it)) {
      // Storage-engine internals are the target's business.
      std::string key = bson_iter_key(&it);
      // autoIndexId: every collection has an _id index since 4.0 (8.2 refuses the option);
      // recordIdsReplicated: a server-internal 8.x flag (as mongorestore drops them).
      if (key == "storageEngine" || key == "indexOptionDefaults" || key == "uuid" || key == "autoIndexId" ||
          key == "recordIdsReplicated")
        continue;
      bson_append_iter(cmd.get(), nullptr, 0, &it);
    }
  return cmd;
}

Bson create_indexes_command(const CollectionInfo& info, int target_wire_version) {
  Bson cmd;
  if (info.indexes.empty()) return cmd;
  BSON_APPEND_UTF8(cmd.get(), "createIndexes", info.name.c_str());
  // An index listed without a collation has the simple one; created so on a collection
  // with a default collation, it would take that instead.
  bool pin_simple = has_non_simple_collation(info.options);
  bson_t array;
  BSON_APPEND_ARRAY_BEGIN(cmd.get(), "indexes", &array);
  for (size_t i = 0; i < info.indexes.size(); ++i) {
    std::string key = std::to_string(i);
    bson_iter_t it;
    if (pin_simple && !bson_iter_init_find(&it, info.indexes[i].get(), "collation")) {
      Bson spec = Bson::copy_of(info.indexes[i].get());
      bson_t collation;
      BSON_APPEND_DOCUMENT_BEGIN(spec.get(), "collation", &collation);
      BSON_APPEND_UTF8(&collation, "locale", "simple");
      bson_append_document_end(spec.get(), &collation);
      BSON_APPEND_DOCUMENT(&array, key.c_str(), spec.get());
    } else {
      BSON_APPEND_DOCUMENT(&array, key.c_str(), info.indexes[i].get());
    }
  }
  bson_append_array_end(cmd.get(), &array);
  // Old specs may carry options a newer server no longer knows ("safe"); MongoDB 4.2+
  // (wire version 8) can be told to ignore them, as mongorestore does.
  if (target_wire_version >= 8) BSON_APPEND_BOOL(cmd.get(), "ignoreUnknownIndexOptions", true);
  return cmd;
}

std::vector<std::string> index_fingerprints(const std::vector<Bson>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(index_fingerprint(s.get()));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace decant::mongo
