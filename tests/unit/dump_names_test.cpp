#include "archive/dump_names.hpp"

#include <gtest/gtest.h>

namespace decant::archive {
namespace {

// Expected values are what Go's url.QueryEscape gives, as mongodump names its files.
TEST(DumpNames, EscapesLikeMongodump) {
  EXPECT_EQ(escape_collection_name("builds"), "builds");
  EXPECT_EQ(escape_collection_name("a/b"), "a%2Fb");
  EXPECT_EQ(escape_collection_name("sp ace"), "sp+ace");
  EXPECT_EQ(escape_collection_name("50%off"), "50%25off");
  EXPECT_EQ(escape_collection_name("a+b"), "a%2Bb");
  EXPECT_EQ(escape_collection_name("keep-_.~"), "keep-_.~");
  EXPECT_EQ(escape_collection_name("ü"), "%C3%BC");
}

TEST(DumpNames, UnescapeReversesEscape) {
  for (const std::string name : {"builds", "a/b", "sp ace", "50%off", "a+b", "ü and $", "x%2fy"})
    EXPECT_EQ(unescape_collection_name(escape_collection_name(name)), name) << name;
  EXPECT_FALSE(unescape_collection_name("bad%zz").has_value());
  EXPECT_FALSE(unescape_collection_name("cut%4").has_value());
}

TEST(DumpNames, LongNamesAreShortenedWithAHash) {
  std::string name(300, 'n');
  std::string escaped = escape_collection_name(name);
  EXPECT_EQ(escaped.size(), 208u + 3u + 27u);
  EXPECT_EQ(escaped.substr(0, 208), std::string(208, 'n'));
  EXPECT_EQ(escaped.substr(208, 3), "%24");
  EXPECT_NE(escape_collection_name(name + "x"), escaped) << "the hash tells long names apart";
}

}  // namespace
}  // namespace decant::archive
