// The target login's privileges, from connectionStatus replies shaped as MongoDB's
// (docs: connectionStatus, built-in roles readWrite, readWriteAnyDatabase, dbAdmin, root)
// and as FerretDB's (which keeps no privileges: taken from a FerretDB 1.24 server).
#include <gtest/gtest.h>

#include <array>

#include "mongo/privileges.hpp"

namespace decant::mongo {
namespace {

// readWrite's actions on a database, as MongoDB 7 lists them.
constexpr const char* kReadWriteActions =
    R"(["changeStream", "collStats", "compactStructuredEncryptionData", "convertToCapped", "createCollection",
        "createIndex", "dbHash", "dbStats", "dropCollection", "dropIndex", "find", "insert", "killCursors",
        "listCollections", "listIndexes", "listSearchIndexes", "planCacheRead", "remove", "renameCollectionSameDB",
        "update"])";

std::string reply_with(const std::string& privileges) {
  return std::string(R"({"authInfo": {"authenticatedUsers": [{"user": "circle", "db": "admin"}],
                         "authenticatedUserRoles": [{"role": "readWrite", "db": "circle_ghe"}],
                         "authenticatedUserPrivileges": [)") +
         privileges + "]}, \"ok\": 1.0}";
}

std::string read_write_on(const std::string& db) {
  return R"({"resource": {"db": ")" + db + R"(", "collection": ""}, "actions": )" + kReadWriteActions +
         R"(}, {"resource": {"db": ")" + db + R"(", "collection": "system.js"}, "actions": ["find"]})";
}

std::vector<Privilege> privileges(const std::string& entries) {
  Bson reply = Bson::from_json(reply_with(entries));
  auto out = privileges_from_reply(reply.get());
  EXPECT_TRUE(out.has_value());
  return out.value_or(std::vector<Privilege>{});
}

CollectionInfo collection(const std::string& db, const std::string& name, const std::string& options = "{}",
                          bool indexed = true) {
  CollectionInfo c;
  c.db = db;
  c.name = name;
  c.options = Bson::from_json(options);
  if (indexed) c.indexes.push_back(Bson::from_json(R"({"key": {"login": 1}, "name": "login_1"})"));
  return c;
}

std::vector<std::string> missing(const std::string& entries, const std::vector<CollectionInfo>& collections,
                                 bool journal_on_target) {
  std::vector<const CollectionInfo*> all;
  for (const auto& c : collections) all.push_back(&c);
  return ungranted(privileges(entries), copy_target(all, journal_on_target).needs);
}

// CollectionInfo moves only: no initializer lists.
std::vector<CollectionInfo> collections(std::vector<std::array<std::string, 3>> specs) {
  std::vector<CollectionInfo> out;
  for (const auto& [db, name, options] : specs) out.push_back(collection(db, name, options, options == "{}"));
  return out;
}

const std::vector<CollectionInfo> kCircle = collections({{"circle_ghe", "builds", "{}"}, {"circle_ghe", "users", "{}"}});

TEST(MongoPrivileges, ReadWriteOnTheCopiedDatabaseIsEnoughForALocalCopy) {
  EXPECT_EQ(missing(read_write_on("circle_ghe"), kCircle, false), std::vector<std::string>{});
}

TEST(MongoPrivileges, AJournalOnTheTargetAlsoNeedsReadWriteOnDecantState) {
  auto lacking = missing(read_write_on("circle_ghe"), kCircle, true);
  EXPECT_EQ(lacking, (std::vector<std::string>{"find on decant_state.journal", "insert on decant_state.journal",
                                               "dropCollection on decant_state.journal", "find on decant_state.lease",
                                               "insert on decant_state.lease", "update on decant_state.lease",
                                               "remove on decant_state.lease", "dropCollection on decant_state.lease"}));
  EXPECT_EQ(missing(read_write_on("circle_ghe") + ", " + read_write_on("decant_state"), kCircle, true),
            std::vector<std::string>{});
}

TEST(MongoPrivileges, ReadWriteOnAnotherDatabaseGrantsNothingHere) {
  auto lacking = missing(read_write_on("circle"), kCircle, false);
  ASSERT_FALSE(lacking.empty());
  EXPECT_EQ(lacking.front(), "listCollections on circle_ghe");
  EXPECT_EQ(lacking[1], "listIndexes on circle_ghe");
  EXPECT_NE(std::find(lacking.begin(), lacking.end(), "insert on circle_ghe.users"), lacking.end());
}

TEST(MongoPrivileges, AnyDatabaseAndAnyResourceGrantEverything) {
  // readWriteAnyDatabase: every database's non-system collections; root: anyResource.
  std::string any_database = R"({"resource": {"db": "", "collection": ""}, "actions": )" + std::string(kReadWriteActions) + "}";
  EXPECT_EQ(missing(any_database, kCircle, true), std::vector<std::string>{});
  EXPECT_EQ(missing(R"({"resource": {"anyResource": true}, "actions": ["anyAction"]})", kCircle, true),
            std::vector<std::string>{});
  EXPECT_FALSE(missing(R"({"resource": {"anyResource": true}, "actions": ["find"]})", kCircle, true).empty());
}

TEST(MongoPrivileges, ACollectionGrantCoversThatCollectionOnly) {
  std::string builds_only = R"({"resource": {"db": "circle_ghe", "collection": "builds"}, "actions": )" +
                            std::string(kReadWriteActions) + "}";
  auto lacking = missing(builds_only, kCircle, false);
  // The database-level listCollections needs a resource that names no collection.
  EXPECT_EQ(lacking.front(), "listCollections on circle_ghe");
  for (const auto& l : lacking) EXPECT_EQ(l.find("circle_ghe.builds"), std::string::npos) << l;
  EXPECT_NE(std::find(lacking.begin(), lacking.end(), "createCollection on circle_ghe.users"), lacking.end());
}

TEST(MongoPrivileges, ADatabaseWildcardNeverCoversSystemCollections) {
  auto lacking = missing(read_write_on("circle_ghe"), collections({{"circle_ghe", "system.custom", "{}"}}), false);
  EXPECT_NE(std::find(lacking.begin(), lacking.end(), "insert on circle_ghe.system.custom"), lacking.end());
}

TEST(MongoPrivileges, AValidatedCollectionNeedsBypassDocumentValidationWhichDbAdminGrants) {
  CollectionInfo validated = collection("circle_ghe", "projects", R"({"validator": {"name": {"$type": "string"}}})");
  std::vector<const CollectionInfo*> all{&validated};
  auto target = copy_target(all, false);
  EXPECT_EQ(ungranted(privileges(read_write_on("circle_ghe")), target.needs),
            std::vector<std::string>{"bypassDocumentValidation on circle_ghe.projects"});
  std::string db_admin = R"({"resource": {"db": "circle_ghe", "collection": ""}, "actions": ["bypassDocumentValidation",
                            "collMod", "collStats", "compact", "convertToCapped", "createCollection", "createIndex",
                            "dbStats", "dropCollection", "dropDatabase", "dropIndex", "enableProfiler", "listCollections",
                            "listIndexes", "planCacheIndexFilter", "planCacheRead", "planCacheWrite", "reIndex",
                            "renameCollectionSameDB", "storageDetails", "validate"]})";
  EXPECT_EQ(ungranted(privileges(read_write_on("circle_ghe") + ", " + db_admin), target.needs),
            std::vector<std::string>{});
  EXPECT_EQ(target.roles, (std::vector<std::string>{R"({role: "readWrite", db: "circle_ghe"})",
                                                    R"({role: "dbAdmin", db: "circle_ghe"})"}));
}

