#include "migrate/in_cluster_copy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <atomic>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "engine/report_lines.hpp"
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

namespace {

// The source as a copy's journal and report name it: its pod, as the local path names it.
// A run is known by its ends: not by the address a Service or the pod has today (the
// upgrade removes both, and forget_job() must still name the run).
std::string source_name(const InClusterCopy& c, const InternalDatabase& db) {
  return fmt::format("pod {} in the namespace {}", db.pod, c.cluster.ns());
}

// One database's copy: its Job's container and the variables of its Secret.
struct DatabaseCopy {
  std::string label;  // "PostgreSQL"
  std::string container;
  std::vector<std::string> args;
  std::map<std::string, std::string> variables;
};

// The copies the options ask for, reading the connection strings from `variables` (the
// Job's Secret).
std::vector<DatabaseCopy> database_copies(const InClusterCopy& c, const std::map<std::string, std::string>& variables) {
  const auto& o = c.plan;
  // Each copy its --jobs, as a local run's copies have them one after the other: the two load
  // different servers (the internal pods, the targets), so neither takes from the other. A
  // share of them (by size, then) left MongoDB's copy on one of two jobs for minutes after
  // PostgreSQL's had ended. Without --jobs, 4: neither this machine's CPUs nor the node's
  // (a pod sees them all, 64 on a large node: as many sessions on each server).
  // The journals on the targets, named by the run: what a lost pod had copied stays done.
  auto common = [&]() {
    std::vector<std::string> args{"--progress-interval",
                                  fmt::format("{}", std::chrono::duration<double>(c.run.progress_interval).count()),
                                  "--state-on-target", "--resume-run", c.run_id, "--report-lines"};
    args.insert(args.end(), {"--jobs", std::to_string(c.run.jobs > 0 ? c.run.jobs : kDefaultCopyJobs)});
    return args;
  };
  auto only = [&](std::initializer_list<const char*> names) {
    std::map<std::string, std::string> some;
    for (const char* n : names) some[n] = variables.at(n);
    return some;
  };
  std::vector<DatabaseCopy> copies;
  if (o.pg_target) {
    std::vector<std::string> args{"pg", "copy", "--source", from_env(kPgSourceVariable), "--target",
                                  from_env(kPgTargetVariable)};
    if (o.clean) args.push_back("--clean");
    for (const auto& e : o.extension_update) args.insert(args.end(), {"--extension-update", e});
    args.insert(args.end(), {"--source-name", source_name(c, c.release.postgresql)});
    auto more = common();
    args.insert(args.end(), more.begin(), more.end());
    copies.push_back({"PostgreSQL", kPgCopyName, args, only({kPgSourceVariable, kPgTargetVariable})});
  }
  if (o.mongo_target) {
    std::vector<std::string> args{"mongo", "copy", "--source", from_env(kMongoSourceVariable), "--target",
                                  from_env(kMongoTargetVariable)};
    if (!o.all_mongo_dbs)
      for (const auto& db : o.mongo_dbs) args.insert(args.end(), {"--db", db});
    if (o.drop) args.push_back("--drop");
    args.insert(args.end(), {"--source-name", source_name(c, c.release.mongodb)});
    auto more = common();
    args.insert(args.end(), more.begin(), more.end());
    copies.push_back({"MongoDB", kMongoCopyName, args, only({kMongoSourceVariable, kMongoTargetVariable})});
  }
  return copies;
}

}  // namespace

void stop_copies_in_cluster(const k8s::Cluster& cluster) {
  // The copies' Jobs and the one that drops their journals.
  const std::string selector =
      "--selector=app.kubernetes.io/component in (migrate-copy,migrate-forget),app.kubernetes.io/managed-by=decant";
  try {
    cluster.kubectl({"delete", "jobs", selector, "--ignore-not-found", "--cascade=foreground", "--wait=true",
                     "--timeout=90s"});
    cluster.kubectl({"delete", "secrets", selector, "--ignore-not-found"});
  } catch (const Error& e) {
    // A user who may not touch Jobs never ran copies in the cluster.
    if (e.code() != ExitCode::privileges) throw;
  }
}

std::string copy_job_name(const std::string& container) { return std::string(kCopyJobPrefix) + container; }

