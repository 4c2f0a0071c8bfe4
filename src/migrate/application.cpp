#include "migrate/application.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "backup/manifest.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "process/signals.hpp"

namespace decant::migrate {

void Application::scale_to_zero() const {
  cluster_.kubectl({"scale", "deployment", "--selector=layer=application", "--replicas=0"});
  wait_for(
      [this]() -> std::string {
        size_t left = cluster_.kubectl_json({"get", "pods", "--selector=layer=application"})["items"].size();
        return left == 0 ? "" : fmt::format("{} pod(s) left", left);
      },
      "waiting for the application to stop", "the application's pods did not stop",
      "see why they do not stop (kubectl -n " + cluster_.ns() +
          " get pods -l layer=application), then run with --resume or --rollback");
}

void Application::scale_back(const std::map<std::string, int>& replicas) const {
  for (const auto& [name, count] : replicas)
    cluster_.kubectl({"scale", "deployment", name, "--replicas=" + std::to_string(count)});
}

void Application::wait_ready(const std::map<std::string, int>& replicas) const {
  wait_for(
      [this, &replicas] {
        auto deployments = cluster_.kubectl_json({"get", "deployments", "--selector=layer=application"});
        std::map<std::string, std::pair<int, int>> seen;  // name -> replicas, ready
        for (const auto& d : deployments["items"])
          seen[d["metadata"].value("name", "")] = {d["spec"].value("replicas", 0), d["status"].value("readyReplicas", 0)};
        std::vector<std::string> waiting;
        for (const auto& [name, count] : replicas) {
          auto it = seen.find(name);
          if (it == seen.end())
            waiting.push_back(name + " (missing)");
          else if (it->second.first != count || it->second.second != count)
            waiting.push_back(fmt::format("{} {}/{}", name, it->second.second, count));
        }
        return fmt::format("{}", fmt::join(waiting, ", "));
      },
      "waiting for the application", "the application is not back",
      "see why (kubectl -n " + cluster_.ns() + " describe deployment), then --resume or --rollback");
}

std::optional<double> Application::start_seconds() const {
  std::optional<double> slowest;
  auto pods = cluster_.kubectl_json({"get", "pods", "--selector=layer=application"});
  for (const auto& pod : pods["items"]) {
    auto created = backup::parse_utc(pod["metadata"].value("creationTimestamp", ""));
    for (const auto& c : pod["status"].value("conditions", nlohmann::json::array())) {
      if (c.value("type", "") != "Ready" || c.value("status", "") != "True") continue;
      auto ready = backup::parse_utc(c.value("lastTransitionTime", ""));
      if (created && ready && *ready >= *created)
        slowest = std::max(slowest.value_or(0), static_cast<double>(*ready - *created));
    }
  }
  return slowest;
}

void Application::wait_for(const std::function<std::string()>& pending, const std::string& waiting,
                           const std::string& late, const std::string& hint) const {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(wait_seconds_);
  auto next_line = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::string left = pending();
    if (left.empty()) return;
    if (Clock::now() > deadline)
      throw Error(ExitCode::cluster_failed, fmt::format("{} within {} s: {}", late, wait_seconds_, left), hint);
    if (Clock::now() >= next_line) {
      log::info("{}: {}", waiting, left);
      next_line = Clock::now() + std::chrono::seconds(5);
    }
    throw_if_interrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace decant::migrate
