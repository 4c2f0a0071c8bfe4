#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "common/error.hpp"
#include "pg/schema.hpp"
#include "pg/schema_split.hpp"

namespace decant::pg {
namespace {

struct Entry {
  int id;
  std::string desc;
  std::vector<int> deps = {};
  std::string owner = "postgres";
  ArchiveSection section = ArchiveSection::none;
};

// An archive's TOC as read_custom_archive gives it.
DumpArchive archive_of(const std::vector<Entry>& entries) {
  DumpArchive a;
  for (const auto& e : entries) {
    ArchiveEntry x;
    x.dump_id = e.id;
    x.desc = e.desc;
    x.owner = e.owner;
    x.dependencies = e.deps;
    x.section = e.section;
    a.entries.push_back(std::move(x));
  }
  return a;
}

// Shaped like `pg_restore -l` of a pre-data + post-data custom-format dump.
const char* kListing =
    ";\n"
    "; Archive created at 2024-05-01 12:00:00 UTC\n"
    ";     dbname: app\n"
    ";     TOC Entries: 9\n"
    ";     Compression: -1\n"
    ";     Dump Version: 1.14-0\n"
    ";     Format: CUSTOM\n"
    ";\n"
    "; Selected TOC Entries:\n"
    ";\n"
    "3380; 1259 16500 TABLE public t postgres\n"
    "\n"
    "3344; 1259 16412 INDEX public idx_a postgres\n"
    "3350; 2606 16420 CONSTRAINT public t t_pkey postgres\n"
    "3360; 2606 16430 FK CONSTRAINT public t t_fk postgres\n"
    "3370; 0 0 INDEX ATTACH public idx_p_child postgres\n"
    ";3390; 1259 16600 INDEX public idx_commented_out postgres\n"
    "\n";

TEST(ParseToc, ReadsEntriesAndSkipsCommentsAndBlankLines) {
  auto toc = parse_toc(kListing, archive_of({{3380, "TABLE"}, {3344, "INDEX", {3380}}, {3350, "CONSTRAINT", {3380}},
                                             {3360, "FK CONSTRAINT", {3350, 3380}}, {3370, "INDEX ATTACH", {3344}},
                                             {3390, "INDEX"}}));
  ASSERT_EQ(toc.size(), 5u);

  EXPECT_EQ(toc[0].desc, "TABLE");
  EXPECT_EQ(toc[0].dump_id, 3380);
  EXPECT_EQ(toc[0].catalog_oid, 1259u);
  EXPECT_EQ(toc[0].oid, 16500u);
  EXPECT_EQ(toc[0].owner, "postgres");
  EXPECT_EQ(toc[0].line, "3380; 1259 16500 TABLE public t postgres");

  EXPECT_EQ(toc[1].desc, "INDEX");
  EXPECT_EQ(toc[1].oid, 16412u);
  EXPECT_EQ(toc[1].dependencies, std::vector<int>{3380});

  EXPECT_EQ(toc[2].desc, "CONSTRAINT");
  EXPECT_EQ(toc[2].catalog_oid, 2606u);
  EXPECT_EQ(toc[3].desc, "FK CONSTRAINT");
  EXPECT_EQ(toc[3].line, "3360; 2606 16430 FK CONSTRAINT public t t_fk postgres");
  EXPECT_EQ(toc[3].dependencies, (std::vector<int>{3350, 3380}));
  EXPECT_EQ(toc[4].desc, "INDEX ATTACH");
  EXPECT_EQ(toc[4].oid, 0u);
}

TEST(ParseToc, KindsComeFromTheArchiveNotFromTheLinesWords) {
  // "TABLE ATTACH" starts like TABLE, and an index may be named CONSTRAINT: the line alone
  // is ambiguous, the archive is not.
  auto toc = parse_toc("10; 0 0 TABLE ATTACH public ev_p0 postgres\n12; 1259 700 INDEX public CONSTRAINT postgres\n",
                       archive_of({{10, "TABLE ATTACH"}, {12, "INDEX"}}));
  ASSERT_EQ(toc.size(), 2u);
  EXPECT_EQ(toc[0].desc, "TABLE ATTACH");
  EXPECT_EQ(toc[1].desc, "INDEX");
}

TEST(ParseToc, OwnersWithSpacesAreKeptWhole) {
  auto toc = parse_toc("5; 1259 16500 TABLE public t app owner\n", archive_of({{5, "TABLE", {}, "app owner"}}));
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].owner, "app owner");
}

