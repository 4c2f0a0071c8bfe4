#include "migrate/plan.hpp"

#include <fmt/format.h>
#include <mongoc/mongoc.h>

#include <algorithm>
#include <chrono>

#include "common/log.hpp"
#include "decant/version.hpp"
#include "process/process.hpp"
#include "engine/progress.hpp"
#include "text/lines.hpp"
#include "k8s/port_forward.hpp"
#include "k8s/decant_job.hpp"
#include "migrate/application.hpp"
#include "migrate/in_cluster_copy.hpp"
#include "migrate/target_checks.hpp"
#include "migrate/values.hpp"
#include "mongo/client.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"

namespace decant::migrate {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kSampleBytes = 32u << 20;
// Scaling the application down and helm's own work, besides the copy and the pods' start
// (the test cluster's migrate, whose pods are ready at once, spends about this).
constexpr double kScaleAndHelmSeconds = 10;
// The pods' start when no running pod says how long it took.
constexpr double kDefaultRestartSeconds = 60;
// What each table costs besides its bytes (create, index, verify), as measured on 3,000
// small tables.
constexpr double kSecondsPerTable = 0.003;

std::string size_text(uint64_t bytes) { return engine::human_bytes(bytes); }

// Helm values hold secrets (passwords, tokens, signing keys): the plan shows their keys only.
nlohmann::json redacted(const nlohmann::json& values) {
  if (values.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : values) out.push_back(redacted(v));
    return out;
  }
  if (!values.is_object()) return values;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : values.items()) {
    std::string k;
    for (char c : key) k += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool secret = false;
    for (const char* word : {"password", "token", "cookie", "signing", "credential", "private", "apikey", "keyset",
                             "encryption", "cert", "secretkey", "accesskey"})
      if (k.find(word) != std::string::npos) secret = true;
    if (k.find("secret") != std::string::npos && k.find("existing") == std::string::npos) secret = true;
    if (k.ends_with("key") && k != "key") secret = true;
    out[key] = secret && !value.is_object() && !value.is_array() && !value.is_boolean() && !value.is_null()
                   ? nlohmann::json("<redacted>")
                   : redacted(value);
  }
  return out;
}

Finding finding(const Error& e) { return {e.code(), e.what(), e.hint()}; }


// What migrate does, as RBAC verbs: a missing one blocks before the downtime starts. The
// local path's verbs when this plan reads through port-forwards, the Job's when the copies
// run (or are advised to run) in the cluster. Returns whether every one checked is granted.
bool check_permissions(const k8s::Cluster& cluster, bool reads_locally, bool runs_job, Plan& plan) {
  struct Need {
    const char* verb;
    const char* resource;
    const char* subresource;
    const char* why;
  };
  static const Need always[] = {
      {"get", "secrets", "", "to read the databases' passwords"},
      {"patch", "deployments", "scale", "to scale the application layer"},
      {"create", "configmaps", "", "to record what migrate changes"},
      {"create", "secrets", "", "to hold the external databases' credentials"},
      {"delete", "secrets", "", "to remove its Secrets"},
  };
  static const Need local[] = {
      {"create", "pods", "portforward", "to reach the internal databases"},
      {"create", "pods", "exec", "to probe the targets from inside the cluster"},
  };
  static const Need job[] = {
      {"create", "jobs", "", "to run the copies in the cluster"},
      {"delete", "jobs", "", "to remove its Job"},
      {"list", "jobs", "", "to follow the Jobs of an interrupted run"},
      {"list", "pods", "", "to follow the Job's pod"},
      {"get", "pods", "log", "to relay the copies' output"},
  };
  auto check = [&](const Need& n) {
    if (cluster.can_i(n.verb, n.resource, n.subresource)) return true;
    plan.blockers.push_back({ExitCode::privileges,
                             fmt::format("the cluster user cannot {} {}{} in the namespace {} (needed {})", n.verb,
                                         n.resource, *n.subresource ? std::string("/") + n.subresource : "",
                                         cluster.ns(), n.why),
                             "grant it in a Role bound to the user, or use a context that has it"});
    return false;
  };
  bool granted = true;
  for (const auto& n : always) granted = check(n) && granted;
  if (reads_locally)
    for (const auto& n : local) granted = check(n) && granted;
  if (runs_job)
    for (const auto& n : job) granted = check(n) && granted;
  return granted;
}

// Runs `script` in the pod with `secret_line` on its stdin (never argv). kwok and some
// kubelets lose the command's exit status, so the script always exits 0 and says how it
// went on stdout.
std::string exec_in_pod(const k8s::Cluster& cluster, const std::string& pod, const std::string& script,
                        const std::vector<std::string>& args, const std::string& secret_line) {
  std::vector<std::string> argv{"exec", "-i", pod, "--", "sh", "-c", script + "\nexit 0", "decant-probe"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessSpec spec(cluster.kubectl_argv(argv), {}, std::nullopt, std::chrono::seconds(60));
  spec.stdin_data = secret_line + "\n";
  auto r = run_process(spec);
  if (r.exit_status != 0 || r.timed_out) throw k8s::cluster_failure("kubectl", "to run a probe in the pod " + pod, r);
  return r.output;
}

std::string first_line_without(const std::string& text, std::string_view marker) {
  for (std::string_view line : lines_of(text))
    if (!line.empty() && line.find(marker) == std::string_view::npos) return std::string(line);
  return "";
}

// Runs a check whose failure is a finding, not the end of the plan: a blocker, or with
// `warning` a warning that starts so. A stop still stops.
bool noted(Plan& plan, const std::function<void()>& check, const char* warning = nullptr) {
  try {
    check();
    return true;
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted) throw;
    if (warning)
      plan.warnings.push_back({ExitCode::ok, std::string(warning) + e.what(), ""});
    else
      plan.blockers.push_back(finding(e));
    return false;
  }
}