TEST(MongoPrivileges, TheHintNamesReadWriteOnEveryDatabaseWritten) {
  CollectionInfo builds = collection("circle_ghe", "builds"), hosts = collection("vms", "hosts", "{}", false);
  std::vector<const CollectionInfo*> all{&builds, &hosts};
  EXPECT_EQ(copy_target(all, true).roles,
            (std::vector<std::string>{R"({role: "readWrite", db: "circle_ghe"})", R"({role: "readWrite", db: "vms"})",
                                      R"({role: "readWrite", db: "decant_state"})"}));
  // An unindexed collection needs no createIndex; a view, no insert.
  CollectionInfo view = collection("vms", "recent", R"({"viewOn": "hosts", "pipeline": []})", false);
  view.is_view = true;
  all.push_back(&view);
  auto needs = copy_target(all, false).needs;
  ASSERT_EQ(needs.size(), 6u);  // circle_ghe, its builds, vms, its hosts, its view, what the view reads
  EXPECT_EQ(needs[2].actions, (std::vector<std::string>{"listCollections", "listIndexes"}));
  EXPECT_EQ(needs[3].actions, (std::vector<std::string>{"createCollection", "dropCollection", "insert", "find", "listIndexes"}));
  EXPECT_EQ(needs[4].actions, (std::vector<std::string>{"createCollection", "dropCollection"}));
  EXPECT_EQ(needs[5].collection, "hosts");
  EXPECT_EQ(needs[5].actions, std::vector<std::string>{"find"});
}

