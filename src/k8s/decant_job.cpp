#include "k8s/decant_job.hpp"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <regex>
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

constexpr const char* kRunLabel = "decant.io/run";
constexpr const char* kLostHint =
    "see why (kubectl describe node; kubectl get events), give the node room, then run again";
// How long the API server may stay unreachable before wait() gives up on it.
constexpr auto kApiPatience = std::chrono::seconds(60);

ordered_json labels(const JobSpec& spec) {
  ordered_json l = {{"app.kubernetes.io/name", "decant"},
                    {"app.kubernetes.io/component", spec.component},
                    {"app.kubernetes.io/managed-by", "decant"}};
  if (!spec.run.empty()) l[kRunLabel] = spec.run;
  return l;
}

// The Job's Complete condition: all its pods' containers exited 0.
bool job_complete(const json& job) {
  for (const auto& c : job.value("status", json::object()).value("conditions", json::array()))
    if (c.value("type", "") == "Complete" && c.value("status", "") == "True") return true;
  return false;
}

// Why a container that has not started never will: the waiting reasons the kubelet gives up on.
bool hopeless(const std::string& reason) {
  static const std::set<std::string> kReasons{"ErrImagePull",       "ImagePullBackOff", "ErrImageNeverPull",
                                              "InvalidImageName",   "CreateContainerConfigError",
                                              "CreateContainerError", "RunContainerError"};
  return kReasons.contains(reason);
}

// One container's log stream, followed from when it starts (with the kubelet's timestamps,
// so that a stream the API server dropped is followed again from its last line).
struct Follower {
  std::unique_ptr<BackgroundProcess> kubectl;
  std::string last_time;  // of the last line relayed, RFC 3339 with 9 fraction digits
  int at_last_time = 0;   // lines relayed with that time (a runtime may stamp several alike)
  // While a stream followed again replays what was relayed: skip up to that time, and
  // `replay_skip` lines of that very time. Lines are never filtered otherwise (two streams,
  // stdout and stderr, may be stamped out of order).
  std::string replay_until;
  int replay_skip = 0;
  bool done = false;
};

// "2026-12-05T20:51:02.1234Z" as "2026-12-05T20:51:02.123400000Z": comparable as text.
std::string comparable_time(std::string_view t) {
  std::string out(t);
  auto dot = out.find('.');
  auto z = out.find('Z');
  if (z == std::string::npos) return out;
  if (dot == std::string::npos) {
    out.insert(z, ".000000000");
    return out;
  }
  if (z - dot - 1 < 9) out.insert(z, 9 - (z - dot - 1), '0');
  return out;
}

// A line of `kubectl logs --timestamps`: its time (comparable_time) and its text. A line
// without one (a kubelet that ignores --timestamps) is all text.
std::pair<std::string, std::string_view> split_timestamp(std::string_view line) {
  auto space = line.find(' ');
  std::string_view first = line.substr(0, space);
  bool is_time = first.size() >= 20 && first[4] == '-' && first[10] == 'T' && first.back() == 'Z';
  if (!is_time) return {"", line};
  return {comparable_time(first), space == std::string_view::npos ? std::string_view() : line.substr(space + 1)};
}

