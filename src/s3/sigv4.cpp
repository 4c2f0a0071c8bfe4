#include "s3/sigv4.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "crypto/primitives.hpp"

namespace decant::s3 {
namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A header value as SigV4 canonicalizes it: trimmed, inner runs of spaces made one.
std::string canonical_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string utc(std::time_t now, const char* format) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string encoded_path(const Request& request) {
  return request.path.empty() ? "/" : uri_encode(request.path, true);
}

std::string canonical_query(const Request& request) {
  Pairs encoded;
  for (const auto& [k, v] : request.query) encoded.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) out += (out.empty() ? "" : "&") + k + "=" + v;
  return out;
}

Signed sign(const Request& request, const Credentials& credentials, const std::string& region, std::time_t now) {
  std::string amz_date = utc(now, "%Y%m%dT%H%M%SZ");
  std::string date = amz_date.substr(0, 8);
  Signed out;
  out.headers = request.headers;
  out.headers.emplace_back("host", request.host);
  out.headers.emplace_back("x-amz-date", amz_date);
  out.headers.emplace_back("x-amz-content-sha256", request.payload_sha256);
  if (!credentials.session_token.empty()) out.headers.emplace_back("x-amz-security-token", credentials.session_token);

  Pairs canonical;
  for (const auto& [name, value] : out.headers) canonical.emplace_back(lowercase(name), canonical_value(value));
  // By name alone: a stable sort keeps repeated names in order. Names that prefix each
  // other ("x-amz-meta-a", "x-amz-meta-a-b") sort as plain strings, as SigV4 wants.
  std::stable_sort(canonical.begin(), canonical.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string headers_block, signed_headers;
  for (size_t i = 0; i < canonical.size(); ++i) {
    const auto& [name, value] = canonical[i];
    if (i > 0 && canonical[i - 1].first == name) {
      headers_block.back() = ',';  // a repeated header: its values joined by commas
      headers_block += value + "\n";
      continue;
    }
    headers_block += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  out.canonical_request = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method, encoded_path(request),
                                      canonical_query(request), headers_block, signed_headers, request.payload_sha256);
  std::string scope = date + "/" + region + "/s3/aws4_request";
  out.string_to_sign = fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date, scope,
                                   crypto::to_hex(crypto::sha256(out.canonical_request)));
  std::string key = crypto::hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = crypto::hmac_sha256(key, region);
  key = crypto::hmac_sha256(key, "s3");
  key = crypto::hmac_sha256(key, "aws4_request");
  std::string signature = crypto::to_hex(crypto::hmac_sha256(key, out.string_to_sign));
  out.headers.emplace_back("authorization",
                           fmt::format("AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
                                       credentials.access_key_id, scope, signed_headers, signature));
  return out;
}

}  // namespace decant::s3
