#include "s3_server.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <utility>

#include "process/process.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
const char* kAccessKey = "decant-test-access";
const char* kSecret = "decant-test-secret/with+odd=chars";
const char* kPython = "/usr/bin/python3";  // Debian's, with python3-botocore

bool says_listening(std::string_view line) { return line.find("listening") != std::string_view::npos; }
}  // namespace

std::string versitygw_binary() {
  const char* v = std::getenv("VERSITYGW");
  return v ? v : "/var/cache/decant/versitygw/bin/versitygw";
}

S3Server::S3Server(std::string host) : host_(std::move(host)) {
  dir_ = make_temp_dir("decant-s3");
  fs::create_directories(dir_ / "data");
  port_ = free_port();
  ProcessSpec spec({versitygw_binary(), "--port", host_ + ":" + std::to_string(port_), "posix", (dir_ / "data").string()},
                   {{"ROOT_ACCESS_KEY_ID", kAccessKey}, {"ROOT_SECRET_ACCESS_KEY", kSecret}});
  process_ = std::make_unique<BackgroundProcess>(spec);
  if (!process_->wait_for_line(says_listening, 30s))
    throw std::runtime_error("versitygw did not start (scripts/install-versitygw.sh): " + process_->errors());
  // The bucket, made by botocore: decant never creates buckets.
  ProcessSpec make({kPython, "-c",
                    "import os, botocore.session as s\n"
                    "c = s.get_session().create_client('s3', endpoint_url=os.environ['ENDPOINT'], region_name='us-east-1')\n"
                    "c.create_bucket(Bucket=os.environ['BUCKET'])\n"},
                   env());
  make.extra_env["ENDPOINT"] = endpoint();
  make.extra_env["BUCKET"] = bucket();
  auto r = run_process(make);
  if (r.exit_status != 0) throw std::runtime_error("cannot create the test bucket: " + r.errors);
}

S3Server::~S3Server() {
  process_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string S3Server::endpoint() const { return "http://" + host_ + ":" + std::to_string(port_); }

std::map<std::string, std::string> S3Server::env(const std::string& secret) const {
  return {{"AWS_ACCESS_KEY_ID", kAccessKey},
          {"AWS_SECRET_ACCESS_KEY", secret.empty() ? kSecret : secret},
          {"AWS_REGION", "us-east-1"}};
}

FaultyProxy::FaultyProxy(const std::string& upstream, Options options) {
  dir_ = make_temp_dir("decant-proxy");
  port_ = free_port();
  std::string host = upstream.substr(upstream.find("://") + 3);
  ProcessSpec spec({kPython, std::string(DECANT_SOURCE_DIR) + "/tests/s3/faulty_proxy.py", std::to_string(port_), host,
                    (dir_ / "failed").string(), "--fail-every", std::to_string(options.fail_every), "--drop-every",
                    std::to_string(options.drop_every)});
  if (!options.only_method.empty()) spec.argv.insert(spec.argv.end(), {"--only-method", options.only_method});
  if (options.expired_token) spec.argv.push_back("--expired-token");
  process_ = std::make_unique<BackgroundProcess>(spec);
  if (!process_->wait_for_line(says_listening, 30s)) throw std::runtime_error("the proxy did not start: " + process_->errors());
}

FaultyProxy::~FaultyProxy() {
  process_.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string FaultyProxy::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

int FaultyProxy::failed() {
  std::ifstream in(dir_ / "failed");
  int n = 0;
  in >> n;
  return n;
}

TestRepository::TestRepository(bool s3, const fs::path& work) {
  if (!s3) {
    dir_ = work / "repo";
    url_ = dir_.string();
    return;
  }
  server_ = std::make_unique<S3Server>();
  dir_ = server_->object_path("decant/test");
  url_ = "s3://" + S3Server::bucket() + "/decant/test";
}

TestRepository::~TestRepository() = default;

void TestRepository::add_s3(std::vector<std::string>& args, std::map<std::string, std::string>& env) const {
  if (server_ && std::find(args.begin(), args.end(), "--repo") != args.end()) {
    args.push_back("--s3-endpoint");
    args.push_back(server_->endpoint());
    for (const auto& [k, v] : server_->env()) env.emplace(k, v);
  }
}

RunResult TestRepository::run(std::vector<std::string> args, std::map<std::string, std::string> env) const {
  add_s3(args, env);
  return run_decant(args, env);
}

std::unique_ptr<BackgroundDecant> TestRepository::start(std::vector<std::string> args, const fs::path& out_dir) const {
  std::map<std::string, std::string> env;
  add_s3(args, env);
  return std::make_unique<BackgroundDecant>(args, out_dir, env);
}

std::string repository_name(bool s3) { return s3 ? "s3" : "local"; }

}  // namespace decant::test
