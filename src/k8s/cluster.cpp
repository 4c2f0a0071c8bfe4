#include "k8s/cluster.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "text/base64.hpp"

namespace decant::k8s {
namespace {

bool contains(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

// The last non-empty line of a tool's stderr, without its "Error: " prefix.
std::string last_line(const std::string& text) {
  std::string line;
  size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  line = text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start == std::string::npos ? 0 : start + 1));
  for (std::string_view prefix : {"Error from server: ", "Error: ", "error: "})
    if (line.starts_with(prefix)) line.erase(0, prefix.size());
  return line;
}

}  // namespace

Error cluster_failure(const std::string& tool, const std::string& doing, const ProcessResult& r) {
  const std::string& e = r.errors;
  std::string said = last_line(e.empty() ? r.output : e);
  std::string what = fmt::format("{} failed {}: {}", tool, doing, said);
  if (r.stopped) return Error(ExitCode::interrupted, tool + " was stopped " + doing, "run the same command with --resume");
  if (r.timed_out) return Error(ExitCode::unreachable, fmt::format("{} did not answer in time {}", tool, doing),
                                "check that the cluster's API server is reachable (kubectl get ns)");
  if (contains(e, "Forbidden") || contains(e, "forbidden"))
    return Error(ExitCode::privileges, what, "ask for the RBAC permission named there, or use a context that has it");
  if (contains(e, "context was not found") || (contains(e, "context") && contains(e, "does not exist")))
    return Error(ExitCode::usage, what, "name a context of the kubeconfig (kubectl config get-contexts)");
  // kubectl: "The connection to the server HOST:PORT was refused - did you specify ...".
  if (contains(e, "Unable to connect to the server") || contains(e, "connection refused") ||
      contains(e, "The connection to the server") ||
      contains(e, "no such host") || contains(e, "i/o timeout") || contains(e, "Kubernetes cluster unreachable"))
    return Error(ExitCode::unreachable, what, "check the kubeconfig and context, and that the API server is reachable");
  if (contains(e, "Unauthorized") || contains(e, "must be logged in") || contains(e, "x509:"))
    return Error(ExitCode::auth, what, "renew the kubeconfig's credentials");
  // kubectl: "Error from server (NotFound): ..."; helm's "not found" is about a chart or
  // file it was given, a failure of the step.
  if (contains(e, "(NotFound)") || (tool == "kubectl" && contains(e, "not found")))
    return Error(ExitCode::cluster_mismatch, what, "check the namespace (-n) and release (--release)");
  return Error(ExitCode::cluster_failed, what, "fix the cause named there; nothing was changed by this step");
}

// kubectl and helm take the same kubeconfig and namespace; helm names its context flag
// --kube-context.
std::vector<std::string> Cluster::tool_argv(const std::string& tool, std::string_view context_flag,
                                            const std::vector<std::string>& args) const {
  std::vector<std::string> argv{tool};
  if (options_.kubeconfig) argv.push_back("--kubeconfig=" + *options_.kubeconfig);
  if (options_.context) argv.push_back(std::string(context_flag) + "=" + *options_.context);
  argv.push_back("--namespace=" + options_.ns);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<std::string> Cluster::kubectl_argv(const std::vector<std::string>& args) const {
  return tool_argv(options_.kubectl, "--context", args);
}

std::vector<std::string> Cluster::helm_argv(const std::vector<std::string>& args) const {
  return tool_argv(options_.helm, "--kube-context", args);
}

namespace {

// Runs one kubectl or helm call; `words` of its arguments name it in an error.
std::string run_tool(const std::string& tool, std::vector<std::string> argv, const std::vector<std::string>& args,
                     size_t words, const std::optional<std::string>& stdin_data, std::chrono::seconds timeout) {
  ProcessSpec spec(std::move(argv), {}, std::nullopt, timeout);
  spec.stdin_data = stdin_data;
  auto r = run_process(spec);
  if (r.exit_status != 0 || r.timed_out || r.stopped)
    throw cluster_failure(
        tool, fmt::format("to {}", fmt::join(args.begin(), args.begin() + std::min(words, args.size()), " ")), r);
  return r.output;
}

nlohmann::json parse_tool_json(const std::string& tool, const std::string& out, const std::string& hint) {
  try {
    return nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ExitCode::cluster_failed, tool + " printed what is not JSON: " + std::string(e.what()), hint);
  }
}

}  // namespace

std::string Cluster::kubectl(const std::vector<std::string>& args, const std::optional<std::string>& stdin_data,
                             std::chrono::seconds timeout) const {
  return run_tool("kubectl", kubectl_argv(args), args, 3, stdin_data, timeout);
}

