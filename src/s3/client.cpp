#include "s3/client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "text/base64.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "process/run_context.hpp"
#include "crypto/primitives.hpp"
#include "common/c_handle.hpp"

namespace decant::s3 {
namespace {

using Easy = CHandle<CURL, curl_easy_cleanup>;
using Slist = CHandle<curl_slist, curl_slist_free_all>;

std::string hex_sha256(std::string_view bytes) { return crypto::to_hex(crypto::sha256(bytes)); }

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string xml_unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    size_t semi = text.find(';', i);
    if (semi == std::string_view::npos) {
      out += text.substr(i);
      break;
    }
    std::string_view entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp") out += '&';
    else if (entity == "lt") out += '<';
    else if (entity == "gt") out += '>';
    else if (entity == "quot") out += '"';
    else if (entity == "apos") out += '\'';
    else if (!entity.empty() && entity[0] == '#') {
      unsigned long code = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X')
                               ? std::strtoul(std::string(entity.substr(2)).c_str(), nullptr, 16)
                               : std::strtoul(std::string(entity.substr(1)).c_str(), nullptr, 10);
      if (code < 0x80) {
        out += static_cast<char>(code);
      } else if (code < 0x800) {
        out += static_cast<char>(0xc0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else if (code < 0x10000) {
        out += static_cast<char>(0xe0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      } else {
        out += static_cast<char>(0xf0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (code & 0x3f));
      }
    } else {
      out += text.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

// The texts of every <tag>...</tag> in `xml` (S3's answers are flat enough for this).
std::vector<std::string> xml_all(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  for (size_t at = xml.find(open); at != std::string_view::npos; at = xml.find(open, at)) {
    size_t start = at + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(std::string(xml.substr(start, end - start)));
    at = end + close.size();
  }
  return out;
}
std::string xml_first(std::string_view xml, std::string_view tag) {
  auto all = xml_all(xml, tag);
  return all.empty() ? "" : xml_unescape(all.front());
}

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t collect_header(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
    headers->emplace_back(name, trim(std::string(line.substr(colon + 1))));
  }
  return size * count;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::map<std::string, std::string> read_profile(const std::string& file, const std::string& profile) {
  std::map<std::string, std::string> values;
  std::ifstream in(file);
  std::string line, section;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    auto eq = line.find('=');
    if (section == profile && eq != std::string::npos) values[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return values;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

Credentials credentials_from_environment() {
  Credentials c{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
  if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
  std::string profile = env("AWS_PROFILE").empty() ? "default" : env("AWS_PROFILE");
  std::string file = env("AWS_SHARED_CREDENTIALS_FILE");
  if (file.empty() && !env("HOME").empty()) file = env("HOME") + "/.aws/credentials";
  auto values = read_profile(file, profile);
  c = {values["aws_access_key_id"], values["aws_secret_access_key"], values["aws_session_token"]};
  if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return c;
  throw Error(ExitCode::auth, "no S3 credentials: neither AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY nor the profile \"" +
                                  profile + "\" in " + (file.empty() ? "~/.aws/credentials" : file) + " has them",
              "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or "
              "set AWS_PROFILE to a profile of ~/.aws/credentials");
}

std::string Client::Response::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "";
}

// One request as the client makes it: what to sign, what to say when it fails.
struct Client::Call {
  std::string method;
  std::string key;  // "" for the bucket itself
  Pairs query;
  Pairs headers;
  std::string_view body;
  std::string what;  // "store backups/ID/manifest.json.age"
};

// Handles kept for reuse (and their connections); one per request in flight.
struct Client::Handles {
  std::mutex mutex;
  std::vector<Easy> idle;
  Easy acquire() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        Easy e = std::move(idle.back());
        idle.pop_back();
        return e;
      }
    }
    Easy e(curl_easy_init());
    if (!e) throw Error(ExitCode::internal, "curl_easy_init failed");
    return e;
  }
  void release(Easy e) {
    std::lock_guard lock(mutex);
    idle.push_back(std::move(e));
  }
};

Client::Client(Endpoint endpoint, Credentials credentials, RetryPolicy retry)
    : endpoint_(std::move(endpoint)), credentials_(std::move(credentials)), retry_(retry),
      handles_(std::make_unique<Handles>()) {
  global_init();
  auto sep = endpoint_.url.find("://");
  if (sep == std::string::npos)
    throw Error(ExitCode::usage, "the S3 endpoint " + endpoint_.url + " is not a URL",
                "give --s3-endpoint as http(s)://HOST[:PORT]");
  scheme_ = endpoint_.url.substr(0, sep);
  host_ = endpoint_.url.substr(sep + 3);
  while (!host_.empty() && host_.back() == '/') host_.pop_back();
  if ((scheme_ != "http" && scheme_ != "https") || host_.empty() || host_.find('/') != std::string::npos)
    throw Error(ExitCode::usage, "the S3 endpoint " + endpoint_.url + " is not scheme://host[:port]",
                "give --s3-endpoint as http(s)://HOST[:PORT]");
  if (endpoint_.bucket.empty()) throw Error(ExitCode::usage, "no bucket in the repository URL", "give --repo s3://BUCKET/PREFIX");
}

Client::~Client() = default;

std::string Client::describe() const { return "s3://" + endpoint_.bucket + " (" + endpoint_.url + ")"; }

Client::Response Client::attempt(const Call& call) {
  Request request;
  request.method = call.method;
  request.host = endpoint_.virtual_host ? endpoint_.bucket + "." + host_ : host_;
  std::string key_path = call.key.empty() ? "" : "/" + call.key;
  request.path = endpoint_.virtual_host ? (key_path.empty() ? "/" : key_path) : "/" + endpoint_.bucket + key_path;
  request.query = call.query;
  request.headers = call.headers;
  request.payload_sha256 = hex_sha256(call.body);
  Signed s = sign(request, credentials_, endpoint_.region, std::time(nullptr));
  std::string query = canonical_query(request);
  std::string url = scheme_ + "://" + request.host + encoded_path(request) + (query.empty() ? "" : "?" + query);

  Slist headers;
  auto add = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (!next) throw Error(ExitCode::internal, "curl_slist_append failed");
    headers.release();
    headers.reset(next);
  };
  for (const auto& [name, value] : s.headers)
    if (name != "host") add(name + ": " + value);
  add("Expect:");        // no 100-continue round trip
  add("Content-Type:");  // not curl's form type for a POST body

  Easy easy = handles_->acquire();
  CURL* c = easy.get();
  curl_easy_reset(c);
  Response r;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);  // under 1 KiB/s for 60 s: give up and retry
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  if (call.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (call.method == "PUT" || call.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  } else if (call.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  }
  CURLcode code = curl_easy_perform(c);
  if (code == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.status = 0;
    r.body = curl_easy_strerror(code);
  }
  handles_->release(std::move(easy));
  return r;
}

Client::Response Client::send(const Call& call) {
  std::mt19937 jitter(std::random_device{}());
  auto delay = retry_.first_delay;
  for (int n = 1;; ++n) {
    throw_if_interrupted();
    Response r = attempt(call);
    bool transient = r.status == 0 || r.status >= 500 || r.status == 429 ||
                     (r.status == 400 && xml_first(r.body, "Code") == "RequestTimeout");
    // A multipart completion can fail after its 200 status line: the body says so.
    if (r.status == 200 && call.method == "POST" && !call.key.empty() && r.body.find("<Error>") != std::string::npos)
      transient = true;
    if (!transient || n >= retry_.attempts) return r;
    auto wait = delay + std::chrono::milliseconds(jitter() % (delay.count() / 2 + 1));
    log::info("S3: {} failed ({}); retrying in {} ms ({} of {})", call.what,
              r.status == 0 ? r.body : fmt::format("HTTP {} {}", r.status, xml_first(r.body, "Code")), wait.count(), n,
              retry_.attempts - 1);
    std::this_thread::sleep_for(wait);
    delay = std::min(delay * 2, retry_.max_delay);
  }
}

void Client::fail(const Call& call, const Response& r) const {
  std::string where = describe();
  if (r.status == 0)
    throw Error(ExitCode::unreachable, "cannot " + call.what + " at " + where + ": " + r.body,
                "check --s3-endpoint and that the store is reachable from here");
  std::string code = xml_first(r.body, "Code");
  std::string message = xml_first(r.body, "Message");
  std::string said = code.empty() ? fmt::format("HTTP {}", r.status) : fmt::format("HTTP {} {}", r.status, code);
  if (!message.empty()) said += ": " + message;
  if (code == "ExpiredToken" || code == "TokenRefreshRequired")
    throw Error(ExitCode::auth, "the S3 session token has expired (" + call.what + " at " + where + ")",
                "get new temporary credentials (AWS_SESSION_TOKEN), then run the same command again");
  if (code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" || code == "InvalidToken" ||
      code == "AccessDenied" || code == "AuthorizationHeaderMalformed" || r.status == 401 || r.status == 403)
    throw Error(ExitCode::auth, "the S3 store refused the credentials: cannot " + call.what + " at " + where + " (" + said + ")",
                "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), --s3-region, and that they may "
                "use bucket " + endpoint_.bucket);
  if (code == "NoSuchBucket")
    throw Error(ExitCode::repository, "the bucket " + endpoint_.bucket + " does not exist at " + endpoint_.url,
                "create it (decant does not create buckets), or check --repo and --s3-endpoint");
  throw Error(ExitCode::repository, "cannot " + call.what + " at " + where + " (" + said + ")",
              "check the store's health and --s3-endpoint, then run the same command again");
}

void Client::put(const std::string& key, std::string_view bytes) {
  if (bytes.size() > multipart_threshold()) return put_multipart(key, bytes);
  std::string checksum = base64_encode(crypto::sha256(bytes));
  Call call{"PUT", key, {}, {{"x-amz-checksum-sha256", checksum}}, bytes, "store " + key};
  Response r = send(call);
  if (r.status != 200) fail(call, r);
  std::string echoed = r.header("x-amz-checksum-sha256");
  if (!echoed.empty() && echoed != checksum)
    throw Error(ExitCode::repository, "the S3 store acknowledged " + key + " with another checksum than was sent",
                "check the store; run the same command again");
}

void Client::put_multipart(const std::string& key, std::string_view bytes) {
  Call create{"POST", key, {{"uploads", ""}}, {{"x-amz-checksum-algorithm", "SHA256"}}, {}, "start uploading " + key};
  Response r = send(create);
  if (r.status != 200) fail(create, r);
  std::string upload_id = xml_first(r.body, "UploadId");
  if (upload_id.empty())
    throw Error(ExitCode::repository, "the S3 store started an upload of " + key + " without an upload id");
  std::string parts_xml;
  try {
    for (size_t at = 0, number = 1; at < bytes.size(); at += part_size(), ++number) {
      std::string_view part = bytes.substr(at, part_size());
      std::string checksum = base64_encode(crypto::sha256(part));
      Call upload{"PUT",
                  key,
                  {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}},
                  {{"x-amz-checksum-sha256", checksum}},
                  part,
                  fmt::format("store part {} of {}", number, key)};
      Response p = send(upload);
      if (p.status != 200) fail(upload, p);
      std::string etag = p.header("etag");
      if (etag.empty()) throw Error(ExitCode::repository, "the S3 store stored a part of " + key + " without an ETag");
      parts_xml += fmt::format("<Part><ChecksumSHA256>{}</ChecksumSHA256><ETag>{}</ETag><PartNumber>{}</PartNumber></Part>",
                               checksum, xml_escape(etag), number);
    }
    std::string body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + parts_xml +
                       "</CompleteMultipartUpload>";
    Call complete{"POST", key, {{"uploadId", upload_id}}, {}, body, "complete the upload of " + key};
    Response done = send(complete);
    // A retried completion whose first answer was lost finds the upload already done.
    bool done_before = xml_first(done.body, "Code") == "NoSuchUpload" && head(key) == bytes.size();
    if (!done_before && (done.status != 200 || done.body.find("<Error>") != std::string::npos)) fail(complete, done);
  } catch (...) {
    // Leave no parts behind (they cost storage and never become an object).
    Call abort{"DELETE", key, {{"uploadId", upload_id}}, {}, {}, "abort the upload of " + key};
    try {
      send(abort);
    } catch (...) {
    }
    throw;
  }
}

std::optional<std::string> Client::get(const std::string& key) {
  Call call{"GET", key, {}, {}, {}, "read " + key};
  Response r = send(call);
  if (r.status == 404 && xml_first(r.body, "Code") != "NoSuchBucket") return std::nullopt;
  if (r.status != 200) fail(call, r);
  return std::move(r.body);
}

std::optional<uint64_t> Client::head(const std::string& key) {
  Call call{"HEAD", key, {}, {}, {}, "look up " + key};
  Response r = send(call);
  if (r.status == 404) {
    // HEAD has no body to say which: ask the bucket.
    check_bucket();
    return std::nullopt;
  }
  if (r.status != 200) fail(call, r);
  std::string length = r.header("content-length");
  if (length.empty()) throw Error(ExitCode::repository, "the S3 store gave no size for " + key);
  return std::stoull(length);
}

std::vector<ObjectInfo> Client::list(const std::string& prefix) {
  std::vector<ObjectInfo> out;
  std::string token;
  for (;;) {
    Pairs query{{"list-type", "2"}, {"prefix", prefix}, {"max-keys", "1000"}};
    if (!token.empty()) query.emplace_back("continuation-token", token);
    Call call{"GET", "", query, {}, {}, "list " + prefix};
    Response r = send(call);
    if (r.status != 200) fail(call, r);
    for (const auto& contents : xml_all(r.body, "Contents"))
      out.push_back({xml_first(contents, "Key"), std::stoull("0" + xml_first(contents, "Size"))});
    if (xml_first(r.body, "IsTruncated") != "true") break;
    token = xml_first(r.body, "NextContinuationToken");
    if (token.empty()) throw Error(ExitCode::repository, "the S3 store cut a listing of " + prefix + " without a token");
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return out;
}

void Client::remove(const std::vector<std::string>& keys) {
  for (size_t at = 0; at < keys.size(); at += 1000) {
    std::string body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
    for (size_t i = at; i < std::min(keys.size(), at + 1000); ++i) body += "<Object><Key>" + xml_escape(keys[i]) + "</Key></Object>";
    body += "</Delete>";
    Call call{"POST", "", {{"delete", ""}}, {{"content-md5", base64_encode(crypto::md5(body))}}, body,
              fmt::format("delete {} objects", std::min(keys.size() - at, size_t{1000}))};
    Response r = send(call);
    if (r.status != 200) fail(call, r);
    auto errors = xml_all(r.body, "Error");
    if (!errors.empty())
      throw Error(ExitCode::repository,
                  fmt::format("the S3 store did not delete {} ({}: {})", xml_first(errors.front(), "Key"),
                              xml_first(errors.front(), "Code"), xml_first(errors.front(), "Message")),
                  "check the store's permissions (s3:DeleteObject), then run the same command again");
  }
}

void Client::check_bucket() {
  Call call{"GET", "", {{"list-type", "2"}, {"max-keys", "1"}}, {}, {}, "list the bucket " + endpoint_.bucket};
  Response r = send(call);
  if (r.status != 200) fail(call, r);
}

}  // namespace decant::s3
