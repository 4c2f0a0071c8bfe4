#include "backup/s3_repository.hpp"

#include <cstdlib>

#include "common/error.hpp"
#include "s3/client.hpp"

namespace decant::backup {
namespace {

std::string first_env(std::initializer_list<const char*> names, std::string fallback) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return v;
  return fallback;
}

// PREFIX/KEY objects of one bucket. S3 writes an object whole or not at all, so put() is
// atomic as the interface wants; it is durable once the store acknowledged it.
class S3Repository : public Repository {
 public:
  S3Repository(s3::Endpoint endpoint, std::string prefix, std::string url)
      : client_(std::move(endpoint), s3::credentials_from_environment()), prefix_(std::move(prefix)),
        url_(std::move(url)) {
    client_.check_bucket();
  }
  void put(const std::string& key, std::string_view bytes) override { client_.put(object(key), bytes); }
  std::optional<std::string> get(const std::string& key) const override { return client_.get(object(key)); }
  std::optional<uint64_t> size(const std::string& key) const override { return client_.head(object(key)); }
  std::vector<std::string> list(const std::string& prefix) const override {
    std::vector<std::string> keys;
    for (const auto& o : client_.list(object(prefix))) keys.push_back(o.key.substr(prefix_.size()));
    return keys;
  }
  void remove_prefix(const std::string& prefix) override {
    std::string target = object(removable_key(prefix));
    std::vector<std::string> doomed;
    for (const auto& o : client_.list(target))
      if (o.key == target || o.key.rfind(target + "/", 0) == 0) doomed.push_back(o.key);
    client_.remove(doomed);
  }
  std::string describe() const override { return url_; }

 private:
  std::string object(const std::string& key) const { return prefix_ + checked_key(key); }
  // The client is safe to share between threads; its requests are not the repository's state.
  mutable s3::Client client_;
  std::string prefix_;  // "" or "some/prefix/"
  std::string url_;
};

}  // namespace

std::unique_ptr<Repository> open_s3_repository(const RepositoryOptions& options) {
  std::string rest = options.url.substr(5);  // after s3://
  auto slash = rest.find('/');
  s3::Endpoint endpoint;
  endpoint.bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!prefix.empty()) prefix += "/";
  if (endpoint.bucket.empty())
    throw Error(ExitCode::usage, "the repository " + options.url + " names no bucket", "give --repo s3://BUCKET/PREFIX");
  if (options.s3_addressing != "path" && options.s3_addressing != "virtual")
    throw Error(ExitCode::usage, "--s3-addressing is path or virtual, not " + options.s3_addressing);
  endpoint.url = !options.s3_endpoint.empty()
                     ? options.s3_endpoint
                     : first_env({"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}, "https://s3.amazonaws.com");
  endpoint.region = !options.s3_region.empty() ? options.s3_region
                                               : first_env({"AWS_REGION", "AWS_DEFAULT_REGION"}, "us-east-1");
  endpoint.virtual_host = options.s3_addressing == "virtual";
  return std::make_unique<S3Repository>(std::move(endpoint), std::move(prefix), options.url);
}

}  // namespace decant::backup
