#include "engine/row_hash.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace decant::engine {
namespace {

RowDigest digest_of(const std::vector<std::string>& rows) {
  RowDigest d;
  for (const auto& r : rows) d.add_row(r);
  return d;
}

std::vector<std::string> sample_rows(size_t n) {
  std::vector<std::string> rows;
  for (size_t i = 0; i < n; ++i) rows.push_back("row " + std::to_string(i) + "\t" + std::string(i % 7, 'x'));
  return rows;
}

TEST(RowDigest, EmptyDigestIsZero) {
  RowDigest d;
  EXPECT_EQ(d.rows(), 0u);
  EXPECT_EQ(d.hex(), std::string(32, '0'));
}

TEST(RowDigest, HexIs32LowercaseHexDigits) {
  for (const auto& rows : {std::vector<std::string>{"a"}, sample_rows(3), sample_rows(100)}) {
    std::string h = digest_of(rows).hex();
    ASSERT_EQ(h.size(), 32u) << h;
    for (char c : h) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << h;
    EXPECT_NE(h, std::string(32, '0'));
  }
}

TEST(RowDigest, HexOfOneRowIsItsXxh3Hash) {
  std::string row = "42\talice\t2024-01-01";
  XXH128_hash_t h = XXH3_128bits(row.data(), row.size());
  char expect[33];
  std::snprintf(expect, sizeof expect, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  EXPECT_EQ(digest_of({row}).hex(), expect);
}

TEST(RowDigest, RowsCountsEveryRow) {
  EXPECT_EQ(digest_of({"a"}).rows(), 1u);
  EXPECT_EQ(digest_of({"a", "a", ""}).rows(), 3u);
  EXPECT_EQ(digest_of(sample_rows(1000)).rows(), 1000u);
}

TEST(RowDigest, OrderDoesNotMatter) {
  auto rows = sample_rows(200);
  RowDigest forward = digest_of(rows);
  std::mt19937 rng(12345);
  for (int i = 0; i < 5; ++i) {
    std::shuffle(rows.begin(), rows.end(), rng);
    RowDigest shuffled = digest_of(rows);
    EXPECT_EQ(shuffled, forward);
    EXPECT_EQ(shuffled.hex(), forward.hex());
  }
}

TEST(RowDigest, DuplicatesDoNotCancel) {
  RowDigest none;
  RowDigest one = digest_of({"same row"});
  RowDigest two = digest_of({"same row", "same row"});
  EXPECT_NE(two.hex(), none.hex());
  EXPECT_NE(two.hex(), one.hex());
  EXPECT_FALSE(two == none);
  // Same row count, different duplicated content: an XOR-based digest would give 0 for both.
  RowDigest other_two = digest_of({"other row", "other row"});
  EXPECT_EQ(two.rows(), other_two.rows());
  EXPECT_NE(two.hex(), other_two.hex());
  EXPECT_FALSE(two == other_two);
  // {a, a, b} differs from {b}: duplicates add up, they do not vanish.
  EXPECT_NE(digest_of({"a", "a", "b"}).hex(), digest_of({"b"}).hex());
}

TEST(RowDigest, OneChangedByteChangesTheDigest) {
  auto rows = sample_rows(50);
  RowDigest base = digest_of(rows);
  for (size_t pos : {size_t{0}, size_t{3}, rows[20].size() - 1}) {
    auto changed = rows;
    changed[20][pos] = static_cast<char>(changed[20][pos] ^ 0x01);
    RowDigest d = digest_of(changed);
    EXPECT_EQ(d.rows(), base.rows());
    EXPECT_NE(d.hex(), base.hex()) << "byte " << pos;
    EXPECT_FALSE(d == base);
  }
}

TEST(RowDigest, RowBoundariesMatter) {
  EXPECT_NE(digest_of({"ab"}).hex(), digest_of({"a", "b"}).hex());
  EXPECT_NE(digest_of({"ab", "c"}).hex(), digest_of({"a", "bc"}).hex());
  // An empty row is still a row.
  EXPECT_FALSE(digest_of({""}) == RowDigest{});
}

TEST(RowDigest, MergeEqualsAddingAllRowsToOneDigest) {
  auto rows = sample_rows(301);
  RowDigest all = digest_of(rows);

  // Split into uneven parts, as parallel workers would.
  RowDigest parts[3];
  for (size_t i = 0; i < rows.size(); ++i) parts[i % 7 == 0 ? 0 : (i % 2 ? 1 : 2)].add_row(rows[i]);
  RowDigest merged;
  merged.merge(parts[2]);
  merged.merge(parts[0]);
  merged.merge(parts[1]);
  EXPECT_EQ(merged.rows(), all.rows());
  EXPECT_EQ(merged.hex(), all.hex());
  EXPECT_EQ(merged, all);

  // Merging an empty digest changes nothing; merging into an empty one copies.
  RowDigest copy = all;
  copy.merge(RowDigest{});
  EXPECT_EQ(copy, all);
}

TEST(RowDigest, SumCarriesAcross128Bits) {
  // An independent 128-bit reference sum: the low half overflows for about half of the
  // additions, so a missing or wrong carry shows in the high half.
  __extension__ typedef unsigned __int128 u128;
  auto rows = sample_rows(2000);
  u128 expect = 0;
  for (const auto& r : rows) {
    XXH128_hash_t h = XXH3_128bits(r.data(), r.size());
    expect += (static_cast<u128>(h.high64) << 64) | h.low64;
  }
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(expect >> 64),
                static_cast<unsigned long long>(expect));
  EXPECT_EQ(digest_of(rows).hex(), buf);

  // The same through merges of halves.
  RowDigest a, b;
  for (size_t i = 0; i < rows.size(); ++i) (i < 1000 ? a : b).add_row(rows[i]);
  a.merge(b);
  EXPECT_EQ(a.hex(), buf);
}

}  // namespace
}  // namespace decant::engine
