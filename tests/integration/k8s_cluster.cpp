#include "k8s_cluster.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <stdexcept>

#include "process/process.hpp"
#include "pg_server.hpp"

namespace decant::test {
namespace fs = std::filesystem;

namespace {

fs::path source_dir() { return DECANT_SOURCE_DIR; }

CommandResult run(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
                  const std::string& stdin_data = "", std::chrono::minutes timeout = std::chrono::minutes(3)) {
  ProcessSpec spec(std::move(argv), env, std::nullopt, timeout);
  if (!stdin_data.empty()) spec.stdin_data = stdin_data;
  auto r = run_process(spec);
  return {r.exit_status, r.output, r.errors};
}

}  // namespace

std::string TestCluster::bin_dir() const {
  const char* cache = std::getenv("K8S_CACHE");
  return (cache ? std::string(cache) : std::string("/var/cache/decant/k8s")) + "/bin";
}

fs::path TestCluster::chart_dir() const { return source_dir() / "tests/k8s/circleci-server"; }

std::map<std::string, std::string> TestCluster::env() const {
  return {{"KUBECONFIG", kubeconfig_.string()},
          {"K8S_RUN", run_dir_.string()},
          {"K8S_PORT_BASE", std::to_string(port_base_)},
          {"K8S_NODE", node_ == Node::real ? "real" : "kwok"},
          {"HELM_CACHE_HOME", (run_dir_ / "helm/cache").string()},
          {"HELM_CONFIG_HOME", (run_dir_ / "helm/config").string()},
          {"HELM_DATA_HOME", (run_dir_ / "helm/data").string()}};
}

TestCluster::TestCluster(Node node) : node_(node) {
  if (!fs::exists(bin_dir() + "/kube-apiserver"))
    throw std::runtime_error(bin_dir() + "/kube-apiserver missing: run scripts/install-k8s.sh");
  if (node == Node::real && !fs::exists(bin_dir() + "/kubelet"))
    throw std::runtime_error(bin_dir() + "/kubelet missing: run scripts/install-k8s.sh");
  run_dir_ = make_temp_dir("decant-k8s");
  kubeconfig_ = run_dir_ / "kubeconfig";
  // etcd, etcd peer, -, apiserver, controller-manager, scheduler, kwok; the real node's kubelet
  // (2), kube-proxy (2), -, CoreDNS's health.
  port_base_ = free_port_block(node == Node::real ? 13 : 7);
  auto r = run({"bash", (source_dir() / "scripts/k8s/up.sh").string()}, env());
  if (r.exit_code == 0 && node == Node::real)  // made again only when what they are made of changed
    r = run({"bash", (source_dir() / "scripts/k8s/test-images.sh").string()}, env(), "", std::chrono::minutes(40));
  if (r.exit_code != 0) {
    run({"bash", (source_dir() / "scripts/k8s/down.sh").string(), "--purge"}, env());
    throw std::runtime_error("the test cluster did not start: " + r.err);
  }
}

TestCluster::~TestCluster() {
  run({"bash", (source_dir() / "scripts/k8s/down.sh").string(), "--purge"}, env());
  std::error_code ec;
  fs::remove_all(run_dir_, ec);
}

RunResult TestCluster::decant(const std::string& command, std::vector<std::string> args,
                              const std::string& kubeconfig) const {
  std::vector<std::string> all{command, "--kubeconfig=" + (kubeconfig.empty() ? kubeconfig_.string() : kubeconfig),
                               "--helm=" + helm_path()};
  if (std::find(args.begin(), args.end(), "--kubectl") == args.end()) all.push_back("--kubectl=" + kubectl_path());
  all.insert(all.end(), args.begin(), args.end());
  auto environment = env();
  environment.erase("KUBECONFIG");
  return run_decant(all, environment);
}

CommandResult TestCluster::kubectl(const std::vector<std::string>& args, const std::string& stdin_data) const {
  std::vector<std::string> argv{kubectl_path(), "--kubeconfig=" + kubeconfig_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, env(), stdin_data);
}

CommandResult TestCluster::helm(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{helm_path(), "--kubeconfig=" + kubeconfig_.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, env());
}

std::string TestCluster::must_kubectl(const std::vector<std::string>& args, const std::string& stdin_data) const {
  auto r = kubectl(args, stdin_data);
  if (r.exit_code != 0) throw std::runtime_error("kubectl " + (args.empty() ? "" : args[0]) + ": " + r.err);
  return r.out;
}

std::string TestCluster::must_helm(const std::vector<std::string>& args) const {
  auto r = helm(args);
  if (r.exit_code != 0) throw std::runtime_error("helm " + (args.empty() ? "" : args[0]) + ": " + r.err);
  return r.out;
}

void TestCluster::map_pod(const std::string& ns, const std::string& pod, const std::vector<std::string>& mappings) const {
  std::vector<std::string> argv{"bash", (source_dir() / "scripts/k8s/map.sh").string(), ns, pod};
  argv.insert(argv.end(), mappings.begin(), mappings.end());
  auto r = run(argv, env());
  if (r.exit_code != 0) throw std::runtime_error("map.sh " + pod + ": " + r.err);
}

fs::path TestCluster::chart_dir(const std::string& chart_version) const {
  if (chart_version.empty()) return chart_dir();
  fs::path dir = run_dir_ / ("chart-" + chart_version);
  if (fs::exists(dir)) return dir;
  fs::copy(chart_dir(), dir, fs::copy_options::recursive);
  std::ifstream in(dir / "Chart.yaml");
  std::string line, text;
  while (std::getline(in, line)) {
    if (line.rfind("version:", 0) == 0) line = "version: " + chart_version;
    if (line.rfind("appVersion:", 0) == 0) line = "appVersion: \"" + chart_version + "\"";
    text += line + "\n";
  }
  in.close();
  std::ofstream(dir / "Chart.yaml", std::ios::trunc) << text;
  return dir;
}

void TestCluster::install_chart(const std::string& ns, const std::string& release,
                                const std::vector<std::string>& set_values, const std::string& chart_version) const {
  std::vector<std::string> args{"install", release, chart_dir(chart_version).string(), "--namespace", ns,
                                "--create-namespace", "--wait", "--timeout", "120s"};
  for (const auto& v : set_values) {
    args.push_back("--set");
    args.push_back(v);
  }
  must_helm(args);
}

namespace {
const std::regex kServerPort(R"((server: https://127\.0\.0\.1:)(\d+))");
}  // namespace

int TestCluster::api_port() const {
  std::smatch m;
  std::string text = read_file(kubeconfig_);
  if (!std::regex_search(text, m, kServerPort)) throw std::runtime_error("no loopback server in " + kubeconfig_.string());
  return std::stoi(m[2]);
}

fs::path TestCluster::kubeconfig_through(int port) const {
  auto path = run_dir_ / ("kubeconfig-via-" + std::to_string(port));
  std::string text = read_file(kubeconfig_);
  std::smatch m;
  if (!std::regex_search(text, m, kServerPort)) throw std::runtime_error("no loopback server in " + kubeconfig_.string());
  std::ofstream(path) << m.prefix().str() << m[1].str() << port << m.suffix().str();
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return path;
}

fs::path TestCluster::service_account_kubeconfig(const std::string& ns, const std::string& name) const {
  auto token = must_kubectl({"-n", ns, "create", "token", name, "--duration=1h"});
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  auto server = must_kubectl({"config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"});
  auto path = run_dir_ / ("kubeconfig-" + name);
  std::ofstream out(path);
  out << "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: " << server
      << "\n    certificate-authority: " << (run_dir_ / "pki/ca.crt").string() << "\nusers:\n- name: " << name
      << "\n  user:\n    token: " << token << "\ncontexts:\n- name: " << name << "\n  context:\n    cluster: test\n"
      << "    user: " << name << "\n    namespace: " << ns << "\ncurrent-context: " << name << "\n";
  return path;
}

}  // namespace decant::test
