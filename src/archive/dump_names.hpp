#pragma once
// File names in a mongodump directory: collection names are query-escaped (as Go's
// url.QueryEscape: space as '+', bytes other than [A-Za-z0-9-_.~] as %XX), and an escaped
// name longer than 238 bytes becomes its first 208 bytes, "%24", and the unpadded
// base64url SHA-1 of the name, so that "<name>.metadata.json.gz" fits in 255 bytes.
#include <optional>
#include <string>

namespace decant::archive {

std::string escape_collection_name(const std::string& name);
// nullopt for an invalid escape; the long-name form cannot be reversed (use metadata).
std::optional<std::string> unescape_collection_name(const std::string& escaped);

}  // namespace decant::archive
