#include "migrate/values.hpp"

#include <fmt/format.h>
#include <mongoc/mongoc.h>

#include <cctype>
#include <charconv>

#include "common/error.hpp"
#include "migrate/release.hpp"
#include "mongo/client.hpp"
#include "pg/conninfo.hpp"

namespace decant::migrate {
using nlohmann::json;

namespace {

std::string option_text(const bson_iter_t& it) {
  switch (bson_iter_type(&it)) {
    case BSON_TYPE_UTF8: return bson_iter_utf8(&it, nullptr);
    case BSON_TYPE_BOOL: return bson_iter_bool(&it) ? "true" : "false";
    case BSON_TYPE_INT32: return std::to_string(bson_iter_int32(&it));
    case BSON_TYPE_INT64: return std::to_string(bson_iter_int64(&it));
    default: return "";
  }
}

// The one network address the release's pods reach the PostgreSQL target at (the string's,
// or PGHOST's as libpq takes it). No default: "localhost" would point the application at its
// own pod.
std::string application_host(const pg::ConnInfo& info) {
  std::string host = info.host();
  if (host.empty())
    throw Error(ExitCode::usage, "--pg-target names no host: the release needs the address its pods reach the server at",
                "add host=ADDRESS to --pg-target (or postgresql://USER@ADDRESS:5432/postgres)");
  if (host.front() == '/')
    throw Error(ExitCode::usage, "--pg-target's host " + host + " is a Unix socket directory: the release's pods need a network address",
                "give the server's address as host=ADDRESS");
  if (host.find(',') != std::string::npos)
    throw Error(ExitCode::usage, "--pg-target lists several hosts (" + host + "): the release takes one",
                "give the address the application should use (the primary, or a proxy in front of the replicas)");
  return host;
}

int application_port(const pg::ConnInfo& info) {
  std::string text = info.port();
  int port = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (error != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535)
    throw Error(ExitCode::usage, "--pg-target's port " + text + " is not one port number (1-65535)",
                "give the port the application should use as port=NUMBER");
  return port;
}

}  // namespace

json external_values(const std::optional<std::string>& pg_target, const std::optional<std::string>& mongo_target,
                     const std::string& secret_name, bool pg_secure_mode) {
  json values = json::object();
  if (pg_target) {
    auto info = pg::ConnInfo::parse(*pg_target, "target");
    values["postgresql"] = {{"internal", false},
                            {"postgresqlHost", application_host(info)},
                            {"postgresqlPort", application_port(info)},
                            {"auth", {{"username", info.param("user").value_or("postgres")},
                                      {"existingSecret", secret_name}}}};
    if (pg_secure_mode) values["postgresql"]["secureMode"] = true;
  }
  if (mongo_target) {
    // As the operator wrote it: the release gets none of decant's own driver options.
    auto uri = mongo::Uri::parse_as_written(*mongo_target, "target");
    // The release connects to mongodb://HOSTS: a seed list's hosts are only in DNS.
    if (const char* srv = mongoc_uri_get_srv_hostname(uri.get()))
      throw Error(ExitCode::usage,
                  fmt::format("--mongo-target is a DNS seed list (mongodb+srv://{}): the release takes a list of hosts", srv),
                  fmt::format("give the hosts its SRV record lists (dig SRV _mongodb._tcp.{}) as mongodb://HOST:PORT,.../"
                              "?tls=true&replicaSet=NAME, with the options its TXT record holds",
                              srv));
    std::string hosts;
    for (const mongoc_host_list_t* h = mongoc_uri_get_hosts(uri.get()); h; h = h->next)
      hosts += (hosts.empty() ? "" : ",") + std::string(h->host_and_port);
    bool tls = mongoc_uri_get_tls(uri.get());
    bool insecure = mongoc_uri_get_option_as_bool(uri.get(), MONGOC_URI_TLSINSECURE, false) ||
                    mongoc_uri_get_option_as_bool(uri.get(), MONGOC_URI_TLSALLOWINVALIDCERTIFICATES, false);
    // The rest of the URI's options, as the chart's URL-encoded query string.
    std::string options;
    const bson_t* opts = mongoc_uri_get_options(uri.get());
    bson_iter_t it;
    if (opts && bson_iter_init(&it, opts)) {
      while (bson_iter_next(&it)) {
        std::string key = bson_iter_key(&it);
        std::string lower;
        for (char c : key) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "tls" || lower == "ssl" || lower == "tlsinsecure" || lower == "tlsallowinvalidcertificates" ||
            lower == "authsource" || lower == "authmechanism")
          continue;
        options += (options.empty() ? "" : "&") + percent_encode(key) + "=" + percent_encode(option_text(it));
      }
    }
    const char* source = mongoc_uri_get_auth_source(uri.get());
    const char* mechanism = mongoc_uri_get_auth_mechanism(uri.get());
    const char* user = mongoc_uri_get_username(uri.get());
    values["mongodb"] = {{"internal", false},
                         {"hosts", hosts},
                         {"ssl", tls},
                         {"tlsInsecure", insecure},
                         {"options", options},
                         {"auth", {{"username", user ? user : ""},
                                   {"database", source ? source : "admin"},
                                   {"mechanism", mechanism ? mechanism : "SCRAM-SHA-1"},
                                   {"existingSecret", secret_name}}}};
  }
  return values;
}

}  // namespace decant::migrate