TEST(ParseToc, OidsAboveIntMaxAreKept) {
  auto toc = parse_toc("3344; 1259 4000000000 INDEX public idx_big postgres\n", archive_of({{3344, "INDEX"}}));
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].oid, 4000000000u);
}

TEST(ParseToc, LinesThatAreNotEntriesAreSkipped) {
  auto toc = parse_toc("garbage\nWARNING: something\n3344; 1259\n; 1 2 INDEX x y z\n3344; 1259 16412 INDEX public i o\n",
                       archive_of({{3344, "INDEX"}}));
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].oid, 16412u);
}

TEST(ParseToc, EmptyAndCommentOnlyListingsGiveNothing) {
  EXPECT_TRUE(parse_toc("", archive_of({})).empty());
  EXPECT_TRUE(parse_toc(";\n; Selected TOC Entries:\n;\n\n", archive_of({})).empty());
}

TEST(ParseToc, LastLineWithoutNewlineIsRead) {
  auto toc = parse_toc("3350; 2606 16420 CONSTRAINT public t t_pkey postgres", archive_of({{3350, "CONSTRAINT"}}));
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].desc, "CONSTRAINT");
}

TEST(ParseToc, CommentsAndAclsBelongToTheSectionOfTheEntryBeforeThem) {
  // pg_dump gives them no section; pg_restore restores them with what precedes them (a
  // restore in several transactions that left them out lost a table's comment).
  auto toc = parse_toc("1; 1259 1 TABLE app ev postgres\n2; 0 0 COMMENT app TABLE ev postgres\n"
                       "4; 1259 3 INDEX app ev_idx postgres\n5; 0 0 COMMENT app INDEX ev_idx postgres\n",
                       archive_of({{1, "TABLE", {}, "postgres", ArchiveSection::pre_data},
                                   {2, "COMMENT", {1}},
                                   {3, "ACL", {1}},  // not listed: still passes its section on
                                   {4, "INDEX", {1}, "postgres", ArchiveSection::post_data},
                                   {5, "COMMENT", {4}}}));
  ASSERT_EQ(toc.size(), 4u);
  EXPECT_EQ(toc[1].section, ArchiveSection::pre_data);
  EXPECT_EQ(toc[3].section, ArchiveSection::post_data);
}

TEST(EntriesPerTransaction, FollowsTheTargetsLockTable) {
  // A default server: 64 locks a transaction x 100 connections, five sessions at once.
  EXPECT_EQ(entries_per_transaction(6400, 5), 160u);
  EXPECT_EQ(entries_per_transaction(64 * 1000, 1), 8000u);
  EXPECT_EQ(entries_per_transaction(10, 5), 25u);  // never fewer than 25
}

TEST(ParseToc, AnEntryTheArchiveDoesNotHoldIsAnError) {
  try {
    parse_toc("77; 1259 16500 TABLE public t postgres\n", archive_of({{3380, "TABLE"}}));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::copy_failed);
    EXPECT_NE(std::string(e.what()).find("entry 77"), std::string::npos) << e.what();
  }
}

// A TOC built of `entries` (line text does not matter to the split).
std::vector<TocEntry> toc_of(const std::vector<Entry>& entries) {
  std::vector<TocEntry> toc;
  for (const auto& e : entries) {
    TocEntry t;
    t.dump_id = e.id;
    t.desc = e.desc;
    t.dependencies = e.deps;
    toc.push_back(std::move(t));
  }
  return toc;
}

// pg_dump 14+'s shape of a partitioned table: schema, the parent, its partitions
// (standalone CREATE TABLE, but depending on the parent in the archive), then one TABLE
// ATTACH per partition depending on partition and parent. pg_dump 12 and 13 write
// CREATE TABLE ... PARTITION OF and no TABLE ATTACH.
std::vector<Entry> partitioned(int partitions, bool attached_separately = true) {
  std::vector<Entry> e{{1, "SCHEMA"}, {2, "TABLE", {1}}};
  for (int i = 0; i < partitions; ++i) e.push_back({100 + i, "TABLE", {2, 1}});
  e.push_back({99, "COMMENT", {2}});
  if (attached_separately)
    for (int i = 0; i < partitions; ++i) e.push_back({1000 + i, "TABLE ATTACH", {100 + i, 2}});
  e.push_back({5000, "SEQUENCE", {1}});
  return e;
}

