#pragma once
// An order-independent digest of a multiset of rows: the sum (mod 2^128) of each row's
// 128-bit XXH3 hash, plus the row count. Rows may arrive in any order and any
// parallel split; duplicates add up instead of cancelling (unlike XOR).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace decant::engine {

class RowDigest {
 public:
  void add_row(std::string_view bytes);
  void merge(const RowDigest& other);
  uint64_t rows() const { return rows_; }
  std::string hex() const;  // 32 hex digits of the sum
  // A digest recorded earlier (rows and hex()); nothing when `hex` is not one.
  static std::optional<RowDigest> from_hex(uint64_t rows, std::string_view hex);
  bool operator==(const RowDigest& o) const { return rows_ == o.rows_ && hi_ == o.hi_ && lo_ == o.lo_; }

 private:
  void add(uint64_t hi, uint64_t lo);
  uint64_t rows_ = 0;
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

}  // namespace decant::engine
