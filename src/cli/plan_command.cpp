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
