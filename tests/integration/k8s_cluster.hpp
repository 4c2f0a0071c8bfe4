#pragma once
// Test harness: a real Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler; kwok's fake node, whose pods run without
// containers) started by scripts/k8s/up.sh on a temporary directory and free loopback
// ports, with helm and the stand-in CircleCI Server chart (tests/k8s/circleci-server).
// kwok maps `kubectl exec` into a pod to a local process and `kubectl port-forward` to a
// local address: the internal databases are local servers behind mapped pods.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "pg_server.hpp"  // RunResult, run_decant

namespace decant::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class TestCluster {
 public:
  // kwok: fake nodes (pods without containers). real: one real node (scripts/k8s/real-node.sh:
  // kubelet, containerd, runc; root only, one per machine), its images made first by
  // scripts/k8s/test-images.sh (decant's own from the Dockerfile).
  enum class Node { kwok, real };
  // The real node's address on its pod network (the bridge), and that network.
  static constexpr const char* kNodeIp = "10.88.0.1";
  static constexpr const char* kPodNetwork = "10.88.0.0/16";

  // Throws std::runtime_error when it cannot start (the binaries missing: scripts/install-k8s.sh).
  explicit TestCluster(Node node = Node::kwok);
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  const std::filesystem::path& kubeconfig() const { return kubeconfig_; }
  // The API server's loopback port, and a copy of the kubeconfig that reaches it through
  // `port` instead (a TcpProxy's, which a test cuts).
  int api_port() const;
  std::filesystem::path kubeconfig_through(int port) const;
  std::string bin_dir() const;
  std::string kubectl_path() const { return bin_dir() + "/kubectl"; }
  std::string helm_path() const { return bin_dir() + "/helm"; }
  std::filesystem::path chart_dir() const;
  // Environment for helm (its own cache and config dirs) and kubectl (KUBECONFIG).
  std::map<std::string, std::string> env() const;

  CommandResult kubectl(const std::vector<std::string>& args, const std::string& stdin_data = "") const;
  CommandResult helm(const std::vector<std::string>& args) const;
  // Throws std::runtime_error with its stderr unless it succeeds.
  std::string must_kubectl(const std::vector<std::string>& args, const std::string& stdin_data = "") const;
  std::string must_helm(const std::vector<std::string>& args) const;

  // decant COMMAND on this cluster (its kubeconfig, or `kubeconfig`; its kubectl and helm unless
  // the arguments name a --kubectl).
  RunResult decant(const std::string& command, std::vector<std::string> args, const std::string& kubeconfig = "") const;
  // `kubectl -n NS get WHAT` finds it.
  bool exists(const std::string& ns, const std::string& what) const {
    return kubectl({"-n", ns, "get", what}).exit_code == 0;
  }

  // Maps NAMESPACE/POD: `POD_PORT=HOST:PORT` port-forwards and `NAME=VALUE` exec variables.
  void map_pod(const std::string& ns, const std::string& pod, const std::vector<std::string>& mappings) const;
  // helm install of the stand-in chart as `release` into `ns` (created), --wait; as chart
  // version `chart_version` ("4.10.0") when given, as CircleCI Server of that release.
  void install_chart(const std::string& ns, const std::string& release, const std::vector<std::string>& set_values,
                     const std::string& chart_version = "") const;
  // The stand-in chart's directory as version `chart_version` (a copy, made once).
  std::filesystem::path chart_dir(const std::string& chart_version) const;
  // A kubeconfig for a ServiceAccount `name` of `ns` (a token), for RBAC tests.
  std::filesystem::path service_account_kubeconfig(const std::string& ns, const std::string& name) const;

 private:
  Node node_ = Node::kwok;
  std::filesystem::path run_dir_;
  std::filesystem::path kubeconfig_;
  int port_base_ = 0;
};

}  // namespace decant::test
