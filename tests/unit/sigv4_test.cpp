// decant's SigV4 signer against botocore's (Debian's python3-botocore, run by
// tests/s3/botocore_sign.py): the same S3 requests, made by each from the same raw keys
// and parameters, must carry the same path, the same query and the same Authorization,
// byte for byte. The keys and queries are the ones signers get wrong: spaces, '+', '=',
// unicode, "~*()", '%', '?', '#', '&', '//', header names that prefix each other, values
// with runs of spaces, ?uploads and ?delete without values, a session token.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "text/base64.hpp"
#include "process/process.hpp"
#include "crypto/primitives.hpp"
#include "s3/sigv4.hpp"

namespace decant::s3 {
namespace {
using nlohmann::json;

struct Case {
  Case(std::string op_, json params_, std::string method_, std::string path_, Pairs query_,
       std::string addressing_ = "path", std::string session_token_ = "")
      : op(std::move(op_)), params(std::move(params_)), method(std::move(method_)), path(std::move(path_)),
        query(std::move(query_)), addressing(std::move(addressing_)), session_token(std::move(session_token_)) {}
  std::string op;
  json params;
  std::string method;
  std::string path;  // raw
  Pairs query;       // raw, as decant sends them
  std::string addressing;
  std::string session_token;
};

const char* kBotocorePython = "/usr/bin/python3";  // Debian's, which has python3-botocore

std::time_t parse_amz_date(const std::string& s) {
  std::tm tm{};
  strptime(s.c_str(), "%Y%m%dT%H%M%SZ", &tm);
  return timegm(&tm);
}

// "a=1&uploads" -> sorted "a=1&uploads=": what the server canonicalizes the sent query to.
std::string canonical_of_sent(const std::string& query) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    size_t amp = query.find('&', start);
    std::string part = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (part.find('=') == std::string::npos) part += "=";
    parts.push_back(part);
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "&") + p;
  return out;
}