// psql in the pod, with TLS required where the release needs it (as the application's
// secureMode connects): the login from the cluster's network, and the protocol negotiated.
void probe_postgresql(const k8s::Cluster& cluster, const InternalDatabase& db, const std::string& target,
                      const std::string& tls_min, Plan& plan) {
  auto info = pg::ConnInfo::parse(target, "target");
  auto with_tls = tls_min.empty() ? info : info.with("sslmode", application_sslmode(info.param("sslmode").value_or("")));
  // Where TLS is required and fails, the plain connection tells a network problem from a
  // server without TLS (whatever language the pod's psql speaks).
  const std::string script =
      "read -r PGPASSWORD; export PGPASSWORD\n"
      "if ! command -v psql >/dev/null 2>&1; then echo decant-probe-no-client; exit 0; fi\n"
      "query=\"SELECT 'decant-probe-ok ' || coalesce((SELECT version FROM pg_catalog.pg_stat_ssl "
      "WHERE pid = pg_catalog.pg_backend_pid() AND ssl), 'no-tls')\"\n"
      "if out=$(psql -w -X -At -c \"$query\" \"$1\" 2>&1); then echo \"$out\"; "
      "elif [ \"$1\" != \"$2\" ] && psql -w -X -At -c 'SELECT 1' \"$2\" >/dev/null 2>&1; then "
      "echo 'decant-probe-ok no-tls'; else echo \"$out\"; fi";
  std::string out;
  auto plain = tls_min.empty() ? info : info.with("sslmode", "disable");
  if (!noted(plan, [&] {
        out = exec_in_pod(cluster, db.pod, script,
                          {with_tls.for_child(info.maintenance_db()), plain.for_child(info.maintenance_db())},
                          info.password().value_or(""));
      }))
    return;
  if (auto ok = out.find("decant-probe-ok "); ok != std::string::npos) {
    std::string protocol = out.substr(ok + 16, out.find('\n', ok) - ok - 16);
    plan.checks.push_back(fmt::format("PostgreSQL target reached and logged into from inside the cluster (psql in {}, "
                                      "{})",
                                      db.pod, protocol == "no-tls" ? "without TLS" : protocol));
    if (!tls_min.empty() && (protocol == "no-tls" || protocol < tls_min))
      plan.blockers.push_back({ExitCode::unsupported_target,
                               fmt::format("from inside the cluster the PostgreSQL target negotiates {}, and the release "
                                           "authenticates with {} only",
                                           protocol == "no-tls" ? "no TLS" : protocol, tls_min),
                               "set ssl_min_protocol_version = '" + tls_min + "' with ssl = on on the target server"});
  } else if (out.find("decant-probe-no-client") != std::string::npos) {
    plan.warnings.push_back({ExitCode::ok, "the pod " + db.pod + " has no psql: the target was not probed from inside the cluster",
                             "check that pods reach " + info.display() + " before migrating"});
  } else {
    plan.blockers.push_back({ExitCode::unreachable,
                             fmt::format("the PostgreSQL target {} is not usable from inside the cluster (psql in {}): {}",
                                         info.display(), db.pod, first_line_without(out, "decant-probe")),
                             "open the network path (firewall, security group, pg_hba.conf) from the cluster's pods"});
  }
}

