#include "mongo/client.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include "common/error.hpp"
#include "common/log.hpp"

namespace decant::mongo {

void init_driver() {
  static std::once_flag once;
  std::call_once(once, [] {
    // The driver's own messages are for the verbose log; errors reach the user as
    // decant::Error. Set before mongoc_init, which has messages of its own.
    mongoc_log_set_handler(
        [](mongoc_log_level_t, const char* domain, const char* message, void*) {
          log::debug("mongoc {}: {}", domain, message);
        },
        nullptr);
    mongoc_init();
    // mongoc_init (Debian's library also runs it when loaded, before main) maps its
    // statistics counters from /dev/shm/mongoc-<pid>, which only mongoc_cleanup removes:
    // a killed run would leave it behind, and a later process of the same pid would find
    // it taken. The mapping outlives the name.
    ::shm_unlink(("mongoc-" + std::to_string(::getpid())).c_str());
    std::atexit(mongoc_cleanup);
  });
}

namespace {

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

std::string percent_decoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The password of a connection string, as written and percent-decoded. A malformed string
// can be split in more than one way (the driver ends the user info at the last '@' before
// the first '/'); every reading is kept, as hiding too much only hides text.
std::vector<std::string> passwords_in(const std::string& text) {
  std::vector<std::string> out;
  auto scheme = text.find("://");
  if (scheme == std::string::npos) return out;
  std::string rest = text.substr(scheme + 3);
  std::vector<std::string> user_infos;
  for (size_t end : {rest.find_first_of("/?"), rest.find('/'), std::string::npos}) {
    auto head = rest.substr(0, end);
    auto at = head.rfind('@');
    if (at != std::string::npos) user_infos.push_back(head.substr(0, at));
  }
  if (auto at = rest.find('@'); at != std::string::npos) user_infos.push_back(rest.substr(0, at));
  for (const auto& info : user_infos) {
    auto colon = info.find(':');
    if (colon == std::string::npos || colon + 1 == info.size()) continue;
    out.push_back(info.substr(colon + 1));
    out.push_back(percent_decoded(out.back()));
  }
  // Longest first, so that a shorter reading cannot leave the rest of a longer one.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// `message` with every password of `text` replaced by "xxx". A message that fills the
// driver's buffer may end in the first part of one: that is hidden too.
std::string without_passwords(std::string message, const std::string& text, bool filled_buffer) {
  for (const auto& pw : passwords_in(text)) {
    for (auto at = message.find(pw); at != std::string::npos; at = message.find(pw, at + 3))
      message.replace(at, pw.size(), "xxx");
    if (!filled_buffer) continue;
    for (size_t n = std::min(pw.size() - 1, message.size()); n > 0; --n)
      if (message.compare(message.size() - n, n, pw, 0, n) == 0) {
        message.replace(message.size() - n, n, "xxx");
        break;
      }
  }
  return message;
}

}  // namespace

Bson Bson::from_json(const std::string& json) {
  bson_error_t error;
  bson_t* doc = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()), static_cast<ssize_t>(json.size()),
                                   &error);
  if (!doc) throw Error(ExitCode::usage, std::string("invalid JSON: ") + error.message);
  return Bson(doc);
}

std::string Bson::json() const {
  size_t len = 0;
  char* s = bson_as_canonical_extended_json(doc_, &len);
  std::string out(s, len);
  bson_free(s);
  return out;
}

Uri Uri::parse(const std::string& text, const std::string& role) {
  Uri out = parse_as_written(text, role);
  mongoc_uri_t* uri = out.uri_.get();
  // A dead host must not hang the command: bound server selection unless the user did.
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 10000);
  if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 10000);
  if (!mongoc_uri_get_appname(uri)) mongoc_uri_set_appname(uri, "decant");
  return out;
}

Uri Uri::parse_as_written(const std::string& text, const std::string& role) {
  init_driver();
  // An unescaped '@' in the password would make the driver read part of it as the host,
  // and show it in its messages: refuse it first.
  auto scheme = text.find("://");
  if (scheme != std::string::npos) {
    auto start = scheme + 3;
    auto end = text.find_first_of("/?", start);
    auto authority = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (std::count(authority.begin(), authority.end(), '@') > 1)
      throw Error(ExitCode::usage, "the --" + role + " connection string has more than one '@' before the host",
                  "percent-encode '@' in the user name or password as %40");
  }
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(text.c_str(), &error);
  if (!uri) {
    // The driver's message can quote the input, password included: that is replaced.
    std::string raw = error.message;
    std::string msg = without_passwords(raw, text, raw.size() + 1 >= sizeof error.message);
    throw Error(ExitCode::usage, "the --" + role + " connection string is malformed: " + msg,
                "give a MongoDB URI such as mongodb://user@host:27017/?authSource=admin");
  }
  Uri out;
  out.uri_.reset(uri);
  out.role_ = role;
  return out;
}

