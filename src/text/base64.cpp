#include "text/base64.hpp"

#include <array>
#include <cstdint>

namespace decant {
namespace {

constexpr std::string_view kStandard = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string_view alphabet(Base64 variant) { return variant == Base64::url_unpadded ? kUrl : kStandard; }

}  // namespace

std::string base64_encode(std::string_view bytes, Base64 variant) {
  auto chars = alphabet(variant);
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += chars[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += chars[(acc << (6 - bits)) & 63];
  if (variant == Base64::standard)
    while (out.size() % 4 != 0) out += '=';
  return out;
}

std::optional<std::string> base64_decode(std::string_view text, Base64 variant) {
  if (variant == Base64::standard) {
    if (text.size() % 4 != 0) return std::nullopt;
    size_t padding = 0;
    while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
    text.remove_suffix(padding);
  }
  if (text.size() % 4 == 1) return std::nullopt;
  std::array<int8_t, 256> value;
  value.fill(-1);
  auto chars = alphabet(variant);
  for (size_t i = 0; i < chars.size(); ++i) value[static_cast<unsigned char>(chars[i])] = static_cast<int8_t>(i);
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    if (value[c] < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(value[c]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-zero trailing bits
  return out;
}

}  // namespace decant
