#pragma once
// Base64 (RFC 4648), the standard and URL-safe alphabets, with or without padding. The
// decoder is strict: no whitespace, no stray characters, no non-zero trailing bits, padding
// only where the variant has it. A format that signs its encoding (age's header) must not
// accept two spellings of the same bytes.
#include <optional>
#include <string>
#include <string_view>

namespace decant {

enum class Base64 { standard, standard_unpadded, url_unpadded };

std::string base64_encode(std::string_view bytes, Base64 variant = Base64::standard);
// The bytes, or nothing when `text` is not in the variant's canonical form.
std::optional<std::string> base64_decode(std::string_view text, Base64 variant = Base64::standard);

}  // namespace decant