std::string Uri::display() const {
  std::string hosts;
  for (const mongoc_host_list_t* h = mongoc_uri_get_hosts(uri_.get()); h; h = h->next)
    hosts += (hosts.empty() ? "" : ",") + std::string(h->host_and_port);
  const char* user = mongoc_uri_get_username(uri_.get());
  return (user ? std::string(user) + "@" : std::string()) + hosts;
}

ClientPool::ClientPool(const Uri& uri) : where_(uri.role() + " " + uri.display()) {
  bson_error_t error;
  pool_.reset(mongoc_client_pool_new_with_error(uri.get(), &error));
  if (!pool_) fail(error, where_, "opening a client pool");
  mongoc_client_pool_set_error_api(pool_.get(), MONGOC_ERROR_API_VERSION_2);
}

ClientPool::Lease ClientPool::acquire() const { return Lease(pool_.get(), mongoc_client_pool_pop(pool_.get())); }

void fail(const bson_error_t& error, const std::string& where, const std::string& doing) {
  std::string msg = error.message;
  std::string role = where.substr(0, where.find(' '));
  ExitCode code = ExitCode::copy_failed;
  std::string hint = "fix the cause and run the command again (a copy continues with --resume)";
  if (error.domain == MONGOC_ERROR_SERVER || error.domain == MONGOC_ERROR_WRITE_CONCERN_ERROR) {
    // The server's own error: its code says what it is, whatever the message's wording.
    switch (error.code) {
      case 18:  // AuthenticationFailed
      case 11:  // UserNotFound
        code = ExitCode::auth;
        hint = "check the user, password, authSource and authMechanism of --" + role;
        break;
      case 13:  // Unauthorized
        code = ExitCode::privileges;
        hint = "connect as a user with the needed roles (readAnyDatabase on the source, restore on the target)";
        break;
      case 6:    // HostUnreachable
      case 7:    // HostNotFound
      case 89:   // NetworkTimeout
      case 91:   // ShutdownInProgress
      case 189:  // PrimarySteppedDown
        code = ExitCode::unreachable;
        hint = "the server went away; once it answers again, run the same command with --resume";
        break;
      default:
        break;
    }
  } else if (error.domain == MONGOC_ERROR_CLIENT && error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) {
    code = ExitCode::auth;
    hint = "check the user, password, authSource and authMechanism of --" + role;
  } else if (contains(msg, "TLS") || contains(msg, "SSL") || contains(msg, "certificate")) {
    // libmongoc's own messages (in this process, in English) name a TLS failure.
    code = ExitCode::tls;
    hint = "check tls, tlsCAFile and tlsInsecure in the URI";
  } else if (error.domain == MONGOC_ERROR_SERVER_SELECTION || error.domain == MONGOC_ERROR_STREAM) {
    code = ExitCode::unreachable;
    hint = "check the hosts and ports in the URI, that the server runs and that this machine can reach it";
  }
  throw Error(code, "the " + where + " failed " + doing + ": " + msg, hint);
}

Bson run_command(mongoc_client_t* client, const std::string& db, const Bson& command, const std::string& where) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_client_command_simple(client, db.c_str(), command.get(), nullptr, &reply, &error);
  Bson owned(bson_copy(&reply));
  bson_destroy(&reply);
  if (!ok) {
    std::string what = "running " + command.json().substr(0, 80);
    fail(error, where, what);
  }
  return owned;
}

std::vector<Bson> drain(mongoc_cursor_t* cursor, const std::string& where, const std::string& doing) {
  std::vector<Bson> out;
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor, &doc)) out.push_back(Bson::copy_of(doc));
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) fail(error, where, doing);
  return out;
}

std::string utf8_field(const bson_t* doc, const char* path) {
  bson_iter_t it;
  if (!doc || !bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &it) || !BSON_ITER_HOLDS_UTF8(&it))
    return "";
  return bson_iter_utf8(&it, nullptr);
}

int64_t int64_field(const bson_t* doc, const char* path) {
  bson_iter_t it;
  if (!doc || !bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &it) || !BSON_ITER_HOLDS_NUMBER(&it))
    return 0;
  return bson_iter_as_int64(&it);
}

namespace {

bool lowercase_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Process starts computed from two replies differ by the time between them, rounding and
// clock steps: far less than this.
constexpr int64_t kSameStartMs = 2000;

}  // namespace