TEST(MongoPrivileges, AViewNeedsFindOnWhatItReads) {
  // Grants on the view's own namespace only: MongoDB authorizes the view's pipeline on viewOn.
  CollectionInfo view = collection("vms", "recent", R"({"viewOn": "hosts", "pipeline": []})", false);
  view.is_view = true;
  std::string on_view = R"({"resource": {"db": "vms", "collection": ""}, "actions": ["listCollections", "listIndexes"]},
                           {"resource": {"db": "vms", "collection": "recent"}, "actions": ["createCollection", "dropCollection"]})";
  std::vector<const CollectionInfo*> all{&view};
  EXPECT_EQ(ungranted(privileges(on_view), copy_target(all, false).needs), std::vector<std::string>{"find on vms.hosts"});
  EXPECT_EQ(ungranted(privileges(read_write_on("vms")), copy_target(all, false).needs), std::vector<std::string>{});
}

TEST(MongoPrivileges, ServersThatReportNoPrivilegesAreNotChecked) {
  // FerretDB 1.24 with a login: users, but no privilege list.
  Bson ferretdb = Bson::from_json(
      R"({"authInfo": {"authenticatedUsers": [{"user": "root", "db": "admin"}], "authenticatedUserRoles": []}, "ok": 1.0})");
  EXPECT_FALSE(privileges_from_reply(ferretdb.get()).has_value());
  // No login (access control off).
  Bson open = Bson::from_json(R"({"authInfo": {"authenticatedUsers": [], "authenticatedUserRoles": [],
                                   "authenticatedUserPrivileges": []}, "ok": 1.0})");
  EXPECT_FALSE(privileges_from_reply(open.get()).has_value());
  // A login with no privilege at all: what servers that keep none answer (a MongoDB login
  // always has some).
  Bson none = Bson::from_json(reply_with(""));
  EXPECT_FALSE(privileges_from_reply(none.get()).has_value());
}

TEST(MongoPrivileges, ResourcesThatAreNotNamespacesGrantNothingHere) {
  // MongoDB 7's time-series buckets and the cluster: neither covers a collection.
  std::string other = R"({"resource": {"db": "circle_ghe", "system_buckets": ""}, "actions": )" +
                      std::string(kReadWriteActions) + R"(}, {"resource": {"cluster": true}, "actions": )" +
                      kReadWriteActions + "}";
  EXPECT_EQ(missing(other, kCircle, false).size(), 2u + 2u * 6u);  // the database's 2, 6 per collection
}

TEST(MongoPrivileges, ACappedCollectionAlsoNeedsConvertToCapped) {
  CollectionInfo capped = collection("circle_ghe", "log", R"({"capped": true, "size": 4096})", false);
  std::vector<const CollectionInfo*> all{&capped};
  auto needs = copy_target(all, false).needs;
  ASSERT_EQ(needs.size(), 2u);
  EXPECT_NE(std::find(needs[1].actions.begin(), needs[1].actions.end(), "convertToCapped"), needs[1].actions.end());
  EXPECT_EQ(ungranted(privileges(read_write_on("circle_ghe")), needs), std::vector<std::string>{});
}

}  // namespace
}  // namespace decant::mongo
