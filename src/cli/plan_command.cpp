#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "migrate/plan.hpp"

namespace decant::cli {

// A blocker's code is the error its check met (a preflight of pg copy or mongo copy).
const CommandExitCodes kPlanExitCodes{
    "plan",
    {ExitCode::unreachable, ExitCode::auth, ExitCode::missing_tool, ExitCode::privileges, ExitCode::target_not_empty,
     ExitCode::copy_failed, ExitCode::interrupted, ExitCode::tls, ExitCode::same_server, ExitCode::cluster_mismatch,
     ExitCode::cluster_failed, ExitCode::unsupported_target}};

namespace {

void add_cluster_options(CLI::App* cmd, k8s::ClusterOptions& cluster, std::optional<std::string>& release) {
  cmd->add_option("--kubeconfig", cluster.kubeconfig, "kubeconfig file; default: KUBECONFIG, then ~/.kube/config");
  cmd->add_option("--context", cluster.context, "kubeconfig context; default: its current context");
  cmd->add_option("-n,--namespace", cluster.ns, "Namespace of CircleCI Server")->capture_default_str();
  cmd->add_option("--release", release, "Helm release; default: the one release in the namespace");
  cmd->add_option("--kubectl", cluster.kubectl, "kubectl to run")->capture_default_str();
  cmd->add_option("--helm", cluster.helm, "helm to run")->capture_default_str();
}

}  // namespace

void add_plan_options(CLI::App* cmd, migrate::PlanOptions& options) {
  add_cluster_options(cmd, options.cluster, options.release);
  add_connection(cmd, "--pg-target", options.pg_target, "libpq URI of the external PostgreSQL (its maintenance database)");
  add_connection(cmd, "--mongo-target", options.mongo_target, "MongoDB URI of the external MongoDB");
  cmd->add_option("--mongo-db", options.mongo_dbs, "MongoDB database to move (repeatable)")->capture_default_str();
  cmd->add_flag("--all-mongo-dbs", options.all_mongo_dbs, "Move every non-system MongoDB database");
  cmd->add_option("--daily-active-users", options.daily_active_users, "Check the sizing advice for this many users")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--allow-single-server", options.allow_single_server,
                "A PostgreSQL target without a streaming standby is a warning, not a blocker");
  cmd->add_flag("--allow-unsupported-target", options.allow_unsupported_target,
                "A PostgreSQL target of a major version the release does not support is a warning, not a blocker");
  cmd->add_flag("--clean", options.clean, "Replace PostgreSQL databases the target has already");
  cmd->add_flag("--drop", options.drop, "Replace MongoDB collections the target has already");
  cmd->add_option("--pg-bin", options.pg_bin, "Directory holding the pg_dump, pg_restore and psql to use");
  add_extension_update(cmd, options.extension_update);
  cmd->add_option("--image", options.image,
                  "decant's image (of this decant's version) for the copy Job in the release's namespace: the data "
                  "goes from the internal databases to the targets inside the cluster");
  cmd->add_option("--data-path", options.data_path,
                  "cluster (a Job of --image; the default with --image) or local (this machine copies, through "
                  "kubectl port-forward: for clusters that cannot run the image)")
      ->check(CLI::IsMember({"cluster", "local"}));
  cmd->add_option("--image-pull-policy", options.image_pull_policy,
                  "imagePullPolicy of decant's pods (default: the cluster's: IfNotPresent for a tagged image)")
      ->check(CLI::IsMember({"Always", "IfNotPresent", "Never"}));
}

// `decant probe`: not a command for people. plan runs it in decant's image in the cluster
// (--image): the data path's checks from where the copies will run, printed as one JSON line.
const CommandExitCodes kProbeExitCodes{"probe", {ExitCode::missing_tool, ExitCode::interrupted}};

struct ProbeOptions {
  migrate::PlanOptions plan;
  std::optional<std::string> pg_source, mongo_source;
  std::string chart;
};

Runner add_probe(CLI::App& app) {
  auto command = add_command<ProbeOptions>(
      app, kProbeExitCodes,
      [](ProbeOptions& o) {
        fmt::print("{}{}\n", migrate::kProbePrefix,
                   migrate::probe_data_path(o.plan, o.chart, o.pg_source, o.mongo_source).dump());
        return 0;
      },
      "Check the data path from here, as plan does from a pod of decant's image", [](CLI::App* cmd, ProbeOptions& o) {
        add_plan_options(cmd, o.plan);
        add_connection(cmd, "--pg-source", o.pg_source, "The internal PostgreSQL");
        add_connection(cmd, "--mongo-source", o.mongo_source, "The internal MongoDB");
        cmd->add_option("--chart", o.chart, "The release's chart (name-version): whose requirements apply")->required();
      });
  command.app->group("");  // hidden from --help
  return command.run;
}

Runner add_plan(CLI::App& app) {
  auto options = std::make_shared<migrate::PlanOptions>();
  auto output = std::make_shared<std::string>("text");
  auto* cmd = app.add_subcommand(
      "plan", "Check, without downtime and without changing anything, what `decant migrate` would do: the release, "
              "the internal databases, the external targets (from decant and from inside the cluster), permissions, "
              "sizing and the downtime to expect");
  add_plan_options(cmd, *options);
  cmd->add_option("-o,--output", *output, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->footer(exit_codes_footer(kPlanExitCodes.codes) +
              "\nWith blockers, the exit code is the first blocker's.");
  return [options, output] {
    auto plan = migrate::make_plan(*options);
    if (*output == "json")
      fmt::print("{}\n", migrate::plan_json(plan).dump(2));
    else
      migrate::print_plan(plan);
    return migrate::plan_exit_code(plan);
  };
}

}  // namespace decant::cli