// Why a pod of the Job will not finish its work: deleted, evicted or its node lost
// ("" while it can). A pod being deleted after every container succeeded has finished.
std::string pod_lost(const json& pod) {
  const json& status = pod.value("status", json::object());
  bool all_succeeded = status.contains("containerStatuses") && !status["containerStatuses"].empty();
  for (const auto& cs : status.value("containerStatuses", json::array()))
    all_succeeded = all_succeeded && cs.value("state", json::object()).contains("terminated") &&
                    cs["state"]["terminated"].value("exitCode", -1) == 0;
  if (all_succeeded) return "";
  if (pod.at("metadata").contains("deletionTimestamp")) return "deleted";
  if (status.value("reason", "") == "Evicted") return "evicted: " + status.value("message", "");
  // Failed before its containers ran (its node shut down, a node lost).
  if (status.value("phase", "") == "Failed" && status.contains("reason") && !status.contains("containerStatuses"))
    return status.value("reason", "") + " " + status.value("message", "");
  return "";
}

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
  // A named run's copies resume in the next pod: one lost pod is replaced. A container that
  // ended with one of decant's exit codes (but 10, a stop) fails the Job at once: a copy that
  // did not verify is not run again. With a pod failure policy the next pod starts only once
  // the lost one has ended, so two pods never write to a target at once.
  ordered_json decant_codes = ordered_json::array();
  for (int code = 1; code < 64; ++code)
    if (code != static_cast<int>(ExitCode::interrupted)) decant_codes.push_back(code);
  ordered_json job_spec = {{"backoffLimit", spec.run.empty() ? 0 : 1},
                           {"podFailurePolicy",
                            {{"rules", ordered_json::array({{{"action", "FailJob"},
                                                             {"onExitCodes",
                                                              {{"operator", "In"}, {"values", decant_codes}}}}})}}},
                           {"template", {{"metadata", {{"labels", labels(spec)}}}, {"spec", pod}}}};
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", spec.name}, {"namespace", ns}, {"labels", labels(spec)}}},
          {"spec", job_spec}};
}

}  // namespace

// The Job controller's words: "Container NAME for pod NS/POD failed with exit code N
// matching FailJob rule at index I".
std::optional<std::pair<std::string, int>> failed_by_policy(const json& job) {
  static const std::regex kMessage(R"(Container (\S+) for pod \S+ failed with exit code (\d+))");
  for (const auto& c : job.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") != "Failed" || c.value("status", "") != "True" || c.value("reason", "") != "PodFailurePolicy")
      continue;
    std::smatch m;
    std::string message = c.value("message", "");
    if (std::regex_search(message, m, kMessage)) return std::make_pair(m[1].str(), std::stoi(m[2].str()));
  }
  return std::nullopt;
}

