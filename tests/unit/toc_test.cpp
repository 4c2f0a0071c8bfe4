#include <gtest/gtest.h>

#include <string>

#include "pg/schema.hpp"

namespace decant::pg {
namespace {

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
  auto toc = parse_toc(kListing);
  ASSERT_EQ(toc.size(), 5u);

  EXPECT_EQ(toc[0].desc, "TABLE");
  EXPECT_EQ(toc[0].catalog_oid, 1259u);
  EXPECT_EQ(toc[0].oid, 16500u);
  EXPECT_EQ(toc[0].line, "3380; 1259 16500 TABLE public t postgres");

  EXPECT_EQ(toc[1].desc, "INDEX");
  EXPECT_EQ(toc[1].catalog_oid, 1259u);
  EXPECT_EQ(toc[1].oid, 16412u);
  EXPECT_EQ(toc[1].line, "3344; 1259 16412 INDEX public idx_a postgres");

  EXPECT_EQ(toc[2].desc, "CONSTRAINT");
  EXPECT_EQ(toc[2].catalog_oid, 2606u);
  EXPECT_EQ(toc[2].oid, 16420u);

  EXPECT_EQ(toc[3].desc, "FK CONSTRAINT");
  EXPECT_EQ(toc[3].catalog_oid, 2606u);
  EXPECT_EQ(toc[3].oid, 16430u);
  EXPECT_EQ(toc[3].line, "3360; 2606 16430 FK CONSTRAINT public t t_fk postgres");

  EXPECT_EQ(toc[4].desc, "INDEX ATTACH");
  EXPECT_EQ(toc[4].catalog_oid, 0u);
  EXPECT_EQ(toc[4].oid, 0u);
}

TEST(ParseToc, MultiWordDescsAreNotMistakenForTheirSuffixOrPrefix) {
  // A FK CONSTRAINT is not a CONSTRAINT and an INDEX ATTACH is not an INDEX: decant
  // skips only the INDEX/CONSTRAINT entries it built itself.
  auto toc = parse_toc("10; 2606 500 FK CONSTRAINT s tab fk_x owner\n11; 0 0 INDEX ATTACH s idx owner\n");
  ASSERT_EQ(toc.size(), 2u);
  EXPECT_EQ(toc[0].desc, "FK CONSTRAINT");
  EXPECT_EQ(toc[1].desc, "INDEX ATTACH");
}

TEST(ParseToc, ObjectNamedLikeADescDoesNotConfuseIt) {
  // The index is named "CONSTRAINT"; the desc is still INDEX.
  auto toc = parse_toc("12; 1259 700 INDEX public CONSTRAINT postgres\n");
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].desc, "INDEX");
  EXPECT_EQ(toc[0].oid, 700u);
}

TEST(ParseToc, OidsAboveIntMaxAreKept) {
  auto toc = parse_toc("3344; 1259 4000000000 INDEX public idx_big postgres\n");
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].oid, 4000000000u);
  EXPECT_EQ(toc[0].desc, "INDEX");
}

TEST(ParseToc, LinesThatAreNotEntriesAreSkipped) {
  auto toc = parse_toc("garbage\nWARNING: something\n3344; 1259\n; 1 2 INDEX x y z\n3344; 1259 16412 INDEX public i o\n");
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].oid, 16412u);
}

TEST(ParseToc, EmptyAndCommentOnlyListingsGiveNothing) {
  EXPECT_TRUE(parse_toc("").empty());
  EXPECT_TRUE(parse_toc(";\n; Selected TOC Entries:\n;\n\n").empty());
}

TEST(ParseToc, LastLineWithoutNewlineIsRead) {
  auto toc = parse_toc("3350; 2606 16420 CONSTRAINT public t t_pkey postgres");
  ASSERT_EQ(toc.size(), 1u);
  EXPECT_EQ(toc[0].desc, "CONSTRAINT");
  EXPECT_EQ(toc[0].oid, 16420u);
}

}  // namespace
}  // namespace decant::pg
