#pragma once
// What a CircleCI Server release looks like in its namespace, read with kubectl and helm:
// the Helm release and its values, the application layer (Deployments labelled
// layer=application) and the internal databases (StatefulSets postgresql and mongodb,
// their Services' ports and their passwords in Secrets). Read-only.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "k8s/cluster.hpp"

namespace decant::migrate {

struct AppDeployment {
  std::string name;
  int replicas = 0;  // spec.replicas
  int ready = 0;     // status.readyReplicas
};

struct InternalDatabase {
  std::string kind;          // "postgresql" or "mongodb"
  bool internal = true;      // the values' <kind>.internal
  bool running = false;      // its StatefulSet exists with a ready pod
  std::string pod;           // <kind>-0
  int port = 0;              // the pod's port: 5432, 27017
  std::string user;          // postgres; the MongoDB root user
  std::string secret, key;   // where the password was found
  std::string password;      // never printed, logged nor written
  std::string external;      // what the values name when not internal (host:port, hosts)
};

struct ReleaseState {
  std::string name;
  std::string chart;  // "circleci-server-4.8.0"
  std::string app_version;
  std::string status;
  int revision = 0;
  nlohmann::json user_values;  // helm get values: what the operator set
  nlohmann::json values;       // helm get values --all: with the chart's defaults
  std::vector<AppDeployment> apps;
  InternalDatabase postgresql;
  InternalDatabase mongodb;
};

// Throws Error(cluster_mismatch) for no release (or several without `release`), no
// layer=application deployments; credentials are read only for the databases that
// `want_postgresql` / `want_mongodb` ask for (a missing Secret or key throws then).
ReleaseState read_release(const k8s::Cluster& cluster, const std::optional<std::string>& release,
                          bool want_postgresql, bool want_mongodb);

// How decant reaches an internal database through a port-forward on `local_port`
// (the strings hold its password: for this process only).
// The internal database's connection string, at `host`:`port` (a forward's 127.0.0.1 and
// local port, or its Service's name in the cluster).
std::string pg_source_conninfo(const std::string& host, int port, const InternalDatabase& db);
std::string mongo_source_uri(const std::string& host, int port, const InternalDatabase& db);
std::string percent_encode(const std::string& text);

// A value at a dotted path ("postgresql.internal"), or nullptr.
const nlohmann::json* value_at(const nlohmann::json& values, const std::string& path);

}  // namespace decant::migrate
