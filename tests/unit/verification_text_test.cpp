// The text a failed check gives (engine::describe_difference, shared by every command), and
// the source-count comparison of mongo copy.
#include <gtest/gtest.h>

#include "mongo/catalog.hpp"
#include "mongo/document_stream.hpp"
#include "engine/item_lifecycle.hpp"

namespace decant::mongo {
namespace {

TEST(VerificationProblem, EqualCountsSayThatTheContentsDiffer) {
  EXPECT_EQ(engine::describe_difference("the source", "the target", "document", 5000, "aa11", 5000, 5000, "bb22"),
            "the contents differ: the source and the target hold the same number of documents (5000), but their "
            "digests differ (aa11 and bb22)");
}

TEST(VerificationProblem, DifferentCountsSaySo) {
  EXPECT_EQ(engine::describe_difference("the file", "the target", "document", 10, "aa", 10, 9, "bb"),
            "the document counts differ: the file has 10, the target stored 10 and holds 9");
  EXPECT_EQ(engine::describe_difference("the source", "the file", "document", 10, "aa", 8, 8, "bb"),
            "the document counts differ: the source has 10, the file holds 8");
  // The same count read back, but the target said it stored fewer: still a count that differs.
  EXPECT_EQ(engine::describe_difference("the source", "the target", "document", 10, "aa", 7, 10, "aa"),
            "the document counts differ: the source has 10, the target stored 7 and holds 10");
}

TEST(ChangedCounts, NamesTheCollectionsWhoseCountsChanged) {
  std::map<std::string, uint64_t> before{{"circle_ghe.builds", 5000}, {"circle_ghe.jobs", 10}, {"other.s", 2}};
  EXPECT_EQ(changed_counts(before, before), "");
  auto after = before;
  after["circle_ghe.builds"] = 5003;
  after["other.s"] = 0;
  after.erase("circle_ghe.jobs");  // its count refused the second time: not compared
  after["circle_ghe.new"] = 1;     // created meanwhile: not in the copy's list
  EXPECT_EQ(changed_counts(before, after), "circle_ghe.builds (5000 -> 5003), other.s (2 -> 0)");
}

}  // namespace
}  // namespace decant::mongo
