#include "archive/dump_names.hpp"

#include <openssl/sha.h>

#include <cctype>

#include "text/base64.hpp"

namespace decant::archive {

std::string escape_collection_name(const std::string& name) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (out.size() > 238) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(name.data()), name.size(), digest);
    out = out.substr(0, 208) + "%24" + base64_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest), Base64::url_unpadded);
  }
  return out;
}

std::optional<std::string> unescape_collection_name(const std::string& escaped) {
  std::string out;
  for (size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= escaped.size() || !std::isxdigit(static_cast<unsigned char>(escaped[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(escaped[i + 2])))
        return std::nullopt;
      out += static_cast<char>(std::stoi(escaped.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace decant::archive