void probe_mongodb(const k8s::Cluster& cluster, const InternalDatabase& db, const std::string& target, Plan& plan) {
  auto uri = mongo::Uri::parse(target, "target");
  const mongoc_host_list_t* host = mongoc_uri_get_hosts(uri.get());
  std::string h = host ? host->host : "127.0.0.1";
  std::string p = std::to_string(host ? host->port : 27017);
  // mongosh checks the login too; without it, a TCP connection is what can be checked.
  const std::string script =
      "read -r DECANT_URI; export DECANT_URI\n"
      "if command -v mongosh >/dev/null 2>&1; then\n"
      "  mongosh --quiet --nodb --eval 'try { const r = new Mongo(process.env.DECANT_URI).getDB(\"admin\")"
      ".runCommand({ping: 1}); print(r.ok == 1 ? \"decant-probe-ok\" : \"decant-probe-failed \" + JSON.stringify(r)) }"
      " catch (e) { print(\"decant-probe-failed \" + e.message) }' 2>&1\n"
      "elif command -v bash >/dev/null 2>&1; then\n"
      "  if timeout 10 bash -c 'exec 3<>/dev/tcp/$0/$1' \"$1\" \"$2\" 2>/dev/null; then echo decant-probe-tcp-ok;"
      " else echo \"decant-probe-failed no TCP connection to $1:$2\"; fi\n"
      "else echo decant-probe-no-client; fi";
  std::string out;
  if (!noted(plan, [&] { out = exec_in_pod(cluster, db.pod, script, {h, p}, target); })) return;
  if (out.find("decant-probe-ok") != std::string::npos) {
    plan.checks.push_back("MongoDB target reached and logged into from inside the cluster (mongosh in " + db.pod + ")");
  } else if (out.find("decant-probe-tcp-ok") != std::string::npos) {
    plan.checks.push_back(fmt::format("MongoDB target {}:{} reached from inside the cluster ({})", h, p, db.pod));
    plan.warnings.push_back({ExitCode::ok,
                             "the pod " + db.pod + " has no mongosh: the login was checked from decant only, the "
                             "network path from inside the cluster by a TCP connection",
                             ""});
  } else if (out.find("decant-probe-no-client") != std::string::npos) {
    plan.warnings.push_back({ExitCode::ok, "the pod " + db.pod + " has neither mongosh nor bash: the target was not "
                             "probed from inside the cluster", "check that pods reach " + uri.display()});
  } else {
    auto failed = out.find("decant-probe-failed");
    std::string why = failed == std::string::npos ? first_line_without(out, "decant-probe")
                                                  : out.substr(failed + 20, out.find('\n', failed) - failed - 20);
    plan.blockers.push_back({ExitCode::unreachable,
                             fmt::format("the MongoDB target {} is not usable from inside the cluster ({}): {}",
                                         uri.display(), db.pod, why),
                             "open the network path (firewall, security group) from the cluster's pods"});
  }
}

// 32 MiB of generated rows read from the source (through the port-forward, as the copy
// reads) and written into a temporary table of the target, timed: the path's speed,
// whatever the tables hold. Nothing stays on either server.
double sample_postgresql(const std::string& source, const std::string& target) {
  auto src_info = pg::ConnInfo::parse(source, "source");
  auto src = pg::Connection::open(src_info, src_info.maintenance_db());
  src.exec("SET default_transaction_read_only = on");
  std::vector<std::string> rows;
  uint64_t bytes = 0;
  auto started = Clock::now();
  {
    pg::CopyOutSource out(src, fmt::format("COPY (SELECT pg_catalog.repeat('x', 1024) FROM "
                                           "pg_catalog.generate_series(1, {})) TO STDOUT", kSampleBytes / 1024),
                          false);
    std::string_view row;
    while (out.next(row)) {
      bytes += row.size();
      rows.emplace_back(row);
    }
  }
  double read_s = engine::seconds_since(started);
  auto tgt_info = pg::ConnInfo::parse(target, "target");
  auto tgt = pg::Connection::open(tgt_info, tgt_info.maintenance_db());
  tgt.exec("CREATE TEMPORARY TABLE decant_plan_sample (line text)");
  started = Clock::now();
  pg::CopyInSink in(tgt, "COPY decant_plan_sample FROM STDIN", false);
  for (const auto& r : rows) in.write(r);
  in.finish();
  double write_s = engine::seconds_since(started);
  return static_cast<double>(bytes) / std::max({read_s, write_s, 1e-3});
}

