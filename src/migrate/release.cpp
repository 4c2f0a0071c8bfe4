#include "migrate/release.hpp"

#include <fmt/format.h>

#include <cctype>

#include "common/error.hpp"
#include "common/log.hpp"
#include "pg/conninfo.hpp"

namespace decant::migrate {
namespace {

std::string string_at(const nlohmann::json& values, const std::string& path, const std::string& fallback = "") {
  const auto* v = value_at(values, path);
  if (!v || v->is_null()) return fallback;
  if (v->is_string()) return v->get<std::string>();
  return v->dump();
}

bool bool_at(const nlohmann::json& values, const std::string& path, bool fallback) {
  const auto* v = value_at(values, path);
  if (v && v->is_boolean()) return v->get<bool>();
  if (v && v->is_string()) return v->get<std::string>() == "true";
  return fallback;
}

nlohmann::json pick_release(const k8s::Cluster& cluster, const std::optional<std::string>& wanted) {
  auto releases = cluster.helm_json({"list", "--all"});
  std::vector<std::string> names;
  for (const auto& r : releases) {
    names.push_back(r.value("name", ""));
    if (wanted && r.value("name", "") == *wanted) return r;
  }
  if (wanted)
    throw Error(ExitCode::cluster_mismatch,
                fmt::format("no Helm release {} in the namespace {} (there: {})", *wanted, cluster.ns(),
                            names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))),
                "name the CircleCI Server release with --release (helm list -n " + cluster.ns() + ")");
  if (releases.size() == 1) return releases[0];
  if (releases.empty())
    throw Error(ExitCode::cluster_mismatch, "no Helm release in the namespace " + cluster.ns(),
                "name the namespace CircleCI Server runs in with -n (helm list -A)");
  throw Error(ExitCode::cluster_mismatch,
              fmt::format("{} Helm releases in the namespace {}: {}", releases.size(), cluster.ns(), fmt::join(names, ", ")),
              "name the CircleCI Server release with --release");
}

void read_database(const k8s::Cluster& cluster, const nlohmann::json& values, InternalDatabase& db, bool want_password) {
  bool pg = db.kind == "postgresql";
  db.internal = bool_at(values, db.kind + ".internal", true);
  db.pod = db.kind + "-0";
  db.port = pg ? 5432 : 27017;
  db.external = pg ? string_at(values, "postgresql.postgresqlHost") + ":" + string_at(values, "postgresql.postgresqlPort", "5432")
                   : string_at(values, "mongodb.hosts");
  try {
    auto sts = cluster.kubectl_json({"get", "statefulset", db.kind});
    db.running = sts["status"].value("readyReplicas", 0) > 0;
  } catch (const Error& e) {
    if (e.code() != ExitCode::cluster_mismatch) throw;
    db.running = false;
  }
  // The Service's port is the one the application uses; the pod listens on its target port.
  try {
    auto svc = cluster.kubectl_json({"get", "service", db.kind});
    for (const auto& p : svc["spec"]["ports"]) {
      auto target = p.value("targetPort", nlohmann::json());
      db.port = target.is_number() ? target.get<int>() : p.value("port", db.port);
      break;
    }
  } catch (const Error& e) {
    if (e.code() != ExitCode::cluster_mismatch) throw;
  }
  db.user = pg ? "postgres" : string_at(values, "mongodb.auth.rootUser", "root");
  if (!want_password || !db.internal) return;
  std::string existing = string_at(values, db.kind + ".auth.existingSecret");
  db.secret = existing.empty() ? db.kind : existing;
  // Chart versions name the key differently; the first one present is it.
  std::vector<std::string> keys = pg ? std::vector<std::string>{"postgres-password", "postgresql-password"}
                                     : std::vector<std::string>{"mongodb-root-password"};
  bool secret_seen = false;
  for (const auto& key : keys) {
    auto value = cluster.secret_value(db.secret, key);
    if (!value) continue;
    secret_seen = true;
    db.key = key;
    db.password = *value;
    log::debug("{}: password read from Secret {} key {}", db.kind, db.secret, key);
    return;
  }
  (void)secret_seen;
  throw Error(ExitCode::cluster_mismatch,
              fmt::format("the {} password is not in the Secret {} (keys tried: {})", db.kind, db.secret,
                          fmt::join(keys, ", ")),
              fmt::format("check {}.auth.existingSecret in the values and the Secret's keys (kubectl -n {} get "
                          "secret {} -o jsonpath='{{.data}}' | jq keys)",
                          db.kind, cluster.ns(), db.secret));
}

}  // namespace

std::string pg_source_conninfo(const std::string& host, int port, const InternalDatabase& db) {
  return fmt::format("host={} port={} user={} dbname=postgres password={} application_name=decant",
                     pg::quote_conninfo_value(host), port, pg::quote_conninfo_value(db.user),
                     pg::quote_conninfo_value(db.password));
}

std::string percent_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string mongo_source_uri(const std::string& host, int port, const InternalDatabase& db) {
  return fmt::format("mongodb://{}:{}@{}:{}/?authSource=admin&directConnection=true", percent_encode(db.user),
                     percent_encode(db.password), host, port);
}

const nlohmann::json* value_at(const nlohmann::json& values, const std::string& path) {
  const nlohmann::json* at = &values;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object() || !at->contains(part)) return nullptr;
    at = &(*at)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return at;
}

ReleaseState read_release(const k8s::Cluster& cluster, const std::optional<std::string>& release, bool want_postgresql,
                          bool want_mongodb) {
  ReleaseState state;
  auto r = pick_release(cluster, release);
  state.name = r.value("name", "");
  state.chart = r.value("chart", "");
  state.app_version = r.value("app_version", "");
  state.status = r.value("status", "");
  state.revision = std::stoi(r.value("revision", "0"));
  state.user_values = cluster.helm_json({"get", "values", state.name});
  if (state.user_values.is_null()) state.user_values = nlohmann::json::object();
  state.values = cluster.helm_json({"get", "values", state.name, "--all"});

  auto deployments = cluster.kubectl_json({"get", "deployments", "--selector=layer=application"});
  for (const auto& d : deployments["items"])
    state.apps.push_back({d["metadata"].value("name", ""), d["spec"].value("replicas", 1),
                          d["status"].value("readyReplicas", 0)});
  if (state.apps.empty())
    throw Error(ExitCode::cluster_mismatch,
                "no Deployments labelled layer=application in the namespace " + cluster.ns(),
                "check the namespace (-n): CircleCI Server's application layer carries that label");

  state.postgresql.kind = "postgresql";
  state.mongodb.kind = "mongodb";
  read_database(cluster, state.values, state.postgresql, want_postgresql);
  read_database(cluster, state.values, state.mongodb, want_mongodb);
  return state;
}

}  // namespace decant::migrate
