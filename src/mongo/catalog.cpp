#include "mongo/catalog.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "common/error.hpp"

namespace decant::mongo {
namespace {

bool is_system_db(const std::string& name) { return name == "admin" || name == "local" || name == "config"; }

// A copy of `spec` without the fields that describe the server rather than the index.
Bson portable_index_spec(const bson_t* spec) {
  Bson out;
  bson_copy_to_excluding_noinit(spec, out.get(), "v", "ns", "background", nullptr);
  return out;
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

// An index spec as a string that is equal for the same index on any server: without the
// fields that describe the server ("v", "ns", "background"), options in name order (a
// server may list them in another order than they were given), numbers normalized.
std::string index_fingerprint(const bson_t* spec) {
  std::vector<std::string> keys;
  bson_iter_t it;
  if (bson_iter_init(&it, spec))
    while (bson_iter_next(&it)) {
      std::string key = bson_iter_key(&it);
      if (key != "v" && key != "ns" && key != "background") keys.push_back(key);
    }
  std::sort(keys.begin(), keys.end());
  Bson out;
  for (const auto& key : keys)
    if (bson_iter_init_find(&it, spec, key.c_str())) append_normalized(out.get(), key.c_str(), &it);
  return out.json();
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

std::vector<Bson> list_indexes(mongoc_client_t* client, const std::string& db, const std::string& collection,
                               const std::string& where) {
  std::vector<Bson> out;
  for (auto& spec : list_index_specs(client, db, collection, where)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, spec.get(), "name") && std::string(bson_iter_utf8(&it, nullptr)) == "_id_") continue;
    out.push_back(portable_index_spec(spec.get()));
  }
  return out;
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

Bson create_command(const CollectionInfo& info) {
  Bson cmd;
  BSON_APPEND_UTF8(cmd.get(), "create", info.name.c_str());
  bson_iter_t it;
  if (bson_iter_init(&it, info.options.get()))
    while (bson_iter_next(&it)) {
      // Storage-engine internals are the target's business.
      std::string key = bson_iter_key(&it);
      if (key == "storageEngine" || key == "indexOptionDefaults" || key == "uuid") continue;
      bson_append_iter(cmd.get(), nullptr, 0, &it);
    }
  return cmd;
}

Bson create_indexes_command(const CollectionInfo& info) {
  Bson cmd;
  if (info.indexes.empty()) return cmd;
  BSON_APPEND_UTF8(cmd.get(), "createIndexes", info.name.c_str());
  bson_t array;
  BSON_APPEND_ARRAY_BEGIN(cmd.get(), "indexes", &array);
  for (size_t i = 0; i < info.indexes.size(); ++i) {
    std::string key = std::to_string(i);
    BSON_APPEND_DOCUMENT(&array, key.c_str(), info.indexes[i].get());
  }
  bson_append_array_end(cmd.get(), &array);
  return cmd;
}

std::vector<std::string> index_fingerprints(const std::vector<Bson>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(index_fingerprint(s.get()));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace decant::mongo
