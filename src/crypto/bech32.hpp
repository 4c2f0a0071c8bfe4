#pragma once
// Bech32 (BIP 173) as age spells its keys: "age1..." recipients and "AGE-SECRET-KEY-1..."
// identities. Without BIP 173's 90-character limit, as age's own encoder.
#include <optional>
#include <string>
#include <string_view>

namespace decant::crypto {

struct Bech32 {
  std::string hrp;   // lower case
  std::string data;  // bytes
};

// Lower case; the caller upper-cases it where the format wants that.
std::string bech32_encode(std::string_view hrp, std::string_view data);
// Nothing when the checksum, the characters or the padding are wrong, or the case is mixed.
std::optional<Bech32> bech32_decode(std::string_view text);

}  // namespace decant::crypto