double sample_mongodb(const std::string& source, const mongo::CopyPreflight& pre) {
  auto largest = std::max_element(pre.collections.begin(), pre.collections.end(),
                                  [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
  if (largest == pre.collections.end() || largest->documents == 0) return 0;
  auto uri = mongo::Uri::parse(source, "source");
  mongo::ClientPool pool(uri);
  auto client = pool.acquire();
  auto dot = largest->name.find('.');
  mongo::CollectionPtr coll(mongoc_client_get_collection(client.get(), largest->name.substr(0, dot).c_str(),
                                                         largest->name.substr(dot + 1).c_str()));
  double doc_bytes = std::max(1.0, static_cast<double>(largest->bytes) / static_cast<double>(largest->documents));
  auto limit = static_cast<int64_t>(std::max(1.0, kSampleBytes / doc_bytes));
  mongo::Bson filter;
  mongo::Bson opts = mongo::Bson::from_json(fmt::format(R"({{"limit": {{"$numberLong": "{}"}}}})", limit));
  auto started = Clock::now();
  mongo::CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  const bson_t* doc = nullptr;
  uint64_t bytes = 0;
  while (mongoc_cursor_next(cursor.get(), &doc)) bytes += doc->len;
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) mongo::fail(error, pool.where(), "reading a sample");
  if (bytes < (1u << 20)) return 0;  // too little to time: latency, not speed
  return static_cast<double>(bytes) / std::max(engine::seconds_since(started), 1e-3);
}

bool usable_source(const InternalDatabase& db, const std::string& label, Plan& plan) {
  if (!db.internal) {
    plan.blockers.push_back({ExitCode::usage,
                             fmt::format("{} is external already (the values say {}.internal: false, at {})", label,
                                         db.kind, db.external),
                             fmt::format("leave out --{}-target", db.kind == "postgresql" ? "pg" : "mongo")});
    return false;
  }
  if (!db.running) {
    plan.blockers.push_back({ExitCode::cluster_mismatch,
                             fmt::format("the internal {} (StatefulSet {}) has no ready pod", label, db.kind),
                             "start it again (kubectl -n NAMESPACE rollout status statefulset/" + db.kind + ")"});
    return false;
  }
  return true;
}

// The internal database checked usable and forwarded to a local port; false after a blocker.
bool forward_source(const k8s::Cluster& cluster, const InternalDatabase& db, const std::string& label, Plan& plan,
                    std::optional<k8s::PortForward>& forward) {
  return usable_source(db, label, plan) && noted(plan, [&] { forward.emplace(cluster, db.pod, db.port); });
}

// The copy's speed as sampled: the slower of the two databases' paths counts.
void sampled_rate(Plan& plan, double rate) {
  plan.sample_bytes_per_second = plan.sample_bytes_per_second > 0 ? std::min(plan.sample_bytes_per_second, rate) : rate;
}

// The PostgreSQL data path's checks, wherever the copy runs (here, or in the probe pod):
// the copy's preflight, the target against the release's requirements, its standbys, the
// speed sampled from `source` to the target.
void check_postgresql_data_path(const PlanOptions& options, const std::string& source, Plan& plan, double& seconds) {
  auto copy = pg_copy_options(options, source);
  noted(plan, [&] {
    plan.pg = pg::preflight_copy(copy);
    plan.checks.push_back(fmt::format("PostgreSQL target {} reached from decant{}: PostgreSQL {} for a PostgreSQL {} "
                                      "source, privileges, tools and contents fit",
                                      plan.pg_target_display, plan.where, plan.pg->target_major, plan.pg->source_major));
  });
  check_postgresql_requirements(*plan.requirements.row, options, source, plan);
  if (!plan.pg) return;
  // At least two PostgreSQL servers: the target's streaming standbys.
  noted(plan, [&] {
    auto info = pg::ConnInfo::parse(*options.pg_target, "target");
    auto conn = pg::Connection::open(info, info.maintenance_db());
    auto r = conn.exec(
        "SELECT count(*) FILTER (WHERE state = 'streaming'), count(*) FILTER (WHERE state IS NULL), "
        "pg_catalog.pg_has_role('pg_monitor', 'USAGE') OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = "
        "current_user) FROM pg_catalog.pg_stat_replication");
    bool can_see = r.boolean(0, 2);
    int standbys = static_cast<int>(r.int64(0, 0));
    if (!can_see && standbys == 0) {
      plan.warnings.push_back({ExitCode::ok, "the target login cannot see replication (pg_monitor): at least two "
                               "PostgreSQL servers (a streaming standby) are advised, not checked", ""});
    } else {
      plan.pg_standbys = standbys;
      if (standbys >= 1) {
        plan.checks.push_back(fmt::format("the PostgreSQL target has {} streaming standby(s)", standbys));
      } else {
        // Accepted, it is said so, not suggested again.
        Finding f{ExitCode::cluster_mismatch,
                  "the PostgreSQL target has no streaming standby: at least two PostgreSQL servers are advised for "
                  "recovery and backups",
                  options.allow_single_server ? "accepted with --allow-single-server"
                                              : "add a standby, or accept a single server with --allow-single-server"};
        (options.allow_single_server ? plan.warnings : plan.blockers).push_back(std::move(f));
      }
    }
  }, "streaming standbys not checked: ");
  noted(plan, [&] {
    double rate = sample_postgresql(source, *options.pg_target);
    if (rate <= 0) return;
    sampled_rate(plan, rate);
    uint64_t tables = 0;
    for (const auto& d : plan.pg->databases) tables += d.tables;
    seconds += static_cast<double>(plan.pg->bytes) / rate + static_cast<double>(tables) * kSecondsPerTable;
  }, "PostgreSQL speed not sampled: ");
}

// `journal_on_target`: the copy keeps its journal there (in the cluster), which its login
// must be allowed to write too.
void check_mongodb_data_path(const PlanOptions& options, const std::string& source, bool journal_on_target, Plan& plan,
                             double& seconds) {
  auto copy = mongo_copy_options(options, source);
  copy.run.state_on_target = journal_on_target;
  noted(plan, [&] {
    plan.mongo = mongo::preflight_copy(copy);
    plan.checks.push_back(fmt::format("MongoDB target {} reached and logged into from decant{} (server {}, source {}; "
                                      "the login's privileges for the copy{}: {})",
                                      plan.mongo_target_display, plan.where, plan.mongo->target_version,
                                      plan.mongo->source_version, journal_on_target ? " and its journal" : "",
                                      plan.mongo->target_privileges));
  });
  check_mongodb_requirements(*plan.requirements.row, *options.mongo_target, plan);
  if (!plan.mongo) return;
  noted(plan, [&] {
    double rate = sample_mongodb(source, *plan.mongo);
    if (rate == 0) rate = plan.sample_bytes_per_second;  // too little to sample: PostgreSQL's path, if known
    if (rate <= 0) return;
    sampled_rate(plan, rate);
    seconds += static_cast<double>(plan.mongo->bytes) / rate;
  }, "MongoDB speed not sampled: ");
}


// The targets as plan's lines name them (no password).
void name_targets(const PlanOptions& options, Plan& plan) {
  if (options.pg_target) plan.pg_target_display = pg::ConnInfo::parse(*options.pg_target, "target").display();
  if (options.mongo_target) plan.mongo_target_display = mongo::Uri::parse(*options.mongo_target, "target").display();
}

void plan_postgresql(const k8s::Cluster& cluster, const PlanOptions& options, Plan& plan, double& seconds) {
  const auto& db = plan.release.postgresql;
  std::optional<k8s::PortForward> forward;
  if (!forward_source(cluster, db, "PostgreSQL", plan, forward)) return;
  check_postgresql_data_path(options, pg_source_conninfo("127.0.0.1", forward->local_port(), db), plan, seconds);
  probe_postgresql(cluster, db, *options.pg_target, plan.requirements.row->pg_tls_min, plan);
}

void plan_mongodb(const k8s::Cluster& cluster, const PlanOptions& options, Plan& plan, double& seconds) {
  const auto& db = plan.release.mongodb;
  std::optional<k8s::PortForward> forward;
  if (!forward_source(cluster, db, "MongoDB", plan, forward)) return;
  check_mongodb_data_path(options, mongo_source_uri("127.0.0.1", forward->local_port(), db), false, plan, seconds);
  probe_mongodb(cluster, db, *options.mongo_target, plan);
}

}  // namespace

