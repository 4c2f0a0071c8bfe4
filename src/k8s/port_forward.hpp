#pragma once
// `kubectl port-forward` to a pod, kept alive for as long as this object lives: kubectl
// ends a forward when its connection to the API server drops or the pod's stream breaks;
// a watchdog starts it again on the same local port, so connection strings stay valid
// (the copy engines reconnect and resume). Listens on 127.0.0.1 only.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "process/process.hpp"
#include "k8s/cluster.hpp"

namespace decant::k8s {

class PortForward {
 public:
  // Starts it on a free local port and waits until it listens. Throws Error(cluster_failed)
  // when it cannot (no such pod, a pod that is not running, forbidden).
  PortForward(const Cluster& cluster, std::string pod, int remote_port);
  ~PortForward();
  PortForward(const PortForward&) = delete;
  PortForward& operator=(const PortForward&) = delete;

  int local_port() const { return local_port_; }
  const std::string& pod() const { return pod_; }
  int restarts() const { return restarts_; }

 private:
  void start(int local_port);
  void watch();

  const Cluster& cluster_;
  std::string pod_;
  int remote_port_;
  int local_port_ = 0;
  std::atomic<int> restarts_{0};
  std::unique_ptr<BackgroundProcess> kubectl_;
  std::mutex mutex_;
  std::condition_variable closing_cv_;
  bool closing_ = false;  // under mutex_
  std::thread watchdog_;
};

}  // namespace decant::k8s