void copy_in_cluster(const InClusterCopy& c) {
  const auto& o = c.plan;
  auto copies = database_copies(c, data_path_variables(c.cluster, o, c.release));
  // A Job per database: a lost pod repeats its own copy only, never one that had finished.
  std::vector<std::unique_ptr<k8s::DecantJob>> jobs;
  for (const auto& copy : copies)
    jobs.push_back(std::make_unique<k8s::DecantJob>(
        c.cluster, k8s::JobSpec{copy_job_name(copy.container), "migrate-copy", *o.image, o.image_pull_policy,
                                copy.variables, {{copy.container, copy.args}}, c.run_id}));
  std::string names;
  for (const auto& copy : copies) names += (names.empty() ? "" : ", ") + copy_job_name(copy.container);
  log::info("copying in the cluster with {}: {} in the namespace {}{}", *o.image, names, c.cluster.ns(),
            copies.size() > 1 ? " at once" : "");
  // Each Job waited for on its own thread; each line as the container said it, named by its
  // container (blank lines stay blank).
  // A copy that fails stops the other: the run has failed, and the application comes back
  // sooner. An unreachable API server stops nothing (the copies go on in the cluster).
  std::vector<std::exception_ptr> errors(copies.size());
  std::vector<engine::ReportLines> reports(copies.size());  // each waiter fills its own
  std::vector<int> codes(copies.size(), -1);
  std::atomic<bool> failed{false};
  std::atomic<int> first_failed{-1}, api_lost{-1};
  {
    std::vector<std::jthread> waiters;
    for (size_t i = 0; i < copies.size(); ++i)
      waiters.emplace_back([&, i] {
        try {
          codes[i] = jobs[i]
                         ->wait(
                             [&reports, i](const std::string& container, const std::string& line) {
                               if (reports[i].take(line)) return;
                               fmt::print("{}\n", line.empty() ? line : container + ": " + line);
                               std::fflush(stdout);
                             },
                             c.timeout, &failed)
                         .at(copies[i].container);
          if (codes[i] == 0) return;
        } catch (const Error& e) {
          errors[i] = std::current_exception();
          if (e.code() == ExitCode::unreachable) api_lost = static_cast<int>(i);
          if (e.code() == ExitCode::unreachable || e.code() == ExitCode::interrupted) return;
        } catch (...) {
          errors[i] = std::current_exception();
        }
        int none = -1;
        first_failed.compare_exchange_strong(none, static_cast<int>(i));
        failed = true;
      });
  }
  std::fflush(stdout);
  if (c.on_report)
    for (size_t i = 0; i < copies.size(); ++i)
      if (reports[i].report()) c.on_report(copies[i].container, *reports[i].report());
  // The failure of copy `i`, if any, thrown.
  auto throw_failure = [&](size_t i) {
    if (errors[i]) std::rethrow_exception(errors[i]);
    if (codes[i] == 0) return;
    throw Error(codes[i] > 0 && codes[i] < 64 ? static_cast<ExitCode>(codes[i]) : ExitCode::copy_failed,
                fmt::format("the {} copy in the cluster ended with exit code {}", copies[i].label, codes[i]),
                "see its lines above (prefixed " + copies[i].container + ":)");
  };
  // The API server lost: the copies go on without this process.
  if (int i = api_lost; i >= 0) {
    for (auto& job : jobs) job->detach();
    try {
      throw_failure(static_cast<size_t>(i));
    } catch (const Error& e) {
      throw CopyGoesOnInCluster(ExitCode::unreachable,
                                std::string(e.what()) + "; the copies go on in the cluster, the application stays down",
                                "once the API server answers, run decant migrate --resume (same options): it follows "
                                "the Jobs of this run");
    }
  }
  // The failure that stopped the other copy is the run's; else the first in the copies' order
  // (PostgreSQL's before MongoDB's).
  if (int i = first_failed; i >= 0) throw_failure(static_cast<size_t>(i));
  for (size_t i = 0; i < copies.size(); ++i) throw_failure(i);
}

void forget_copies_in_cluster(const InClusterCopy& c) {
  k8s::JobSpec spec{kForgetJobName, "migrate-forget", *c.plan.image, c.plan.image_pull_policy, {}, {}, ""};
  // --forget-run never reads the source and the run is known by --source-name: the target's
  // string stands in for the source's, so that neither the internal databases (gone after
  // the upgrade) nor their passwords are needed.
  std::map<std::string, std::string> variables;
  if (c.plan.pg_target) variables[kPgSourceVariable] = variables[kPgTargetVariable] = *c.plan.pg_target;
  if (c.plan.mongo_target) variables[kMongoSourceVariable] = variables[kMongoTargetVariable] = *c.plan.mongo_target;
  for (auto& copy : database_copies(c, variables)) {
    // The same arguments name the same run; no report to carry back.
    std::erase(copy.args, std::string("--report-lines"));
    copy.args.push_back("--forget-run");
    spec.containers.push_back({copy.container, copy.args});
    spec.secret_env.insert(copy.variables.begin(), copy.variables.end());
  }
  k8s::DecantJob job(c.cluster, spec);
  auto codes = job.wait(
      [](const std::string& container, const std::string& line) {
        if (!line.empty()) log::info("{}: {}", container, line);
      },
      c.timeout);
  // A container's code is its own (10: its pod was stopped), never this process's stop.
  for (const auto& container : spec.containers)
    if (int code = codes.at(container.name); code != 0)
      throw Error(ExitCode::cluster_failed,
                  code == static_cast<int>(ExitCode::nothing_to_resume)
                      ? fmt::format("the {} copy's journal on its target does not record this run complete (dropped "
                                    "before?)",
                                    container.name)
                      : fmt::format("dropping the {} copy's journal on its target ended with exit code {}",
                                    container.name, code),
                  "see its lines above");
}

}  // namespace decant::migrate
