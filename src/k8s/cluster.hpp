#pragma once
// The cluster as kubectl and helm see it: every call names the kubeconfig, context and
// namespace the user chose, runs without a shell, and fails with one classified line.
// kubectl's and helm's messages are not translated (Go tools print English whatever the
// locale), so their text is what there is to classify; their exit status says only
// "failed". Secrets reach them on stdin, never in argv.
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "process/process.hpp"

namespace decant::k8s {

struct ClusterOptions {
  std::optional<std::string> kubeconfig;  // else KUBECONFIG, else ~/.kube/config (kubectl's rules)
  std::optional<std::string> context;
  std::string ns = "circleci-server";
  std::string kubectl = "kubectl";
  std::string helm = "helm";
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options) : options_(std::move(options)) {}

  // Both tools present and new enough; the namespace exists. Throws otherwise.
  void check();
  const std::string& ns() const { return options_.ns; }
  const ClusterOptions& options() const { return options_; }

  // `kubectl ARGS` in the namespace; its stdout. Throws a classified Error on failure.
  std::string kubectl(const std::vector<std::string>& args, const std::optional<std::string>& stdin_data = {},
                      std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  nlohmann::json kubectl_json(std::vector<std::string> args) const;
  // `kubectl apply --server-side` of one object (JSON), fed on stdin and owned by the field
  // manager "decant": a Secret's values are never in argv nor in a last-applied annotation.
  void apply(const std::string& manifest) const;
  std::string helm(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(120)) const;
  nlohmann::json helm_json(std::vector<std::string> args) const;
  // The full argv of `kubectl ARGS` (for a background child such as port-forward, and
  // for --dry-run's listing).
  std::vector<std::string> kubectl_argv(const std::vector<std::string>& args) const;
  std::vector<std::string> helm_argv(const std::vector<std::string>& args) const;

  // `kubectl auth can-i VERB RESOURCE [--subresource=SUB]` in the namespace.
  bool can_i(const std::string& verb, const std::string& resource, const std::string& subresource = "") const;
  // A Secret's key, decoded; nullopt when the Secret or the key is missing.
  std::optional<std::string> secret_value(const std::string& secret, const std::string& key) const;

 private:
  std::vector<std::string> tool_argv(const std::string& tool, std::string_view context_flag,
                                     const std::vector<std::string>& args) const;
  ClusterOptions options_;
};

// The Error for a failed kubectl or helm run: `doing` says what it was for.
Error cluster_failure(const std::string& tool, const std::string& doing, const ProcessResult& result);

// A Secret's data value (base64, as Kubernetes stores it) decoded.
std::string secret_data(const std::string& base64);

}  // namespace decant::k8s
