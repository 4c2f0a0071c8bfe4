#include "k8s/decant_job.hpp"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "common/log.hpp"
#include "decant/version.hpp"
#include "k8s/pod_security.hpp"
#include "process/process.hpp"
#include "process/run_context.hpp"

namespace decant::k8s {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr const char* kWorkDir = "/var/lib/decant";  // HOME and --state-dir: the pod's emptyDir

ordered_json labels(const JobSpec& spec) {
  return {{"app.kubernetes.io/name", "decant"},
          {"app.kubernetes.io/component", spec.component},
          {"app.kubernetes.io/managed-by", "decant"}};
}

// Why a container that has not started never will: the waiting reasons the kubelet gives up on.
bool hopeless(const std::string& reason) {
  static const std::set<std::string> kReasons{"ErrImagePull",       "ImagePullBackOff", "ErrImageNeverPull",
                                              "InvalidImageName",   "CreateContainerConfigError",
                                              "CreateContainerError", "RunContainerError"};
  return kReasons.contains(reason);
}

// One container's log stream, followed from when it starts.
struct Follower {
  std::unique_ptr<BackgroundProcess> kubectl;
  bool done = false;
};

// The Job: its pod runs every container with the Secret's variables, as decant's user.
ordered_json job_manifest(const JobSpec& spec, const std::string& ns) {
  ordered_json env = ordered_json::array();
  env.push_back({{"name", "HOME"}, {"value", kWorkDir}});
  env.push_back({{"name", kExpectVersionVariable}, {"value", kVersion}});
  for (const auto& variable : spec.secret_env)
    env.push_back({{"name", variable.first},
                   {"valueFrom", {{"secretKeyRef", {{"name", spec.name}, {"key", variable.first}}}}}});
  ordered_json containers = ordered_json::array();
  for (const auto& c : spec.containers) {
    ordered_json container = {{"name", c.name}, {"image", spec.image}};
    if (!spec.pull_policy.empty()) container["imagePullPolicy"] = spec.pull_policy;
    container["args"] = c.args;
    container["env"] = env;
    container["workingDir"] = kWorkDir;
    container["volumeMounts"] = ordered_json::array({{{"name", "work"}, {"mountPath", kWorkDir}}});
    container["securityContext"] = restricted_container_security(kDecantUid, true);
    containers.push_back(container);
  }
  ordered_json pod = {{"restartPolicy", "Never"},
                      {"terminationGracePeriodSeconds", 30},  // decant cancels its statements on SIGTERM
                      {"automountServiceAccountToken", false},  // it needs no access to the API
                      {"securityContext", restricted_pod_security(kDecantUid)},
                      {"containers", containers},
                      {"volumes", ordered_json::array({{{"name", "work"}, {"emptyDir", ordered_json::object()}}})}};
  ordered_json job_spec = {{"backoffLimit", 0},
                           {"template", {{"metadata", {{"labels", labels(spec)}}}, {"spec", pod}}}};
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", spec.name}, {"namespace", ns}, {"labels", labels(spec)}}},
          {"spec", job_spec}};
}

}  // namespace

DecantJob::DecantJob(const Cluster& cluster, JobSpec spec) : cluster_(cluster), spec_(std::move(spec)) {
  ordered_json data = ordered_json::object();
  for (const auto& [name, value] : spec_.secret_env) data[name] = value;
  ordered_json secret = {{"apiVersion", "v1"},
                         {"kind", "Secret"},
                         {"type", "Opaque"},
                         {"metadata", {{"name", spec_.name}, {"labels", labels(spec_)}}},
                         {"stringData", data}};
  // A Job of an earlier run that was never cleaned up (its CLI was killed) goes first: one
  // copy at a time.
  remove();
  try {
    cluster_.apply(secret.dump());
    cluster_.kubectl({"create", "-f", "-"}, job_manifest(spec_, cluster_.ns()).dump());
  } catch (...) {
    remove();
    throw;
  }
}

DecantJob::~DecantJob() { remove(); }

// Not bound to the run's stop: what was made must go even after a SIGINT.
void DecantJob::remove() noexcept {
  try {
    RunContext own;
    for (auto args : {std::vector<std::string>{"delete", "job", spec_.name, "--ignore-not-found", "--cascade=foreground",
                                               "--wait=true", "--timeout=90s"},
                      std::vector<std::string>{"delete", "secret", spec_.name, "--ignore-not-found"}}) {
      ProcessSpec p(cluster_.kubectl_argv(args), {}, std::nullopt, std::chrono::seconds(120));
      p.context = &own;
      auto r = run_process(p);
      if (r.exit_status != 0) log::warn("could not delete the {} of {}: {}", args[1], spec_.name, r.errors);
    }
  } catch (const std::exception& e) {
    log::warn("could not delete {}: {}", spec_.name, e.what());
  }
}

