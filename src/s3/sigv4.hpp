#pragma once
// AWS Signature Version 4 for S3, on OpenSSL. No packaged C or C++ library signs S3
// requests correctly here (libs3 signs SigV2; curl 7.88's CURLOPT_AWS_SIGV4 mis-encodes
// queries such as ?uploads and ?delete), so decant signs them itself and sends exactly the
// path and query it signed. Checked byte for byte against botocore in the unit tests.
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace decant::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A request before signing. Path and query are raw (not yet encoded).
struct Request {
  std::string method = "GET";
  std::string host;  // as sent in Host: "name", "name:port"
  std::string path;  // "/bucket/key with spaces" or "/key" for virtual-host addressing
  Pairs query;       // ("uploads", "") is sent as "uploads="
  Pairs headers;     // further headers to sign and send (content-md5, range, x-amz-checksum-sha256, ...)
  std::string payload_sha256;  // lowercase hex of the body's SHA-256
};

// RFC 3986 encoding as SigV4 wants it: unreserved characters as they are, every other
// byte as %XY (uppercase); '/' kept when `keep_slash` (paths).
std::string uri_encode(std::string_view text, bool keep_slash);

// The encoded path and the canonical query string: what is signed, and what is sent.
std::string encoded_path(const Request& request);
std::string canonical_query(const Request& request);

struct Signed {
  Pairs headers;  // every header to send: the request's, host, x-amz-date, x-amz-content-sha256,
                  // x-amz-security-token, authorization
  std::string canonical_request;  // for tests and debugging; holds no secret
  std::string string_to_sign;
};

// Signs `request` for service s3 in `region` at `now` (UTC).
Signed sign(const Request& request, const Credentials& credentials, const std::string& region, std::time_t now);

}  // namespace decant::s3