pg::CopyOptions pg_copy_options(const PlanOptions& options, const std::string& source) {
  pg::CopyOptions copy;
  copy.source = source;
  copy.target = *options.pg_target;
  copy.clean = options.clean;
  copy.pg_bin = options.pg_bin;
  copy.extension_update = options.extension_update;
  return copy;
}

mongo::CopyOptions mongo_copy_options(const PlanOptions& options, const std::string& source) {
  mongo::CopyOptions copy;
  copy.source = source;
  copy.target = *options.mongo_target;
  if (!options.all_mongo_dbs) copy.databases = options.mongo_dbs;
  copy.drop = options.drop;
  return copy;
}

Sizing recommended_sizing(int users) {
  if (users < 50) return {"< 50", 8, 16, 100, 1};
  if (users < 250) return {"50-250", 8, 16, 200, 1};
  if (users < 1000) return {"250-1000", 8, 32, 500, 10};
  if (users < 5000) return {"1000-5000", 8, 32, 1000, 10};
  return {"5000+", 8, 32, 1000, 10};
}

}  // namespace decant::migrate

namespace decant::pg {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DatabaseSummary, name, bytes, tables, rows, extensions)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CopyPreflight, source_major, target_major, tools, databases, bytes)
}  // namespace decant::pg
namespace decant::mongo {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CollectionSummary, name, bytes, documents)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CopyPreflight, source_version, target_version, target_privileges,
                                                collections, bytes, documents)
}  // namespace decant::mongo

namespace decant::migrate {
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Finding, code, what, todo)

nlohmann::json probe_data_path(const PlanOptions& options, const std::string& chart,
                               const std::optional<std::string>& pg_source, const std::optional<std::string>& mongo_source) {
  Plan plan;
  plan.requirements = requirements_for_chart(chart);
  plan.where = " in the cluster";
  name_targets(options, plan);
  double pg_seconds = 0, mongo_seconds = 0;
  if (options.pg_target && pg_source) check_postgresql_data_path(options, *pg_source, plan, pg_seconds);
  if (options.mongo_target && mongo_source) check_mongodb_data_path(options, *mongo_source, true, plan, mongo_seconds);
  nlohmann::json out = {{"checks", plan.checks},       {"warnings", plan.warnings},
                        {"blockers", plan.blockers},   {"sample_bytes_per_second", plan.sample_bytes_per_second},
                        {"pg_seconds", pg_seconds},    {"mongo_seconds", mongo_seconds}};
  if (plan.pg) out["pg"] = *plan.pg;
  if (plan.mongo) out["mongo"] = *plan.mongo;
  if (plan.pg_standbys) out["pg_standbys"] = *plan.pg_standbys;
  return out;
}