std::map<std::string, int> DecantJob::wait(const LineSink& sink, std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto no_pod_since = Clock::now();
  std::map<std::string, Follower> followers;
  std::map<std::string, int> codes;
  auto relay = [&](const std::string& name, Follower& f, std::chrono::milliseconds wait) {
    f.kubectl->wait_for_line(
        [&](std::string_view line) {
          sink(name, std::string(line));
          return false;
        },
        wait);
  };
  for (;;) {
    throw_if_interrupted();
    if (Clock::now() > deadline)
      throw Error(ExitCode::cluster_failed,
                  fmt::format("the Job {} did not finish within {} s", spec_.name, timeout.count()),
                  "see kubectl -n " + cluster_.ns() + " describe job " + spec_.name);
    auto pods = cluster_.kubectl_json({"get", "pods", "--selector=job-name=" + spec_.name});
    const json* pod = pods.at("items").empty() ? nullptr : &pods.at("items").at(0);
    if (!pod) {
      // No pod: the Job controller may be refused (Pod Security, quota); its events say why.
      if (Clock::now() - no_pod_since > std::chrono::seconds(20)) {
        auto events = cluster_.kubectl_json({"get", "events", "--field-selector=involvedObject.name=" + spec_.name});
        for (const auto& e : events.value("items", json::array()))
          if (e.value("reason", "") == "FailedCreate")
            throw Error(ExitCode::cluster_failed,
                        fmt::format("the cluster refuses the pod of the Job {}: {}", spec_.name, e.value("message", "")),
                        "let the namespace run decant's image (Pod Security, quota), or use --data-path local");
      }
    } else {
      const json& status = pod->value("status", json::object());
      std::string pod_name = pod->at("metadata").at("name").get<std::string>();
      if (status.value("phase", "") == "Failed" && status.contains("reason") &&
          !status.contains("containerStatuses"))
        throw Error(ExitCode::cluster_failed,
                    fmt::format("the pod {} failed: {} {}", pod_name, status.value("reason", ""), status.value("message", "")),
                    "run again with --resume");
      for (const auto& cs : status.value("containerStatuses", json::array())) {
        std::string name = cs.at("name").get<std::string>();
        const json& state = cs.value("state", json::object());
        if (state.contains("waiting")) {
          std::string reason = state["waiting"].value("reason", "");
          if (hopeless(reason))
            throw Error(ExitCode::cluster_failed,
                        fmt::format("the container {} of the pod {} cannot start: {}: {}", name, pod_name, reason,
                                    state["waiting"].value("message", "")),
                        "check --image (the cluster must be able to pull it) and the namespace's policies");
          continue;
        }
        auto& f = followers[name];
        if (!f.kubectl)
          f.kubectl = std::make_unique<BackgroundProcess>(
              ProcessSpec(cluster_.kubectl_argv({"logs", "--follow", "pod/" + pod_name, "--container=" + name})));
        if (state.contains("terminated") && !codes.contains(name)) {
          const json& t = state["terminated"];
          codes[name] = t.value("exitCode", -1);
          // A container killed by the kubelet (OOM, eviction) says so here, not in its log.
          if (t.value("reason", "") != "Completed" && t.value("reason", "") != "Error")
            sink(name, fmt::format("(ended: {} {})", t.value("reason", ""), t.value("message", "")));
        }
      }
      if (status.value("reason", "") == "Evicted")
        throw Error(ExitCode::cluster_failed, fmt::format("the pod {} was evicted: {}", pod_name, status.value("message", "")),
                    "give the node room (kubectl describe node), then run again with --resume");
    }
    // Relay for about a second, then look at the pod again.
    auto slice_end = Clock::now() + std::chrono::seconds(1);
    bool any = false;
    for (auto& [name, f] : followers) {
      if (!f.kubectl || f.done) continue;
      any = true;
      relay(name, f, std::chrono::milliseconds(1000 / static_cast<int>(followers.size())));
      if (codes.contains(name) && f.kubectl->exited()) {
        relay(name, f, std::chrono::milliseconds(0));
        f.done = true;
      }
    }
    if (codes.size() == spec_.containers.size()) {
      bool all_done = true;
      for (auto& [name, f] : followers) all_done = all_done && f.done;
      if (all_done) return codes;
    }
    if (!any || Clock::now() < slice_end) std::this_thread::sleep_until(slice_end);
  }
}

}  // namespace decant::k8s
