#include "engine/row_hash.hpp"

#include <fmt/core.h>
#include <xxhash.h>

namespace decant::engine {

void RowDigest::add(uint64_t hi, uint64_t lo) {
  uint64_t new_lo = lo_ + lo;
  hi_ += hi + (new_lo < lo_ ? 1 : 0);
  lo_ = new_lo;
}

void RowDigest::add_row(std::string_view bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  add(h.high64, h.low64);
  ++rows_;
}

void RowDigest::merge(const RowDigest& other) {
  add(other.hi_, other.lo_);
  rows_ += other.rows_;
}

std::string RowDigest::hex() const { return fmt::format("{:016x}{:016x}", hi_, lo_); }

std::optional<RowDigest> RowDigest::from_hex(uint64_t rows, std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  RowDigest d;
  for (size_t i = 0; i < 32; ++i) {
    char c = hex[i];
    uint64_t v = c >= '0' && c <= '9' ? uint64_t(c - '0') : c >= 'a' && c <= 'f' ? uint64_t(c - 'a' + 10) : 16;
    if (v == 16) return std::nullopt;
    uint64_t& half = i < 16 ? d.hi_ : d.lo_;
    half = half << 4 | v;
  }
  d.rows_ = rows;
  return d;
}

}  // namespace decant::engine
