#pragma once
// Test harness: a real S3 store (versitygw 1.8.0 on its posix backend, which checks
// signatures, body hashes and checksums) on a temporary directory and a free loopback
// port (of loopback, or of the address given: the test cluster's node for its pods), with one bucket; and, in front of it when asked, a proxy that fails some requests.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pg_server.hpp"

namespace decant {
class BackgroundProcess;
}

namespace decant::test {

std::string versitygw_binary();  // $VERSITYGW or /var/cache/decant/versitygw/bin/versitygw

class S3Server {
 public:
  explicit S3Server(std::string host = "127.0.0.1");
  ~S3Server();
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  std::string endpoint() const;  // http://HOST:PORT
  static std::string bucket() { return "backups"; }
  // Credentials as decant takes them (the environment); with `secret` replaced if given.
  std::map<std::string, std::string> env(const std::string& secret = "") const;
  // Where an object KEY of the bucket lives as a file (the posix backend's layout).
  std::filesystem::path object_path(const std::string& key) const { return dir_ / "data" / bucket() / key; }

 private:
  std::filesystem::path dir_;
  std::string host_;
  int port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

// An HTTP proxy (tests/s3/faulty_proxy.py) to `upstream` that answers 500 to every
// `fail_every`-th request (of `only_method`, if given) and drops the connection of every
// `drop_every`-th, without passing them on; or, with `expired_token`, answers every request
// as S3 answers an expired session token. The rest go through unchanged.
class FaultyProxy {
 public:
  struct Options {
    int fail_every = 0;
    int drop_every = 0;
    std::string only_method;
    bool expired_token = false;
  };
  FaultyProxy(const std::string& upstream, Options options);
  ~FaultyProxy();
  std::string endpoint() const;
  int failed();  // requests it failed or dropped so far

 private:
  int port_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<BackgroundProcess> process_;
};

// The repository a backup test runs on: a local directory, or a prefix of a bucket of a
// fresh S3Server. Its objects are files either way (the posix backend's), so a test can
// damage or fake them alike.
class TestRepository {
 public:
  TestRepository(bool s3, const std::filesystem::path& work);
  ~TestRepository();
  bool is_s3() const { return server_ != nullptr; }
  const std::string& url() const { return url_; }        // for --repo
  const std::filesystem::path& dir() const { return dir_; }  // where its objects are
  const S3Server* server() const { return server_.get(); }
  // decant with `args`; for S3, its endpoint and credentials added when args has --repo.
  RunResult run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) const;
  // The same, in the background.
  std::unique_ptr<BackgroundDecant> start(std::vector<std::string> args, const std::filesystem::path& out_dir) const;

 private:
  void add_s3(std::vector<std::string>& args, std::map<std::string, std::string>& env) const;
  std::unique_ptr<S3Server> server_;
  std::string url_;
  std::filesystem::path dir_;
};

// gtest names for a repository parameter: "local", "s3".
std::string repository_name(bool s3);

}  // namespace decant::test
