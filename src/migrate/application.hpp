#pragma once
// The release's application: its deployments labelled layer=application, scaled to zero
// while the databases move and back to their recorded replicas after.
#include <map>
#include <optional>
#include <string>

#include "k8s/cluster.hpp"

namespace decant::migrate {

class Application {
 public:
  // `wait_seconds`: how long its pods may take to stop, or to be ready again.
  Application(const k8s::Cluster& cluster, int wait_seconds) : cluster_(cluster), wait_seconds_(wait_seconds) {}

  // Scales every deployment to zero and returns once their pods are gone.
  void scale_to_zero() const;
  void scale_back(const std::map<std::string, int>& replicas) const;
  // Returns once every deployment has its replicas ready.
  void wait_ready(const std::map<std::string, int>& replicas) const;
  // How long its running pods took from creation to ready, the slowest of them: what
  // bringing the application back costs. Nothing when no pod says.
  std::optional<double> start_seconds() const;

 private:
  // Polls `pending` (what is still awaited, "" once nothing is) every half second, with a
  // line every 5 s; after wait_seconds throws cluster_failed: `late` and what is pending.
  void wait_for(const std::function<std::string()>& pending, const std::string& waiting, const std::string& late,
                const std::string& hint) const;

  const k8s::Cluster& cluster_;
  int wait_seconds_;
};

}  // namespace decant::migrate