namespace {

// The data path checked from where migrate's copies will run: a pod of decant's image in
// the namespace (the probe doubles as the image's own check: pull, admission, Pod Security,
// quota, its version). Its findings join the plan as if made here.
void probe_in_cluster(const k8s::Cluster& cluster, const PlanOptions& options, Plan& plan, double& pg_seconds,
                      double& mongo_seconds) {
  // As the local path does, a database whose source cannot be used is a blocker and the
  // other one is still checked.
  std::vector<std::string> args{"probe", "--chart", plan.release.chart};
  bool pg = options.pg_target && usable_source(plan.release.postgresql, "PostgreSQL", plan);
  bool mongo = options.mongo_target && usable_source(plan.release.mongodb, "MongoDB", plan);
  if (!pg && !mongo) return;
  PlanOptions probed = options;  // the Secret holds the connection strings of what is probed only
  if (!pg) probed.pg_target.reset();
  if (!mongo) probed.mongo_target.reset();
  if (pg) args.insert(args.end(), {"--pg-source", from_env(kPgSourceVariable), "--pg-target", from_env(kPgTargetVariable)});
  if (mongo) {
    args.insert(args.end(), {"--mongo-source", from_env(kMongoSourceVariable), "--mongo-target",
                             from_env(kMongoTargetVariable)});
    if (options.all_mongo_dbs) args.push_back("--all-mongo-dbs");
    for (const auto& db : options.mongo_dbs) args.insert(args.end(), {"--mongo-db", db});
  }
  if (options.allow_single_server) args.push_back("--allow-single-server");
  if (options.allow_unsupported_target) args.push_back("--allow-unsupported-target");
  if (options.clean) args.push_back("--clean");
  if (options.drop) args.push_back("--drop");
  for (const auto& e : options.extension_update) args.insert(args.end(), {"--extension-update", e});
  std::string found, last;
  std::map<std::string, int> codes;
  bool ran = noted(plan, [&] {
    k8s::DecantJob job(cluster, {kProbeJobName, "plan-probe", *options.image, options.image_pull_policy,
                                 data_path_variables(cluster, probed, plan.release), {{"probe", args}}, ""});
    codes = job.wait(
        [&](const std::string&, const std::string& line) {
          if (line.rfind(kProbePrefix, 0) == 0)
            found = line.substr(std::string_view(kProbePrefix).size());
          else if (!line.empty())
            last = line;
        },
        std::chrono::seconds(600));
  });
  if (!ran) return;
  int code = codes.count("probe") ? codes["probe"] : -1;
  if (code != 0 || found.empty()) {
    plan.blockers.push_back({code > 0 && code < 64 ? static_cast<ExitCode>(code) : ExitCode::cluster_failed,
                             fmt::format("decant's image {} did not check the data path from the cluster (exit code {}): {}",
                                         *options.image, code, last),
                             "see kubectl -n " + cluster.ns() + " describe pod -l job-name=" + kProbeJobName});
    return;
  }
  auto probe = nlohmann::json::parse(found);
  plan.checks.push_back(fmt::format("decant's image {} runs in the namespace {} and is decant {}", *options.image,
                                    cluster.ns(), kVersion));
  for (const auto& c : probe.at("checks")) plan.checks.push_back(c.get<std::string>());
  for (const auto& w : probe.at("warnings")) plan.warnings.push_back(w.get<Finding>());
  for (const auto& b : probe.at("blockers")) plan.blockers.push_back(b.get<Finding>());
  if (probe.contains("pg")) plan.pg = probe["pg"].get<pg::CopyPreflight>();
  if (probe.contains("mongo")) plan.mongo = probe["mongo"].get<mongo::CopyPreflight>();
  if (probe.contains("pg_standbys")) plan.pg_standbys = probe["pg_standbys"].get<int>();
  if (double rate = probe.value("sample_bytes_per_second", 0.0); rate > 0) sampled_rate(plan, rate);
  pg_seconds += probe.value("pg_seconds", 0.0);
  mongo_seconds += probe.value("mongo_seconds", 0.0);
}

}  // namespace

bool copies_in_cluster(const PlanOptions& options, bool required) {
  if (options.data_path == "local") return false;
  if (options.image) return true;
  if (options.data_path == "cluster" || required)
    throw Error(ExitCode::usage, "no --image: migrate copies inside the cluster, with decant's own image",
                fmt::format("give --image REGISTRY/decant:{} (the image of this decant), or --data-path local to copy "
                            "through this machine with kubectl port-forward",
                            kVersion));
  return false;
}

