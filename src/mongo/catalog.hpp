#pragma once
// What a MongoDB deployment holds: databases, collections and views with their
// options, and each collection's indexes.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mongo/client.hpp"

namespace decant::mongo {

struct CollectionInfo {
  std::string db;
  std::string name;
  bool is_view = false;
  Bson options;               // listCollections' "options": capped, size, max, validator, collation, viewOn, ...
  std::vector<Bson> indexes;  // listIndexes specs, without the _id index
  uint64_t documents = 0;     // an estimate, for scheduling and the ETA
  uint64_t bytes = 0;

  std::string display() const { return db + "." + name; }
  // Natural order is part of a capped collection's meaning: it is filled by one writer.
  bool capped() const;
  // A validator, which documents copied as they are may have to bypass.
  bool has_validator() const;
};

// Non-system databases (not admin, local, config), or only `only` when given.
std::vector<std::string> list_databases(mongoc_client_t* client, const std::vector<std::string>& only,
                                        const std::string& where);
// Collections first (largest first), then views; system.* collections are skipped.
std::vector<CollectionInfo> list_collections(mongoc_client_t* client, const std::string& db, const std::string& where);
std::vector<Bson> list_indexes(mongoc_client_t* client, const std::string& db, const std::string& collection,
                               const std::string& where);

// The `create` command that recreates a collection or view with its options.
Bson create_command(const CollectionInfo& info);
// The `createIndexes` command for a collection's indexes (empty when it has none), for a
// target of the given wire version (see max_wire_version).
Bson create_indexes_command(const CollectionInfo& info, int target_wire_version);
int max_wire_version(mongoc_client_t* client, const std::string& where);
// `specs` without the index every collection has: {_id: 1}, not partial, named _id_ (or,
// when none is so named, the first {_id: 1}).
std::vector<Bson> without_default_id_index(std::vector<Bson> specs);
// A spec without the fields that describe the server it was listed on ("v", "ns",
// "background"): what createIndexes is given.
Bson portable_index_spec(const bson_t* spec);
// Index specs as the server lists them, _id index included (for mongodump metadata).
std::vector<Bson> list_index_specs(mongoc_client_t* client, const std::string& db, const std::string& collection,
                                   const std::string& where);
uint64_t count_documents(mongoc_client_t* client, const std::string& db, const std::string& collection,
                         const std::string& where);
// The document count collStats gives: the storage engine's own count on MongoDB (what
// estimatedDocumentCount reads, no scan) and a table count on FerretDB, whose `count`
// without a query reads every document. nullopt when the server does not say or refuses.
std::optional<uint64_t> stored_document_count(mongoc_client_t* client, const std::string& db,
                                              const std::string& collection, const std::string& where);
// Document counts of `collections` (views left out) by DB.COLL, as stored_document_count.
std::map<std::string, uint64_t> stored_document_counts(mongoc_client_t* client,
                                                       const std::vector<CollectionInfo>& collections,
                                                       const std::string& where);
// The collections whose counts differ between `before` and `after`, as
// "DB.COLL (5000 -> 5003)" ("" when none did); one counted only once is not compared.
std::string changed_counts(const std::map<std::string, uint64_t>& before, const std::map<std::string, uint64_t>& after);

void drop_collection(mongoc_client_t* client, const std::string& db, const std::string& collection,
                     const std::string& where);
// The collection's UUID as 32 hex digits ("" when the server does not say).
std::string collection_uuid(mongoc_client_t* client, const std::string& db, const std::string& collection,
                            const std::string& where);

// Index specs in a form that compares equal for the same indexes on any two servers
// (sorted; only the fields that define an index, in name order; whole numbers as int64;
// flags as bools).
std::vector<std::string> index_fingerprints(const std::vector<Bson>& specs);

}  // namespace decant::mongo
