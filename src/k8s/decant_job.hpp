#pragma once
// decant's own image run as a Kubernetes Job in the namespace: the work happens in the
// cluster, next to the databases, and this process only talks to the API server.
// - Credentials go into a Secret made for the run (fed to kubectl on stdin) and reach the
//   containers as secretKeyRef variables, which decant reads with `env:NAME`: never in the
//   pod spec, its arguments or its logs.
// - The pod fits the `restricted` Pod Security Standard (pod_security.hpp), with a
//   read-only root file system; its containers write only to an emptyDir.
// - Every container is told the CLI's version (DECANT_EXPECT_VERSION): decant of another
//   version refuses to run, before it touches anything.
// - The containers' logs are relayed line by line while they run; their exit codes are
//   the result. The Job, its pod and the Secret are deleted when this object goes,
//   whatever happened (a stop of the run deletes the pod, and decant in it exits 10),
//   unless the API server was lost (detach()): then the Job goes on without this process.
// - A Job of a named run (JobSpec::run) survives one lost pod (deleted, evicted, its node
//   gone): the Job controller starts the next, which repeats the same arguments (decant's
//   copies resume from their journals on the targets), and wait() follows it. A second
//   loss fails the run. A Job of the same run found in the namespace is attached to, not
//   started again: a rerun follows the copy its lost CLI had started.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "k8s/cluster.hpp"

namespace decant::k8s {

// The container and exit code that failed a Job by its pod failure policy, from the Job's
// Failed condition: the one record left once its pod is gone (deleted before its end was read).
std::optional<std::pair<std::string, int>> failed_by_policy(const nlohmann::json& job);

struct JobContainer {
  std::string name;               // also what its relayed lines are prefixed with
  std::vector<std::string> args;  // decant's arguments
};

struct JobSpec {
  std::string name;       // the Job's and the Secret's name
  std::string component;  // app.kubernetes.io/component
  std::string image;
  std::string pull_policy;                        // imagePullPolicy; empty: the cluster's default
  std::map<std::string, std::string> secret_env;  // variable -> value, held in the Secret
  std::vector<JobContainer> containers;           // run side by side
  // The run it belongs to (label decant.io/run): when set, a lost pod is replaced once and
  // a Job of this run already in the namespace is attached to.
  std::string run;
};

// The variable that carries the expected version into decant's image.
inline constexpr const char* kExpectVersionVariable = "DECANT_EXPECT_VERSION";

class DecantJob {
 public:
  // Creates the Secret and the Job, or attaches to the Job of the same run. Throws a
  // classified Error when the cluster refuses (RBAC, admission: Pod Security, quota).
  DecantJob(const Cluster& cluster, JobSpec spec);
  ~DecantJob();
  DecantJob(const DecantJob&) = delete;
  DecantJob& operator=(const DecantJob&) = delete;

  using LineSink = std::function<void(const std::string& container, const std::string& line)>;
  // Waits until every container has ended, relaying their lines as they come; returns
  // each container's exit code. Throws Error(cluster_failed) when the pod cannot start
  // (an image that cannot be pulled, a pod evicted) or `timeout` passes, and
  // Error(interrupted) when the run is stopped.
  // Error(unreachable) when the API server stays unreachable for a minute. `give_up`, when
  // set (another Job of the run failed), ends the wait with Error(interrupted).
  std::map<std::string, int> wait(const LineSink& sink, std::chrono::seconds timeout,
                                  const std::atomic<bool>* give_up = nullptr);

  // Leaves the Job and its Secret in the cluster when this object goes.
  void detach() { detached_ = true; }

 private:
  void remove() noexcept;
  nlohmann::json job_and_pods(std::chrono::steady_clock::time_point& unreachable_since) const;
  const Cluster& cluster_;
  JobSpec spec_;
  bool detached_ = false;
};

}  // namespace decant::k8s
