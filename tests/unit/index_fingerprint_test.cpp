// Index specs compare equal for the same index however a server lists it, and differ for
// different indexes.
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

TEST(IndexFingerprint, TheSetIsComparedNotTheListOrder) {
  EXPECT_EQ(fingerprints({R"({"key": {"a": 1}, "name": "a"})", R"({"key": {"b": 1}, "name": "b"})"}),
            fingerprints({R"({"key": {"b": 1}, "name": "b"})", R"({"key": {"a": 1}, "name": "a"})"}));
}

}  // namespace
}  // namespace decant::mongo