ServerIdentity server_identity(const bson_t* hello, const bson_t* server_status) {
  ServerIdentity id;
  bson_iter_t it;
  if (bson_iter_init(&it, hello) && bson_iter_find_descendant(&it, "topologyVersion.processId", &it) &&
      BSON_ITER_HOLDS_OID(&it)) {
    char hex[25];
    bson_oid_to_string(bson_iter_oid(&it), hex);
    id.process_id = hex;
  }
  id.set_name = utf8_field(hello, "setName");
  for (const char* list : {"hosts", "passives", "arbiters"}) {
    bson_iter_t member;
    if (bson_iter_init_find(&it, hello, list) && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &member))
      while (bson_iter_next(&member))
        if (BSON_ITER_HOLDS_UTF8(&member)) id.hosts.emplace_back(bson_iter_utf8(&member, nullptr));
  }
  if (server_status) {
    id.host = utf8_field(server_status, "host");
    id.pid = int64_field(server_status, "pid");
    bson_iter_t uptime;
    if (bson_iter_init_find(&it, server_status, "localTime") && BSON_ITER_HOLDS_DATE_TIME(&it) &&
        bson_iter_init_find(&uptime, server_status, "uptimeMillis") && BSON_ITER_HOLDS_NUMBER(&uptime))
      id.started_ms = bson_iter_date_time(&it) - bson_iter_as_int64(&uptime);
  }
  return id;
}

Bson hello(mongoc_client_t* client, const std::string& where) {
  Bson command;
  BSON_APPEND_INT32(command.get(), "isMaster", 1);  // "hello" is 4.4.2+; isMaster is everywhere
  return run_command(client, "admin", command, where);
}

std::string server_version(mongoc_client_t* client, const std::string& where) {
  Bson reply = run_command(client, "admin", Bson::from_json(R"({"buildInfo": 1})"), where);
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply.get(), "version") && BSON_ITER_HOLDS_UTF8(&it))
    return bson_iter_utf8(&it, nullptr);
  return "unknown";
}

std::string feature_compatibility_version(mongoc_client_t* client, const std::string& where) {
  Bson reply;
  try {
    reply = run_command(client, "admin", Bson::from_json(R"({"getParameter": 1, "featureCompatibilityVersion": 1})"),
                        where);
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted || e.code() == ExitCode::unreachable) throw;
    return "";  // a login without clusterMonitor, or a server that does not answer it
  }
  bson_iter_t it, version;
  if (bson_iter_init(&it, reply.get()) && bson_iter_find_descendant(&it, "featureCompatibilityVersion.version", &version) &&
      BSON_ITER_HOLDS_UTF8(&version))
    return bson_iter_utf8(&version, nullptr);
  return "";
}

ServerIdentity identify_server(mongoc_client_t* client, const std::string& where) {
  Bson hello_reply = hello(client, where);
  Bson status_command;
  BSON_APPEND_INT32(status_command.get(), "serverStatus", 1);
  std::optional<Bson> status;
  try {
    status = run_command(client, "admin", status_command, where);
  } catch (const Error& e) {
    log::debug("{}: no serverStatus to identify it by: {}", where, e.what());
  }
  return server_identity(hello_reply.get(), status ? status->get() : nullptr);
}

std::optional<std::string> same_server(const ServerIdentity& source, const ServerIdentity& target) {
  if (!source.process_id.empty() && source.process_id == target.process_id)
    return "both report the server process " + source.process_id;
  if (!source.set_name.empty() && source.set_name == target.set_name)
    for (const auto& member : target.hosts)
      for (const auto& own : source.hosts)
        if (lowercase_equal(member, own))
          return "the target is a member of the source's replica set " + source.set_name + " (" + member + ")";
  // Two process ids that differ are two servers; otherwise what serverStatus says decides.
  if (!source.process_id.empty() && !target.process_id.empty()) return std::nullopt;
  if (source.host.empty() || source.pid == 0 || source.started_ms == 0) return std::nullopt;
  if (lowercase_equal(source.host, target.host) && source.pid == target.pid &&
      std::llabs(source.started_ms - target.started_ms) <= kSameStartMs)
    return "both report host " + source.host + ", process " + std::to_string(source.pid) + ", started at the same time";
  return std::nullopt;
}

void ping(mongoc_client_t* client, const std::string& where) {
  Bson command;
  BSON_APPEND_INT32(command.get(), "ping", 1);
  run_command(client, "admin", command, where);
}

}  // namespace decant::mongo
