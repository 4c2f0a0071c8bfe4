#include "migrate/in_cluster_copy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <thread>

#include "common/log.hpp"
#include "k8s/decant_job.hpp"

namespace decant::migrate {
namespace {

using nlohmann::json;

// host:port of the Service that routes to `db`'s pod and port, by its cluster DNS name; the
// pod's own address when no Service does.
std::pair<std::string, int> service_of(const k8s::Cluster& cluster, const InternalDatabase& db) {
  auto pod = cluster.kubectl_json({"get", "pod", db.pod});
  const json& pod_labels = pod.at("metadata").value("labels", json::object());
  auto services = cluster.kubectl_json({"get", "services"});
  for (const auto& s : services.value("items", json::array())) {
    const json& spec = s.value("spec", json::object());
    const json& selector = spec.value("selector", json::object());
    if (selector.empty()) continue;
    bool selects = std::all_of(selector.items().begin(), selector.items().end(), [&](const auto& kv) {
      return pod_labels.contains(kv.key()) && pod_labels[kv.key()] == kv.value();
    });
    if (!selects) continue;
    for (const auto& p : spec.value("ports", json::array())) {
      int target = p.contains("targetPort") && p["targetPort"].is_number() ? p["targetPort"].get<int>() : p.value("port", 0);
      if (target == db.port)
        return {fmt::format("{}.{}.svc", s.at("metadata").at("name").get<std::string>(), cluster.ns()), p.value("port", 0)};
    }
  }
  std::string ip = pod.at("status").value("podIP", "");
  if (ip.empty())
    throw Error(ExitCode::cluster_mismatch, fmt::format("the pod {} has no address and no Service routes to it", db.pod),
                "check kubectl -n " + cluster.ns() + " get pod " + db.pod);
  return {ip, db.port};
}

}  // namespace

std::map<std::string, std::string> data_path_variables(const k8s::Cluster& cluster, const PlanOptions& options,
                                                       const ReleaseState& release) {
  std::map<std::string, std::string> env;
  if (options.pg_target) {
    auto [host, port] = service_of(cluster, release.postgresql);
    env[kPgSourceVariable] = pg_source_conninfo(host, port, release.postgresql);
    env[kPgTargetVariable] = *options.pg_target;
  }
  if (options.mongo_target) {
    auto [host, port] = service_of(cluster, release.mongodb);
    env[kMongoSourceVariable] = mongo_source_uri(host, port, release.mongodb);
    env[kMongoTargetVariable] = *options.mongo_target;
  }
  return env;
}

JobsShare share_jobs(int jobs, double pg_share) {
  int pg = std::clamp(static_cast<int>(std::lround(jobs * std::clamp(pg_share, 0.0, 1.0))), 1, std::max(1, jobs - 1));
  return {pg, std::max(1, jobs - pg)};
}

void copy_in_cluster(const InClusterCopy& c) {
  const auto& o = c.plan;
  int jobs = c.run.jobs > 0 ? c.run.jobs : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  int pg_jobs = jobs, mongo_jobs = jobs;
  if (o.pg_target && o.mongo_target) {  // shared by size: the larger copy gets more
    auto share = share_jobs(jobs, c.pg_share.value_or(0.5));
    pg_jobs = share.pg;
    mongo_jobs = share.mongo;
  }
  auto common = [&](int n) {
    return std::vector<std::string>{"--jobs", std::to_string(n), "--progress-interval",
                                    fmt::format("{}", std::chrono::duration<double>(c.run.progress_interval).count())};
  };
  k8s::JobSpec spec{kCopyJobName, "migrate-copy", *o.image, o.image_pull_policy,
                    data_path_variables(c.cluster, o, c.release), {}};
  if (o.pg_target) {
    std::vector<std::string> args{"pg", "copy", "--source", from_env(kPgSourceVariable), "--target",
                                  from_env(kPgTargetVariable)};
    if (o.clean) args.push_back("--clean");
    for (const auto& e : o.extension_update) args.insert(args.end(), {"--extension-update", e});
    auto more = common(pg_jobs);
    args.insert(args.end(), more.begin(), more.end());
    spec.containers.push_back({"postgresql", args});
  }
  if (o.mongo_target) {
    std::vector<std::string> args{"mongo", "copy", "--source", from_env(kMongoSourceVariable), "--target",
                                  from_env(kMongoTargetVariable)};
    if (!o.all_mongo_dbs)
      for (const auto& db : o.mongo_dbs) args.insert(args.end(), {"--db", db});
    if (o.drop) args.push_back("--drop");
    auto more = common(mongo_jobs);
    args.insert(args.end(), more.begin(), more.end());
    spec.containers.push_back({"mongodb", args});
  }
  log::info("copying in the cluster: Job {} of {} in the namespace {} ({})", kCopyJobName, *o.image, c.cluster.ns(),
            o.pg_target && o.mongo_target ? fmt::format("PostgreSQL with {} jobs and MongoDB with {} at once", pg_jobs,
                                                        mongo_jobs)
                                          : std::string("one database"));
  k8s::DecantJob job(c.cluster, spec);
  // Each line as the container said it, named by its container (blank lines stay blank).
  auto codes = job.wait(
      [](const std::string& container, const std::string& line) {
        fmt::print("{}\n", line.empty() ? line : container + ": " + line);
      },
      c.timeout);
  std::fflush(stdout);
  // The first failure in the containers' order (PostgreSQL's before MongoDB's) is the run's.
  for (const auto& container : spec.containers) {
    int code = codes.at(container.name);
    if (code == 0) continue;
    std::string label = container.name == "postgresql" ? "PostgreSQL" : "MongoDB";
    throw Error(code > 0 && code < 64 ? static_cast<ExitCode>(code) : ExitCode::copy_failed,
                fmt::format("the {} copy in the cluster ended with exit code {}", label, code),
                "see its lines above (prefixed " + container.name + ":)");
  }
}

}  // namespace decant::migrate
