// How the in-cluster copy shares --jobs between PostgreSQL's and MongoDB's containers.
#include <gtest/gtest.h>

#include "migrate/in_cluster_copy.hpp"

namespace decant::migrate {
namespace {

TEST(ShareJobs, EachCopyGetsAtLeastOneWhateverTheShare) {
  for (double share : {0.0, 0.5, 1.0}) {
    auto one = share_jobs(1, share);
    EXPECT_EQ(one.pg, 1);
    EXPECT_EQ(one.mongo, 1);
    auto two = share_jobs(2, share);
    EXPECT_EQ(two.pg, 1);
    EXPECT_EQ(two.mongo, 1);
  }
}

TEST(ShareJobs, TheLargerCopyGetsMoreAndTheSumIsTheJobs) {
  auto three = share_jobs(3, 0.9);
  EXPECT_EQ(three.pg, 2);
  EXPECT_EQ(three.mongo, 1);
  auto eight = share_jobs(8, 0.25);
  EXPECT_EQ(eight.pg, 2);
  EXPECT_EQ(eight.mongo, 6);
  auto most = share_jobs(8, 1.0);  // MongoDB keeps one
  EXPECT_EQ(most.pg, 7);
  EXPECT_EQ(most.mongo, 1);
  auto none = share_jobs(8, 0.0);  // PostgreSQL keeps one
  EXPECT_EQ(none.pg, 1);
  EXPECT_EQ(none.mongo, 7);
  auto even = share_jobs(9, 0.5);
  EXPECT_EQ(even.pg + even.mongo, 9);
}

}  // namespace
}  // namespace decant::migrate
