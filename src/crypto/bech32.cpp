#include "crypto/bech32.hpp"

#include <cctype>
#include <cstdint>
#include <vector>

namespace decant::crypto {
namespace {

constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

uint32_t polymod(const std::vector<uint8_t>& values) {
  constexpr uint32_t generator[] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t v : values) {
    uint32_t top = chk >> 25;
    chk = (chk & 0x1ffffff) << 5 ^ v;
    for (int i = 0; i < 5; ++i)
      if ((top >> i) & 1) chk ^= generator[i];
  }
  return chk;
}

std::vector<uint8_t> expand_hrp(std::string_view hrp) {
  std::vector<uint8_t> out;
  for (char c : hrp) out.push_back(static_cast<uint8_t>(static_cast<unsigned char>(c) >> 5));
  out.push_back(0);
  for (char c : hrp) out.push_back(static_cast<uint8_t>(c & 31));
  return out;
}

// Regroups bits; `pad` adds zero bits to the last group (encoding), else they must be
// fewer than `from` and zero (decoding).
std::optional<std::vector<uint8_t>> convert_bits(const std::vector<uint8_t>& in, int from, int to, bool pad) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  const uint32_t max = (1u << to) - 1;
  for (uint8_t v : in) {
    acc = acc << from | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<uint8_t>(acc >> bits & max));
    }
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<uint8_t>(acc << (to - bits) & max));
  } else if (bits >= from || (acc << (to - bits) & max) != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::string bech32_encode(std::string_view hrp, std::string_view data) {
  std::string lower_hrp;
  for (char c : hrp) lower_hrp += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<uint8_t> bytes(data.begin(), data.end());
  auto values = *convert_bits(bytes, 8, 5, true);
  auto check_input = expand_hrp(lower_hrp);
  check_input.insert(check_input.end(), values.begin(), values.end());
  check_input.insert(check_input.end(), 6, 0);
  uint32_t mod = polymod(check_input) ^ 1;
  std::string out = lower_hrp + "1";
  for (uint8_t v : values) out += kCharset[v];
  for (int i = 0; i < 6; ++i) out += kCharset[(mod >> (5 * (5 - i))) & 31];
  return out;
}

std::optional<Bech32> bech32_decode(std::string_view text) {
  bool lower = false, upper = false;
  for (unsigned char c : text) {
    if (c < 33 || c > 126) return std::nullopt;
    lower |= std::islower(c) != 0;
    upper |= std::isupper(c) != 0;
  }
  if (lower && upper) return std::nullopt;
  std::string s;
  for (unsigned char c : text) s += static_cast<char>(std::tolower(c));
  size_t sep = s.rfind('1');
  if (sep == std::string::npos || sep < 1 || sep + 7 > s.size()) return std::nullopt;
  Bech32 out{s.substr(0, sep), {}};
  std::vector<uint8_t> values;
  for (char c : std::string_view(s).substr(sep + 1)) {
    size_t v = kCharset.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    values.push_back(static_cast<uint8_t>(v));
  }
  auto check_input = expand_hrp(out.hrp);
  check_input.insert(check_input.end(), values.begin(), values.end());
  if (polymod(check_input) != 1) return std::nullopt;
  values.resize(values.size() - 6);
  auto bytes = convert_bits(values, 5, 8, false);
  if (!bytes) return std::nullopt;
  out.data.assign(bytes->begin(), bytes->end());
  return out;
}

}  // namespace decant::crypto