Plan make_plan(const PlanOptions& options) {
  if (!options.pg_target && !options.mongo_target)
    throw Error(ExitCode::usage, "nothing to plan: no --pg-target and no --mongo-target",
                "give the external PostgreSQL (--pg-target), the external MongoDB (--mongo-target), or both");
  // Malformed target URIs, or ones the release cannot be pointed at, are usage errors
  // before any cluster call.
  if (options.pg_target) pg::ConnInfo::parse(*options.pg_target, "target");
  if (options.mongo_target) mongo::Uri::parse(*options.mongo_target, "target");
  external_values(options.pg_target, options.mongo_target, "unused", false);
  k8s::Cluster cluster(options.cluster);
  cluster.check();
  Plan plan;
  name_targets(options, plan);
  plan.release = read_release(cluster, options.release, options.pg_target.has_value(), options.mongo_target.has_value());
  plan.requirements = requirements_for_chart(plan.release.chart);
  const auto& row = *plan.requirements.row;
  if (plan.requirements.known)
    plan.checks.push_back(fmt::format("CircleCI Server {} (chart {}) requires of its databases: {}", row.releases,
                                      plan.release.chart, row.summary()));
  else
    plan.warnings.push_back({ExitCode::ok,
                             fmt::format("decant does not know what the chart {} requires: the targets are checked "
                                         "against CircleCI Server {}'s requirements, the newest it knows ({})",
                                         plan.release.chart, row.releases, row.summary()),
                             ""});
  bool in_cluster = copies_in_cluster(options, false);
  bool granted = check_permissions(cluster, !in_cluster, in_cluster || options.data_path != "local", plan);
  if (in_cluster)
    plan.data_path = fmt::format("in the cluster: a Job of {} in the namespace {} copies both databases at once; no "
                                 "byte passes this machine",
                                 *options.image, cluster.ns());
  else if (options.data_path == "local")
    plan.data_path = "local (--data-path local): the copies run here, one after the other, reading the internal "
                     "databases through kubectl port-forward";
  else
    plan.warnings.push_back({ExitCode::ok, "no data path chosen: migrate copies in the cluster with decant's image",
                             fmt::format("give migrate --image REGISTRY/decant:{}, or --data-path local", kVersion)});
  double pg_seconds = 0, mongo_seconds = 0;
  if (in_cluster) {
    // Without its rights the probe pod cannot run: the blockers above say what is missing.
    if (granted) probe_in_cluster(cluster, options, plan, pg_seconds, mongo_seconds);
  } else {
    if (options.pg_target) plan_postgresql(cluster, options, plan, pg_seconds);
    if (options.mongo_target) plan_mongodb(cluster, options, plan, mongo_seconds);
  }
  // In the cluster the copies run at once: the longer one is the copy's time.
  double seconds = in_cluster ? std::max(pg_seconds, mongo_seconds) : pg_seconds + mongo_seconds;
  if (options.daily_active_users) {
    plan.sizing = recommended_sizing(*options.daily_active_users);
    uint64_t data = (plan.pg ? plan.pg->bytes : 0) + (plan.mongo ? plan.mongo->bytes : 0);
    if (data > static_cast<uint64_t>(plan.sizing->disk_gb) * (1ull << 30) / 2)
      plan.warnings.push_back({ExitCode::ok,
                               fmt::format("the data ({}) is over half the disk advised for {} daily active users ({} GB)",
                                           size_text(data), plan.sizing->users, plan.sizing->disk_gb),
                               "give the external servers more disk than advised"});
  }
  plan.estimated_copy_seconds = seconds;
  noted(plan, [&] {
    if (auto measured = Application(cluster, 0).start_seconds()) {
      plan.restart_seconds = *measured;
      plan.restart_measured = true;
    }
  }, "the application's start time not measured: ");
  if (!plan.restart_measured) plan.restart_seconds = kDefaultRestartSeconds;
  plan.estimated_downtime_seconds = seconds + kScaleAndHelmSeconds + plan.restart_seconds;
  return plan;
}

int plan_exit_code(const Plan& plan) { return plan.blockers.empty() ? 0 : static_cast<int>(plan.blockers.front().code); }

void print_plan(const Plan& plan) {
  const auto& r = plan.release;
  fmt::print("release {} (chart {}, revision {}, {})\n", r.name, r.chart, r.revision, r.status);
  if (plan.requirements.row)
    fmt::print("requirements of CircleCI Server {}{}: {}\n", plan.requirements.row->releases,
               plan.requirements.known ? "" : " (the newest decant knows)", plan.requirements.row->summary());
  int replicas = 0;
  std::vector<std::string> apps;
  for (const auto& a : r.apps) {
    replicas += a.replicas;
    apps.push_back(fmt::format("{} {}/{}", a.name, a.ready, a.replicas));
  }
  fmt::print("application layer: {} deployments, {} replicas: {}\n", r.apps.size(), replicas, fmt::join(apps, ", "));
  for (const auto* db : {&r.postgresql, &r.mongodb}) {
    if (!db->internal)
      fmt::print("{}: external ({})\n", db->kind, db->external);
    else
      fmt::print("{}: internal, StatefulSet {} {}{}\n", db->kind, db->kind, db->running ? "ready" : "not ready",
                 db->secret.empty() ? "" : fmt::format("; password in Secret {} key {}", db->secret, db->key));
  }
  if (plan.pg) {
    fmt::print("PostgreSQL {} source -> PostgreSQL {} target {}: {} database(s), {}\n", plan.pg->source_major,
               plan.pg->target_major, plan.pg_target_display, plan.pg->databases.size(), size_text(plan.pg->bytes));
    for (const auto& d : plan.pg->databases)
      fmt::print("  {:<24} {:>10}  {} tables  ~{} rows\n", d.name, size_text(d.bytes), d.tables, d.rows);
  }
  if (plan.mongo) {
    fmt::print("MongoDB {} source -> {} target {}: {} collection(s), {} documents, {}\n", plan.mongo->source_version,
               plan.mongo->target_version, plan.mongo_target_display, plan.mongo->collections.size(),
               plan.mongo->documents, size_text(plan.mongo->bytes));
  }
  if (plan.sizing)
    fmt::print("advised for {} daily active users: {} cores, {} GB RAM, {} GB disk, {} Gbps per server (CPU, RAM and "
               "NIC are not visible through the databases: check them on the servers)\n",
               plan.sizing->users, plan.sizing->cores, plan.sizing->ram_gb, plan.sizing->disk_gb, plan.sizing->nic_gbps);
  if (plan.sample_bytes_per_second > 0)
    fmt::print("estimated downtime: {:.0f} s (copy {:.0f} s: the data at {}/s as sampled, {:.0f} ms a table; "
               "about {:.0f} s to scale down and upgrade; {:.0f} s for the pods to be ready again, {})\n",
               plan.estimated_downtime_seconds, plan.estimated_copy_seconds,
               size_text(static_cast<uint64_t>(plan.sample_bytes_per_second)), kSecondsPerTable * 1000,
               kScaleAndHelmSeconds, plan.restart_seconds,
               plan.restart_measured ? "as their last start took" : "not measured: no ready pod said");
  if (!plan.data_path.empty()) fmt::print("data path: {}\n", plan.data_path);
  for (const auto& c : plan.checks) fmt::print("ok: {}\n", c);
  for (const auto& w : plan.warnings) fmt::print("warning: {}{}\n", w.what, w.todo.empty() ? "" : "; " + w.todo);
  for (const auto& b : plan.blockers) fmt::print("blocker: {}; {}\n", b.what, b.todo);
  if (plan.blockers.empty())
    fmt::print("ready: nothing blocks `decant migrate`\n");
  else
    fmt::print("not ready: {} blocker(s)\n", plan.blockers.size());
}