TEST(SigV4Test, SignsLikeBotocoreByteForByte) {
  if (!std::filesystem::exists("/usr/lib/python3/dist-packages/botocore"))
    GTEST_FAIL() << "python3-botocore is not installed (scripts/install-deps.sh installs it)";
  const std::string tricky = "dir one/a+b=c ü ~*()%?#&!'$,;:@[]//x.txt";
  // Parameters as botocore takes them; decant's side of the same request.
  std::vector<Case> cases = {
      {"put_object", {{"Bucket", "bkt"}, {"Key", tricky}, {"Body", "hello"}, {"ChecksumAlgorithm", "SHA256"}}, "PUT",
       "/bkt/" + tricky, {}},
      {"put_object",
       json::parse(R"({"Bucket": "bkt", "Key": "meta", "Body": "",
                       "Metadata": {"a": "1", "a-b": "  two   spaces  ", "ab": "3"}})"),
       "PUT", "/bkt/meta", {}},
      {"get_object", {{"Bucket", "bkt"}, {"Key", "k/ü"}, {"Range", "bytes=5-99"}}, "GET", "/bkt/k/ü", {}},
      {"head_object", {{"Bucket", "bkt"}, {"Key", "a b"}}, "HEAD", "/bkt/a b", {}},
      {"list_objects_v2",
       {{"Bucket", "bkt"}, {"Prefix", "backups/a b+=ü/"}, {"ContinuationToken", "1/x+y=="}, {"MaxKeys", 1000}},
       "GET", "/bkt",
       {{"list-type", "2"},
        {"prefix", "backups/a b+=ü/"},
        {"continuation-token", "1/x+y=="},
        {"max-keys", "1000"},
        {"encoding-type", "url"}},
       "path", "session/token+with=odd/characters"},
      {"create_multipart_upload", {{"Bucket", "bkt"}, {"Key", tricky}}, "POST", "/bkt/" + tricky, {{"uploads", ""}}},
      {"upload_part",
       json::parse(R"({"Bucket": "bkt", "Key": "big", "PartNumber": 12, "UploadId": "u+p/l=o~a d",
                       "Body": "part bytes", "ChecksumAlgorithm": "SHA256"})"),
       "PUT", "/bkt/big", {{"partNumber", "12"}, {"uploadId", "u+p/l=o~a d"}}},
      {"abort_multipart_upload", {{"Bucket", "bkt"}, {"Key", "big"}, {"UploadId", "u+p"}}, "DELETE", "/bkt/big",
       {{"uploadId", "u+p"}}},
      {"delete_objects",
       json::parse(R"({"Bucket": "bkt", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b c"}], "Quiet": true}})"), "POST",
       "/bkt", {{"delete", ""}}},
      {"delete_object", {{"Bucket", "bkt"}, {"Key", "gone/ü"}}, "DELETE", "/gone/ü", {}, "virtual"},
  };
  json input = json::array();
  for (const auto& c : cases) {
    json one = {{"op", c.op},
                {"params", c.params},
                {"addressing", c.addressing},
                {"endpoint", c.addressing == "virtual" ? "http://s3.example.test:9000" : "http://127.0.0.1:9000"},
                {"region", "eu-west-3"},
                {"access_key", "AKIDEXAMPLE"},
                {"secret_key", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}};
    if (!c.session_token.empty()) one["session_token"] = c.session_token;
    input.push_back(one);
  }
  ProcessSpec spec({kBotocorePython, std::string(DECANT_SOURCE_DIR) + "/tests/s3/botocore_sign.py"});
  spec.stdin_data = input.dump();
  auto r = run_process(spec);
  ASSERT_EQ(r.exit_status, 0) << r.errors;
  json results = json::parse(r.output);
  ASSERT_EQ(results.size(), cases.size());

  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const json& b = results[i];
    SCOPED_TRACE(c.op + " " + c.path);
    std::string url = b.at("url");
    std::string rest = url.substr(url.find("://") + 3);
    std::string host = rest.substr(0, rest.find('/'));
    std::string path_and_query = rest.substr(host.size());
    auto q = path_and_query.find('?');
    std::string path = path_and_query.substr(0, q);
    std::string query = q == std::string::npos ? "" : path_and_query.substr(q + 1);

    Request request;
    request.method = c.method;
    request.host = c.addressing == "virtual" ? "bkt.s3.example.test:9000" : "127.0.0.1:9000";
    request.path = c.path;
    request.query = c.query;
    std::string body = base64_decode(b.at("body_base64").get<std::string>()).value();
    request.payload_sha256 = crypto::to_hex(crypto::sha256(body));
    // The headers botocore chose to send besides the ones the signer adds itself.
    const json& headers = b.at("headers");
    std::string authorization = headers.at("authorization");
    std::string names = authorization.substr(authorization.find("SignedHeaders=") + 14);
    names = names.substr(0, names.find(','));
    for (size_t at = 0; at <= names.size();) {
      size_t semi = names.find(';', at);
      std::string name = names.substr(at, semi == std::string::npos ? std::string::npos : semi - at);
      if (name != "host" && name != "x-amz-date" && name != "x-amz-content-sha256" && name != "x-amz-security-token")
        request.headers.emplace_back(name, headers.at(name).get<std::string>());
      if (semi == std::string::npos) break;
      at = semi + 1;
    }
    Credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", c.session_token};
    Signed s = sign(request, credentials, "eu-west-3", parse_amz_date(headers.at("x-amz-date")));

    EXPECT_EQ(host, request.host);
    EXPECT_EQ(encoded_path(request), path);
    EXPECT_EQ(canonical_query(request), canonical_of_sent(query));
    EXPECT_EQ(headers.at("x-amz-content-sha256").get<std::string>(), request.payload_sha256);
    std::string ours;
    for (const auto& [name, value] : s.headers)
      if (name == "authorization") ours = value;
    EXPECT_EQ(ours, authorization) << s.canonical_request;
  }
}

// The example of AWS's SigV4 documentation for S3 (GET Object with a Range header).
TEST(SigV4Test, MatchesAwsDocumentationExample) {
  Request r;
  r.method = "GET";
  r.host = "examplebucket.s3.amazonaws.com";
  r.path = "/test.txt";
  r.headers = {{"range", "bytes=0-9"}};
  r.payload_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  std::tm tm{};
  strptime("20130524T000000Z", "%Y%m%dT%H%M%SZ", &tm);
  Signed s = sign(r, {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""}, "us-east-1", timegm(&tm));
  EXPECT_EQ(s.headers.back().second,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, EncodesLikeRfc3986) {
  EXPECT_EQ(uri_encode("a b+c=d/é~_-.", false), "a%20b%2Bc%3Dd%2F%C3%A9~_-.");
  EXPECT_EQ(uri_encode("a b/c", true), "a%20b/c");
}

}  // namespace
}  // namespace decant::s3