// Every entry runs after what it depends on: in part 0, in an earlier part of the same
// session, or in a part that finished before its own began (0 < parallel < last).
void expect_dependencies_respected(const std::vector<TocEntry>& toc, const std::vector<int>& part) {
  ASSERT_EQ(part.size(), toc.size());
  std::map<int, size_t> at;
  for (size_t i = 0; i < toc.size(); ++i) at[toc[i].dump_id] = i;
  // A partition created on its own needs its parent only to be attached, by the TABLE
  // ATTACH entry that depends on both.
  auto only_for_attaching = [&](int a, int b) {
    return std::any_of(toc.begin(), toc.end(), [&](const TocEntry& e) {
      auto& d = e.dependencies;
      return e.desc == "TABLE ATTACH" && std::find(d.begin(), d.end(), a) != d.end() &&
             std::find(d.begin(), d.end(), b) != d.end();
    });
  };
  for (size_t i = 0; i < toc.size(); ++i) {
    for (int dep : toc[i].dependencies) {
      if (!at.count(dep) || only_for_attaching(toc[i].dump_id, dep)) continue;
      size_t d = at[dep];
      int mine = part[i], theirs = part[d];
      bool ok = (theirs == mine && d < i) || (theirs == 0 && mine != 0) ||
                (theirs >= 1 && theirs <= kSchemaParts && mine == kSchemaParts + 1);
      EXPECT_TRUE(ok)
          << toc[i].desc << " " << toc[i].dump_id << " (part " << mine << ") depends on " << toc[d].desc << " "
          << dep << " (part " << theirs << ")";
    }
  }
}

TEST(SplitPreData, FewTablesAreNotSplit) {
  EXPECT_TRUE(split_pre_data(toc_of(partitioned(62))).empty());  // 63 tables
}

TEST(SplitPreData, PartitionsAreSharedOutAndEveryAttachWaitsForAllOfThem) {
  auto toc = toc_of(partitioned(80));
  auto part = split_pre_data(toc);
  ASSERT_FALSE(part.empty());
  expect_dependencies_respected(toc, part);
  std::map<int, int> tables_per_part;
  for (size_t i = 0; i < toc.size(); ++i) {
    if (toc[i].desc == "TABLE ATTACH") {
      EXPECT_EQ(part[i], kSchemaParts + 1) << "TABLE ATTACH " << toc[i].dump_id;
    }
    if (toc[i].desc == "TABLE") ++tables_per_part[part[i]];
  }
  EXPECT_EQ(part[0], 0);  // the schema first
  for (int p = 1; p <= kSchemaParts; ++p) EXPECT_GE(tables_per_part[p], 19) << "part " << p;
}

TEST(SplitPreData, ATableGoesWithWhatItDependsOn) {
  // Partitions dumped as CREATE TABLE ... PARTITION OF (pg_dump 12, 13) need their
  // parent: they go into the parent's session, after it.
  auto toc = toc_of(partitioned(80, false));
  auto part = split_pre_data(toc, 1);
  ASSERT_FALSE(part.empty());
  expect_dependencies_respected(toc, part);
  for (size_t i = 2; i < 82; ++i) EXPECT_EQ(part[i], part[1]) << toc[i].dump_id;
}

TEST(SplitPreData, ATableDependingOnTwoSessionsWaitsForTheLast) {
  std::vector<Entry> e{{1, "SCHEMA"}};
  for (int i = 0; i < 70; ++i) e.push_back({10 + i, "TABLE", {1}});
  e.push_back({200, "TABLE", {10, 11}});  // INHERITS from two parents in different sessions
  e.push_back({201, "TABLE", {200}});     // and its own child
  auto toc = toc_of(e);
  auto part = split_pre_data(toc);
  ASSERT_FALSE(part.empty());
  expect_dependencies_respected(toc, part);
  EXPECT_NE(part[1], part[2]);
  EXPECT_EQ(part[71], kSchemaParts + 1);
  EXPECT_EQ(part[72], kSchemaParts + 1);
}

TEST(SplitPreData, TheLongestRunOfTablesIsTheOneSplit) {
  std::vector<Entry> e{{1, "SCHEMA"}};
  for (int i = 0; i < 10; ++i) e.push_back({10 + i, "TABLE", {1}});
  e.push_back({50, "FUNCTION", {1}});
  for (int i = 0; i < 100; ++i) e.push_back({100 + i, "TABLE", {1, 50}});
  auto toc = toc_of(e);
  auto part = split_pre_data(toc);
  ASSERT_FALSE(part.empty());
  expect_dependencies_respected(toc, part);
  for (size_t i = 0; i <= 11; ++i) EXPECT_EQ(part[i], 0);
  for (size_t i = 12; i < toc.size(); ++i) EXPECT_GE(part[i], 1);
}

}  // namespace
}  // namespace decant::pg