nlohmann::json plan_json(const Plan& plan) {
  using nlohmann::json;
  const auto& r = plan.release;
  json out;
  out["release"] = {{"name", r.name}, {"chart", r.chart}, {"revision", r.revision}, {"status", r.status},
                    {"app_version", r.app_version}, {"values", redacted(r.user_values)}};
  if (plan.requirements.row) {
    const auto& row = *plan.requirements.row;
    out["requirements"] = {{"releases", row.releases},
                           {"chart_version", plan.requirements.version},
                           {"known", plan.requirements.known},
                           {"postgresql_majors", row.pg_majors_text()},
                           {"postgresql_tls_min", row.pg_tls_min},
                           {"pg_partman_series", row.partman_series},
                           {"mongodb_min", row.mongo_min.text()},
                           {"mongodb_documented", row.mongo_documented.text()},
                           {"source", row.source}};
  }
  if (!plan.data_path.empty()) out["data_path"] = plan.data_path;
  out["applications"] = json::array();
  for (const auto& a : r.apps) out["applications"].push_back({{"name", a.name}, {"replicas", a.replicas}, {"ready", a.ready}});
  for (const auto* db : {&r.postgresql, &r.mongodb}) {
    json d = {{"internal", db->internal}, {"running", db->running}, {"pod", db->pod}, {"port", db->port}};
    if (!db->secret.empty()) d["credentials"] = {{"secret", db->secret}, {"key", db->key}, {"user", db->user}};
    if (!db->internal) d["external"] = db->external;
    out[db->kind] = d;
  }
  if (plan.pg) {
    json dbs = json::array();
    for (const auto& d : plan.pg->databases)
      dbs.push_back({{"name", d.name}, {"bytes", d.bytes}, {"tables", d.tables}, {"rows_estimate", d.rows}});
    out["postgresql"]["copy"] = {{"source_major", plan.pg->source_major}, {"target_major", plan.pg->target_major},
                                 {"target", plan.pg_target_display}, {"tools", plan.pg->tools},
                                 {"bytes", plan.pg->bytes}, {"databases", dbs}};
    if (plan.pg_standbys) out["postgresql"]["copy"]["target_standbys"] = *plan.pg_standbys;
  }
  if (plan.mongo) {
    json colls = json::array();
    for (const auto& c : plan.mongo->collections)
      colls.push_back({{"name", c.name}, {"bytes", c.bytes}, {"documents", c.documents}});
    out["mongodb"]["copy"] = {{"source_version", plan.mongo->source_version},
                              {"target_version", plan.mongo->target_version},
                              {"target", plan.mongo_target_display}, {"bytes", plan.mongo->bytes},
                              {"documents", plan.mongo->documents}, {"collections", colls}};
  }
  if (plan.sizing)
    out["sizing"] = {{"daily_active_users", plan.sizing->users}, {"cores", plan.sizing->cores},
                     {"ram_gb", plan.sizing->ram_gb}, {"disk_gb", plan.sizing->disk_gb},
                     {"nic_gbps", plan.sizing->nic_gbps}};
  out["estimate"] = {{"sample_bytes_per_second", plan.sample_bytes_per_second},
                     {"copy_seconds", plan.estimated_copy_seconds},
                     {"restart_seconds", plan.restart_seconds},
                     {"restart_measured", plan.restart_measured},
                     {"downtime_seconds", plan.estimated_downtime_seconds}};
  out["checks"] = plan.checks;
  auto findings = [](const std::vector<Finding>& list) {
    json a = json::array();
    for (const auto& f : list)
      a.push_back({{"exit_code", static_cast<int>(f.code)}, {"kind", std::string(exit_code_name(f.code))},
                   {"what", f.what}, {"todo", f.todo}});
    return a;
  };
  out["blockers"] = findings(plan.blockers);
  out["warnings"] = findings(plan.warnings);
  out["ready"] = plan.blockers.empty();
  return out;
}

}  // namespace decant::migrate