DecantJob::DecantJob(const Cluster& cluster, JobSpec spec) : cluster_(cluster), spec_(std::move(spec)) {
  if (!spec_.run.empty()) {
    // The Job of this very run, started by a decant that lost its way here: followed.
    auto jobs = cluster_.kubectl_json({"get", "jobs", "--selector=" + std::string(kRunLabel) + "=" + spec_.run});
    for (const auto& job : jobs.value("items", json::array()))
      if (job.at("metadata").value("name", "") == spec_.name && !job.at("metadata").contains("deletionTimestamp")) {
        log::info("following the Job {} of this run, which an earlier decant started", spec_.name);
        return;
      }
  }
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

DecantJob::~DecantJob() {
  if (!detached_) remove();
}

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

// The Job and its pods ({"job": ..., "pods": ...}); null while the API server does not answer,
// for up to kApiPatience.
json DecantJob::job_and_pods(Clock::time_point& unreachable_since) const {
  try {
    json now = {{"pods", cluster_.kubectl_json({"get", "pods", "--selector=job-name=" + spec_.name})}};
    try {
      now["job"] = cluster_.kubectl_json({"get", "job", spec_.name});
    } catch (const Error& e) {
      if (e.code() != ExitCode::cluster_mismatch) throw;
      throw Error(ExitCode::cluster_failed, fmt::format("the Job {} was deleted while it ran", spec_.name),
                  "see who deleted it (kubectl get events), then run again");
    }
    unreachable_since = {};
    return now;
  } catch (const Error& e) {
    if (e.code() != ExitCode::unreachable) throw;
    if (unreachable_since == Clock::time_point{}) {
      unreachable_since = Clock::now();
      log::warn("the API server does not answer ({}); trying again for {} s", e.what(), kApiPatience.count());
    }
    if (Clock::now() - unreachable_since < kApiPatience) return nullptr;
    throw Error(ExitCode::unreachable,
                fmt::format("lost the connection to the API server while the Job {} runs: {}", spec_.name, e.what()),
                e.hint());
  }
}

std::map<std::string, int> DecantJob::wait(const LineSink& sink, std::chrono::seconds timeout,
                                           const std::atomic<bool>* give_up) {
  auto deadline = Clock::now() + timeout;
  auto no_pod_since = Clock::now();
  Clock::time_point unreachable_since{};
  std::string following;                   // the pod whose containers are relayed
  std::map<std::string, std::string> lost;  // pod -> why it was lost
  std::map<std::string, Follower> followers;
  std::map<std::string, int> codes;
  size_t losses_allowed = spec_.run.empty() ? 0 : 1;
  auto mark_lost = [&](const std::string& pod, const std::string& why) {
    lost[pod] = why;
    for (const auto& c : spec_.containers) sink(c.name, fmt::format("(the pod {} was lost: {})", pod, why));
  };
  auto lost_list = [&] {
    std::string all;
    for (const auto& [name, reason] : lost) all += (all.empty() ? "" : "; ") + name + " " + reason;
    return all;
  };
  auto relay = [&](const std::string& name, Follower& f, std::chrono::milliseconds wait) {
    f.kubectl->wait_for_line(
        [&](std::string_view line) {
          // "<time> <text>": a line already relayed (a stream followed again) is skipped.
          auto [time, text] = split_timestamp(line);
          if (!f.replay_until.empty() && !time.empty()) {
            if (time < f.replay_until || (time == f.replay_until && f.replay_skip-- > 0)) return false;
            f.replay_until.clear();
          }
          if (!time.empty()) {
            f.at_last_time = time == f.last_time ? f.at_last_time + 1 : 1;
            f.last_time = time;
          }
          sink(name, std::string(text));
          return false;
        },
        wait);
  };
  auto follow = [&](const std::string& name, Follower& f) {
    std::vector<std::string> args{"logs", "--follow", "--timestamps", "pod/" + following, "--container=" + name};
    if (!f.last_time.empty()) {
      args.push_back("--since-time=" + f.last_time);
      f.replay_until = f.last_time;
      f.replay_skip = f.at_last_time;
    }
    f.kubectl = std::make_unique<BackgroundProcess>(ProcessSpec(cluster_.kubectl_argv(args)));
  };
  for (;;) {
    throw_if_interrupted();
    if (give_up && *give_up)
      throw Error(ExitCode::interrupted, fmt::format("the Job {} was stopped", spec_.name), "");
    if (Clock::now() > deadline)
      throw Error(ExitCode::cluster_failed,
                  fmt::format("the Job {} did not finish within {} s", spec_.name, timeout.count()),
                  "see kubectl -n " + cluster_.ns() + " describe job " + spec_.name);
    json now = job_and_pods(unreachable_since);
    if (now.is_null()) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    const json& pods = now["pods"];
    // The Job failed but for a container's exit code (read from its pod below): its pods
    // were lost more often than it may replace them, or its deadline passed.
    for (const auto& c : now["job"].value("status", json::object()).value("conditions", json::array()))
      if (c.value("type", "") == "Failed" && c.value("status", "") == "True" &&
          c.value("reason", "") != "PodFailurePolicy") {
        // The Job may fail before its last pod was seen lost here (evicted between two looks):
        // every loss is named.
        bool following_listed = false;
        for (const auto& p : pods.at("items")) {
          std::string name = p.at("metadata").at("name").get<std::string>();
          following_listed = following_listed || name == following;
          if (std::string why = pod_lost(p); !why.empty() && !lost.contains(name)) mark_lost(name, why);
        }
        if (!following.empty() && !following_listed && !lost.contains(following)) mark_lost(following, "gone");
        if (lost.size() > losses_allowed)
          throw Error(ExitCode::cluster_failed,
                      fmt::format("the Job {} lost {} pod(s): {}", spec_.name, lost.size(), lost_list()), kLostHint);
        throw Error(ExitCode::cluster_failed,
                    fmt::format("the Job {} failed: {} {}{}", spec_.name, c.value("reason", ""), c.value("message", ""),
                                lost.empty() ? "" : "; " + lost_list()),
                    kLostHint);
      }
    // The newest pod not lost: the Job controller's replacement of a lost one.
    const json* pod = nullptr;
    for (const auto& p : pods.at("items")) {
      std::string name = p.at("metadata").at("name").get<std::string>();
      if (lost.contains(name)) continue;
      if (!pod || p.at("metadata").value("creationTimestamp", "") > pod->at("metadata").value("creationTimestamp", ""))
        pod = &p;
    }
    if (pod && pod->at("metadata").at("name").get<std::string>() != following) {
      // The pod followed is gone before it was seen lost (a forced deletion between two looks).
      if (!following.empty() && !lost.contains(following)) mark_lost(following, "gone");
      following = pod->at("metadata").at("name").get<std::string>();
      followers.clear();
      codes.clear();
    }
    if (pod) {
      if (std::string why = pod_lost(*pod); !why.empty()) {
        mark_lost(following, why);
        followers.clear();
        codes.clear();
        if (lost.size() > losses_allowed)
          throw Error(ExitCode::cluster_failed,
                      fmt::format("the Job {} lost {} pod(s): {}", spec_.name, lost.size(), lost_list()), kLostHint);
        if (losses_allowed) log::warn("the pod {} of the Job {} was lost ({}); its next pod resumes the copies", following, spec_.name, why);
        following.clear();
        no_pod_since = Clock::now();
        continue;
      }
    }
    if (!pod && job_complete(now["job"])) {
      // Its pod gone before its end was read here (deleted after it succeeded, or reaped):
      // a Complete Job is one whose containers all exited 0.
      for (const auto& c : spec_.containers)
        if (!codes.contains(c.name)) {
          codes[c.name] = 0;
          sink(c.name, fmt::format("(its pod is gone; the Job {} says it completed)", spec_.name));
        }
      return codes;
    }
    if (!pod) {
      // Failed by a container's exit code, its pod gone before that was read here (deleted,
      // reaped): the Job's condition names the code; another container's is not known.
      if (auto failed = failed_by_policy(now["job"])) {
        if (!codes.contains(failed->first)) {
          codes[failed->first] = failed->second;
          sink(failed->first, fmt::format("(its pod is gone; the Job {} says it exited {})", spec_.name, failed->second));
        }
        for (const auto& c : spec_.containers)
          if (!codes.contains(c.name))
            throw Error(ExitCode::cluster_failed,
                        fmt::format("the Job {} failed: its container {} exited {}", spec_.name, failed->first,
                                    failed->second),
                        "see the copy's lines above; run again with --resume");
        return codes;
      }
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
      for (const auto& cs : status.value("containerStatuses", json::array())) {
        std::string name = cs.at("name").get<std::string>();
        const json& state = cs.value("state", json::object());
        if (state.contains("waiting")) {
          std::string reason = state["waiting"].value("reason", "");
          if (hopeless(reason))
            throw Error(ExitCode::cluster_failed,
                        fmt::format("the container {} of the pod {} cannot start: {}: {}", name, following, reason,
                                    state["waiting"].value("message", "")),
                        "check --image (the cluster must be able to pull it) and the namespace's policies");
          continue;
        }
        auto& f = followers[name];
        bool ended = state.contains("terminated");
        // A stream the API server dropped while the container runs is followed again.
        if (!f.kubectl || (!ended && !f.done && f.kubectl->exited())) {
          if (f.kubectl) relay(name, f, std::chrono::milliseconds(0));
          follow(name, f);
        }
        if (ended && !codes.contains(name)) {
          const json& t = state["terminated"];
          codes[name] = t.value("exitCode", -1);
          // A container killed by the kubelet (OOM, eviction) says so here, not in its log.
          if (t.value("reason", "") != "Completed" && t.value("reason", "") != "Error")
            sink(name, fmt::format("(ended: {} {})", t.value("reason", ""), t.value("message", "")));
        }
      }
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
