// Index specs compare equal for the same index however a server lists it, and differ for
// different indexes; the create and createIndexes commands carry what a newer server
// needs to rebuild the same collection.
#include <gtest/gtest.h>

#include <vector>

#include "mongo/catalog.hpp"

namespace decant::mongo {
namespace {

std::vector<std::string> fingerprints(std::initializer_list<const char*> json_specs) {
  std::vector<Bson> specs;
  for (const char* j : json_specs) specs.push_back(Bson::from_json(j));
  return index_fingerprints(specs);
}

TEST(IndexFingerprint, ServerDetailsNumberTypesAndOptionOrderDoNotMatter) {
  auto shell = fingerprints({R"({"v": 1, "key": {"a": {"$numberDouble": "1.0"}, "b": {"$numberDouble": "-1.0"}},
                                 "name": "a_b", "ns": "circle_ghe.builds", "background": true,
                                 "expireAfterSeconds": {"$numberDouble": "3600.0"}})"});
  auto driver = fingerprints({R"({"name": "a_b", "expireAfterSeconds": {"$numberInt": "3600"}, "v": 2,
                                  "key": {"a": {"$numberInt": "1"}, "b": {"$numberLong": "-1"}}})"});
  EXPECT_EQ(shell, driver);
}

TEST(IndexFingerprint, DifferentIndexesDiffer) {
  auto base = fingerprints({R"({"key": {"a": 1, "b": 1}, "name": "ab"})"});
  EXPECT_NE(base, fingerprints({R"({"key": {"b": 1, "a": 1}, "name": "ab"})"})) << "key order is the index";
  EXPECT_NE(base, fingerprints({R"({"key": {"a": 1, "b": -1}, "name": "ab"})"}));
  EXPECT_NE(base, fingerprints({R"({"key": {"a": 1, "b": 1}, "name": "ab", "unique": true})"}));
  EXPECT_NE(base, fingerprints({R"({"key": {"a": 1, "b": 1}, "name": "ab", "partialFilterExpression": {"x": 1}})"}));
  EXPECT_NE(fingerprints({R"({"key": {"t": 1}, "name": "t", "expireAfterSeconds": {"$numberDouble": "0.5"}})"}),
            fingerprints({R"({"key": {"t": 1}, "name": "t", "expireAfterSeconds": 0})"}))
      << "a fraction is not rounded away";
  EXPECT_NE(fingerprints({R"({"key": {"loc": "2dsphere"}, "name": "loc"})"}),
            fingerprints({R"({"key": {"loc": 1}, "name": "loc"})"}));
}

TEST(IndexFingerprint, FlagsAsNumbersAndOptionsTheServerIgnoresDoNotMatter) {
  // A 3.6 source may list {unique: 1, safe: true}; MongoDB 5.0+ lists {unique: true}.
  EXPECT_EQ(fingerprints({R"({"key": {"a": 1}, "name": "a", "unique": 1, "sparse": 0, "safe": true, "dropDups": true})"}),
            fingerprints({R"({"key": {"a": 1}, "name": "a", "unique": true, "sparse": false})"}));
  EXPECT_NE(fingerprints({R"({"key": {"a": 1}, "name": "a", "unique": 1})"}),
            fingerprints({R"({"key": {"a": 1}, "name": "a", "unique": 0})"}));
  EXPECT_EQ(fingerprints({R"({"key": {"a": 1}, "name": "a", "unique": false})"}),
            fingerprints({R"({"key": {"a": 1}, "name": "a"})"}))
      << "a false flag is no flag";
}

TEST(IndexFingerprint, TheSetIsComparedNotTheListOrder) {
  EXPECT_EQ(fingerprints({R"({"key": {"a": 1}, "name": "a"})", R"({"key": {"b": 1}, "name": "b"})"}),
            fingerprints({R"({"key": {"b": 1}, "name": "b"})", R"({"key": {"a": 1}, "name": "a"})"}));
}

std::vector<std::string> names_left(std::initializer_list<const char*> json_specs) {
  std::vector<Bson> specs;
  for (const char* j : json_specs) specs.push_back(Bson::from_json(j));
  std::vector<std::string> names;
  for (const auto& s : without_default_id_index(std::move(specs))) {
    bson_iter_t it;
    names.push_back(bson_iter_init_find(&it, s.get(), "name") ? bson_iter_utf8(&it, nullptr) : "?");
  }
  return names;
}

TEST(IdIndex, OnlyTheDefaultIdIndexIsLeftOut) {
  using V = std::vector<std::string>;
  EXPECT_EQ(names_left({R"({"key": {"_id": 1}, "name": "_id_"})", R"({"key": {"a": 1}, "name": "a"})"}), V{"a"});
  // An old server's differently named one, with the key as a double.
  EXPECT_EQ(names_left({R"({"key": {"_id": {"$numberDouble": "1.0"}}, "name": "pk"})"}), V{});
  // A second {_id: 1} index with its own collation is an index to copy.
  EXPECT_EQ(names_left({R"({"key": {"_id": 1}, "name": "_id_fr", "collation": {"locale": "fr"}})",
                        R"({"key": {"_id": 1}, "name": "_id_"})"}),
            V{"_id_fr"});
  EXPECT_EQ(names_left({R"({"key": {"_id": "hashed"}, "name": "_id_hashed"})"}), V{"_id_hashed"});
  EXPECT_EQ(names_left({R"({"key": {"_id": 1, "a": 1}, "name": "_id_a"})"}), V{"_id_a"});
  EXPECT_EQ(names_left({R"({"key": {"_id": 1}, "name": "p", "partialFilterExpression": {"a": 1}})"}), V{"p"});
}

CollectionInfo collection(const char* options, std::initializer_list<const char*> indexes) {
  CollectionInfo c;
  c.db = "circle_ghe";
  c.name = "builds";
  c.options = Bson::from_json(options);
  for (const char* i : indexes) c.indexes.push_back(Bson::from_json(i));
  return c;
}

TEST(CreateCommands, CreateLeavesOutWhatANewerServerRefusesOrOwns) {
  auto c = collection(R"({"capped": true, "size": 4096, "autoIndexId": false, "recordIdsReplicated": true,
                          "storageEngine": {"wiredTiger": {}}, "validator": {"a": {"$exists": true}}})", {});
  EXPECT_EQ(create_command(c).json(),
            Bson::from_json(R"({"create": "builds", "capped": true, "size": 4096, "validator": {"a": {"$exists": true}}})")
                .json());
}

TEST(CreateCommands, OnlyACollectionWithAValidatorAsksToBypassIt) {
  // bypassDocumentValidation needs more than readWrite on the target: asked only where needed.
  EXPECT_TRUE(collection(R"({"validator": {"a": {"$exists": true}}, "validationLevel": "strict"})", {}).has_validator());
  EXPECT_FALSE(collection(R"({"capped": true, "size": 4096})", {}).has_validator());
}

TEST(CreateCommands, IndexesWithoutACollationKeepTheSimpleOneOnACollationCollection) {
  auto c = collection(R"({"collation": {"locale": "fr", "strength": 2}})",
                      {R"({"key": {"a": 1}, "name": "a"})", R"({"key": {"b": 1}, "name": "b", "collation": {"locale": "de"}})"});
  std::string cmd = create_indexes_command(c, 8).json();
  EXPECT_NE(cmd.find(R"({ "key" : { "a" : { "$numberInt" : "1" } }, "name" : "a", "collation" : { "locale" : "simple" } })"),
            std::string::npos)
      << cmd;
  EXPECT_NE(cmd.find(R"("collation" : { "locale" : "de" })"), std::string::npos) << cmd;
  EXPECT_NE(cmd.find(R"("ignoreUnknownIndexOptions" : true)"), std::string::npos) << cmd;
  // Without a collection collation nothing is added; an old server gets no unknown field.
  std::string plain = create_indexes_command(collection("{}", {R"({"key": {"a": 1}, "name": "a"})"}), 7).json();
  EXPECT_EQ(plain.find("collation"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("ignoreUnknownIndexOptions"), std::string::npos) << plain;
}

}  // namespace
}  // namespace decant::mongo