void Cluster::apply(const std::string& manifest) const {
  kubectl({"apply", "--server-side", "--force-conflicts", "--field-manager=decant", "-f", "-"}, manifest);
}

nlohmann::json Cluster::kubectl_json(std::vector<std::string> args) const {
  args.push_back("--output=json");
  return parse_tool_json("kubectl", kubectl(args), "check that kubectl is a real kubectl (kubectl version)");
}

std::string Cluster::helm(const std::vector<std::string>& args, std::chrono::seconds timeout) const {
  return run_tool("helm", helm_argv(args), args, 2, std::nullopt, timeout);
}

nlohmann::json Cluster::helm_json(std::vector<std::string> args) const {
  args.push_back("--output=json");
  return parse_tool_json("helm", helm(args), "check that helm is helm 3 (helm version)");
}

void Cluster::check() {
  // Versions first: an old or missing tool gets its own line before any cluster call.
  auto version_of = [](const std::string& tool, const std::vector<std::string>& argv, const std::string& hint) {
    ProcessResult r;
    r = run_process(ProcessSpec(argv, {}, std::nullopt, std::chrono::seconds(20)));
    // A stop while the tool answers is the stop, not an unfit tool.
    if (r.stopped) throw cluster_failure(tool, "while reporting its version", r);
    if (r.exit_status != 0)
      throw Error(ExitCode::missing_tool, tool + " cannot report its version: " + last_line(r.errors), hint);
    std::smatch m;
    static const std::regex version(R"(v?(\d+)\.(\d+)\.\d+)");
    if (!std::regex_search(r.output, m, version))
      throw Error(ExitCode::missing_tool, tool + " printed no version: " + last_line(r.output), hint);
    return std::pair{std::stoi(m[1]), std::stoi(m[2])};
  };
  auto kubectl_version = version_of("kubectl", {options_.kubectl, "version", "--client"},
                                    "install kubectl 1.25 or newer, or pass --kubectl");
  if (kubectl_version < std::pair{1, 25})
    throw Error(ExitCode::missing_tool, fmt::format("kubectl {}.{} is too old", kubectl_version.first, kubectl_version.second),
                "install kubectl 1.25 or newer, or pass --kubectl");
  auto helm_version = version_of("helm", {options_.helm, "version", "--short"}, "install helm 3.8 or newer, or pass --helm");
  if (helm_version < std::pair{3, 8})
    throw Error(ExitCode::missing_tool, fmt::format("helm {}.{} is too old", helm_version.first, helm_version.second),
                "install helm 3.8 or newer, or pass --helm");
  try {
    kubectl({"get", "namespace", options_.ns, "--output=name"});
  } catch (const Error& e) {
    // A user whose rights end at the namespace cannot read Namespace objects: the calls
    // that follow will tell whether it exists.
    if (e.code() == ExitCode::privileges) return;
    if (e.code() != ExitCode::cluster_mismatch) throw;
    throw Error(ExitCode::cluster_mismatch, "the namespace " + options_.ns + " does not exist in the cluster",
                "name the namespace CircleCI Server runs in with -n (kubectl get ns)");
  }
}

bool Cluster::can_i(const std::string& verb, const std::string& resource, const std::string& subresource) const {
  std::vector<std::string> args{"auth", "can-i", verb, resource};
  if (!subresource.empty()) args.push_back("--subresource=" + subresource);
  auto r = run_process(ProcessSpec(kubectl_argv(args), {}, std::nullopt, std::chrono::seconds(30)));
  // "yes" exits 0, "no" exits 1; anything else is a failure of its own.
  auto answer = r.output.substr(0, r.output.find('\n'));
  if (answer == "yes") return true;
  if (answer == "no") return false;
  throw cluster_failure("kubectl", "to check permissions (auth can-i " + verb + " " + resource + ")", r);
}

std::optional<std::string> Cluster::secret_value(const std::string& secret, const std::string& key) const {
  auto r = run_process(ProcessSpec(kubectl_argv({"get", "secret", secret, "--output=json"}), {}, std::nullopt,
                                   std::chrono::seconds(60)));
  if (r.exit_status != 0) {
    if (contains(r.errors, "NotFound")) return std::nullopt;
    throw cluster_failure("kubectl", "to read the Secret " + secret, r);
  }
  auto json = nlohmann::json::parse(r.output, nullptr, false);
  if (json.is_discarded() || !json.contains("data") || !json["data"].contains(key)) return std::nullopt;
  return secret_data(json["data"][key].get<std::string>());
}

std::string secret_data(const std::string& base64) {
  auto bytes = decant::base64_decode(base64);
  if (!bytes) throw Error(ExitCode::cluster_failed, "a Secret's value is not base64", "");
  return *bytes;
}

}  // namespace decant::k8s
