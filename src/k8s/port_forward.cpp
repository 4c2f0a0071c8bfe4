#include "k8s/port_forward.hpp"

#include <fmt/format.h>

#include <chrono>
#include <regex>

#include "common/log.hpp"
#include "process/run_context.hpp"

namespace decant::k8s {

PortForward::PortForward(const Cluster& cluster, std::string pod, int remote_port)
    : cluster_(cluster), pod_(std::move(pod)), remote_port_(remote_port) {
  start(0);
  watchdog_ = std::thread([this] { watch(); });
}

PortForward::~PortForward() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  closing_cv_.notify_all();
  watchdog_.join();
}

// local_port 0: kubectl picks a free one (":REMOTE").
void PortForward::start(int local_port) {
  auto argv = cluster_.kubectl_argv({"port-forward", "--address=127.0.0.1", "pod/" + pod_,
                                     fmt::format("{}:{}", local_port ? std::to_string(local_port) : "", remote_port_)});
  auto child = std::make_unique<BackgroundProcess>(ProcessSpec(argv));
  static const std::regex forwarding(R"(^Forwarding from 127\.0\.0\.1:(\d+) -> \d+)");
  std::smatch m;
  auto line = child->wait_for_line(
      [](std::string_view l) {
        std::string s(l);
        return std::regex_search(s, forwarding);
      },
      std::chrono::seconds(30));
  throw_if_interrupted();
  if (!line) {
    ProcessResult r;
    r.errors = child->errors();
    r.exit_status = child->exit_status();
    r.timed_out = !child->exited();
    throw cluster_failure("kubectl", "to forward a local port to the pod " + pod_, r);
  }
  std::regex_search(*line, m, forwarding);
  if (local_port == 0) local_port_ = std::stoi(m[1]);
  std::lock_guard lock(mutex_);
  kubectl_ = std::move(child);
}

void PortForward::watch() {
  std::unique_lock lock(mutex_);
  while (!closing_) {
    closing_cv_.wait_for(lock, std::chrono::milliseconds(250));
    if (closing_ || run_context().stop_requested()) continue;
    if (!kubectl_->exited()) continue;
    auto said = kubectl_->errors();
    lock.unlock();
    log::warn("the port-forward to {} ended ({}); starting it again on 127.0.0.1:{}", pod_,
              said.substr(0, said.find('\n')), local_port_);
    try {
      start(local_port_);
      ++restarts_;
    } catch (const Error& e) {
      log::warn("the port-forward to {} could not start again: {}", pod_, e.what());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    lock.lock();
  }
}

}  // namespace decant::k8s
