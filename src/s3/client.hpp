#pragma once
// An S3 bucket, as much of it as decant's backups need: put (multipart for large
// objects), get, head, list with a prefix (paged), delete many. libcurl carries the bytes;
// requests are signed by s3/sigv4 and sent with exactly the path and query signed. Every
// body goes with its SHA-256 (x-amz-content-sha256 and x-amz-checksum-sha256), which the
// store checks; transient failures (transport errors, 5xx, 429) are retried with backoff;
// a put returns only once the store acknowledged it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3/sigv4.hpp"

namespace decant::s3 {

struct Endpoint {
  std::string url = "https://s3.amazonaws.com";  // scheme://host[:port]
  std::string region = "us-east-1";
  bool virtual_host = false;  // BUCKET.host rather than host/BUCKET
  std::string bucket;
};

// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the profile
// AWS_PROFILE (or "default") of AWS_SHARED_CREDENTIALS_FILE (or ~/.aws/credentials).
// Throws Error(auth) when there are none.
Credentials credentials_from_environment();

struct RetryPolicy {
  int attempts = 6;
  std::chrono::milliseconds first_delay{200};
  std::chrono::milliseconds max_delay{5000};
};

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

class Client {
 public:
  Client(Endpoint endpoint, Credentials credentials, RetryPolicy retry = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Objects above multipart_threshold() go in parts of part_size(), each checked by the store.
  void put(const std::string& key, std::string_view bytes);
  std::optional<std::string> get(const std::string& key);
  std::optional<uint64_t> head(const std::string& key);
  std::vector<ObjectInfo> list(const std::string& prefix);
  // In batches of 1000; absent keys are no error.
  void remove(const std::vector<std::string>& keys);
  // Throws unless the bucket exists and the credentials may use it.
  void check_bucket();

  std::string describe() const;  // "s3://BUCKET at URL"
  static constexpr size_t multipart_threshold() { return 32u << 20; }
  static constexpr size_t part_size() { return 16u << 20; }

  struct Response {
    long status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // names lowercase
    std::string header(std::string_view name) const;
  };

 private:
  struct Call;
  Response send(const Call& call);
  Response attempt(const Call& call);
  void put_multipart(const std::string& key, std::string_view bytes);
  [[noreturn]] void fail(const Call& call, const Response& r) const;

  struct Handles;
  Endpoint endpoint_;
  Credentials credentials_;
  RetryPolicy retry_;
  std::string scheme_, host_;
  std::unique_ptr<Handles> handles_;
};

}  // namespace decant::s3
