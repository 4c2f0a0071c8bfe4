#include "migrate/migration.hpp"

#include <fmt/format.h>
#include <mongoc/mongoc.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <tuple>
#include <thread>

#include "common/log.hpp"
#include "io/files.hpp"
#include "process/run_context.hpp"
#include "engine/progress.hpp"
#include "engine/resume_state.hpp"
#include "engine/run_frame.hpp"
#include "k8s/port_forward.hpp"
#include "migrate/application.hpp"
#include "migrate/in_cluster_copy.hpp"
#include "migrate/requirements.hpp"
#include "mongo/client.hpp"
#include "pg/conninfo.hpp"

namespace decant::migrate {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kRecordName = "decant-migrate";
// The copies' own journals, in migrate's state directory.
constexpr const char* kPgCopyJournal = "pg-copy";
constexpr const char* kMongoCopyJournal = "mongo-copy";


double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What migrate changes, recorded before it changes anything: enough to put it back.
struct Record {
  std::string release;
  int revision = 0;
  std::map<std::string, int> replicas;  // deployment -> spec.replicas
};

json record_json(const Record& r) { return {{"release", r.release}, {"revision", r.revision}, {"replicas", r.replicas}}; }

Record record_from(const json& j) {
  Record r;
  r.release = j.at("release").get<std::string>();
  r.revision = j.at("revision").get<int>();
  r.replicas = j.at("replicas").get<std::map<std::string, int>>();
  return r;
}

std::string shell_words(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    bool plain = !a.empty() && a.find_first_of(" \t'\"$&|;<>()*?[]{}\\`!#~") == std::string::npos;
    out += (out.empty() ? "" : " ") + (plain ? a : "'" + a + "'");
  }
  return out;
}

constexpr const char* kWriteHint = "free space or fix permissions, then run with --resume";

// For the tests of --resume and --rollback after a SIGKILL at each phase boundary:
// DECANT_TEST_KILL_AFTER=PHASE kills the process right after PHASE is journalled.
void kill_point(const std::string& phase_name) {
  const char* at = std::getenv("DECANT_TEST_KILL_AFTER");
  if (at && phase_name == at) ::raise(SIGKILL);
}

class Migration {
 public:
  explicit Migration(const MigrateOptions& options)
      : o_(options), cluster_(options.plan.cluster), application_(cluster_, options.wait_seconds) {}
  // Checks the options, reads the release: the run's ends and what its journal belongs to.
  engine::Endpoints open();
  int run(engine::RunFrame& frame);

 private:
  int rollback();
  int migrate();
  engine::ResumeState& state() { return frame_->state(); }
  void phase(const std::string& name, const std::function<void()>& body);
  void backup_before();
  void record();
  void scale_down();
  // What the copy phase does for each database the run moves.
  struct CopyPhase {
    const char* phase;       // its name in the journal
    const char* label;       // "PostgreSQL"
    const char* state_name;  // its copy's journal, in migrate's state directory
    const InternalDatabase& db;
    std::function<int(int local_port, const fs::path& state_dir, bool resume)> copy;
  };
  std::vector<CopyPhase> copy_phases();
  void copy_database(const CopyPhase& c);
  void forget_copies();
  void forget_copy_journals();
  std::string copy_run_id();
  void write_secret();
  fs::path write_values();
  std::vector<std::string> upgrade_args(const fs::path& overlay) const;
  void check_upgrade(const fs::path& overlay);
  bool upgrade(const fs::path& overlay);
  void check_points_external();
  void save_record_configmap(const std::string& phase_name);
  std::optional<Record> read_record_configmap();
  void print_dry_run(const fs::path& overlay);
  void fill_report();
  void keep_copy_report(const std::string& name, const json& report);
  json values_overlay() const;

  const MigrateOptions& o_;
  k8s::Cluster cluster_;
  Application application_;
  ReleaseState release_;
  Record record_;
  engine::RunFrame* frame_ = nullptr;
  json phases_ = json::array();
  json warnings_ = json::array();  // the preflight's, accepted (--allow-*)
  int revision_after_ = 0;
  std::optional<double> downtime_;  // once the application is back
  bool in_cluster_ = false;          // the copies run as a Job of --image
  std::mutex copies_mutex_;          // (a copy's report may come from the signal watcher)
  json copies_ = json::object();     // each copy's own report, by database: "postgresql"
};

engine::Endpoints Migration::open() {
  if (!o_.rollback) {
    if (!o_.plan.pg_target && !o_.plan.mongo_target)
      throw Error(ExitCode::usage, "nothing to migrate: no --pg-target and no --mongo-target",
                  "give the external PostgreSQL (--pg-target), the external MongoDB (--mongo-target), or both");
    in_cluster_ = copies_in_cluster(o_.plan, true);
    if (o_.plan.pg_target && !pg::ConnInfo::parse(*o_.plan.pg_target, "target").password())
      throw Error(ExitCode::usage, "the --pg-target URI has no password, which the application will need",
                  "put the target login's password in the URI (it goes into a Secret, never into files or logs)");
  }
  // Tools and the namespace first: "no release in the namespace" must not stand for a
  // namespace that does not exist.
  cluster_.check();
  bool checks = !o_.rollback;
  release_ = read_release(cluster_, o_.plan.release, checks && o_.plan.pg_target.has_value(),
                          checks && o_.plan.mongo_target.has_value());
  std::vector<std::string> targets;
  if (o_.plan.pg_target) targets.push_back("PostgreSQL " + pg::ConnInfo::parse(*o_.plan.pg_target, "target").display());
  if (o_.plan.mongo_target) targets.push_back("MongoDB " + mongo::Uri::parse(*o_.plan.mongo_target, "target").display());
  std::string context = o_.plan.cluster.context.value_or("(current context)");
  return {fmt::format("release {} in {}/{}", release_.name, context, cluster_.ns()), fmt::format("{}", fmt::join(targets, ", ")),
          fmt::format("{}/{}/{}", context, cluster_.ns(), release_.name)};
}

// A phase runs once: a resumed run skips what the journal says is done.
void Migration::phase(const std::string& name, const std::function<void()>& body) {
  if (state().done(name)) {
    log::info("{}: done by the interrupted run", name);
    return;
  }
  throw_if_interrupted();
  auto started = Clock::now();
  body();
  double seconds = engine::seconds_since(started);
  phases_.push_back({{"phase", name}, {"seconds", seconds}});
  state().mark_done(name, {{"seconds", seconds}, {"at", wall_now()}});
  log::info("{}: done in {:.1f}s", name, seconds);
  kill_point(name);
}

void Migration::save_record_configmap(const std::string& phase_name) {
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", kRecordName}, {"labels", {{"app.kubernetes.io/managed-by", "decant"}}}}},
             {"data", {{"record", record_json(record_).dump()}, {"phase", phase_name}}}};
  cluster_.apply(cm.dump());
}

std::optional<Record> Migration::read_record_configmap() {
  try {
    auto cm = cluster_.kubectl_json({"get", "configmap", kRecordName});
    return record_from(json::parse(cm.at("data").at("record").get<std::string>()));
  } catch (const Error& e) {
    if (e.code() != ExitCode::cluster_mismatch) throw;
    return std::nullopt;
  }
}

void Migration::record() {
  record_.release = release_.name;
  record_.revision = release_.revision;
  for (const auto& a : release_.apps) record_.replicas[a.name] = a.replicas;
  save_record_configmap("recorded");
  state().mark_done("recorded", record_json(record_));
}

void Migration::scale_down() {
  state().mark_done("down-at", wall_now());
  application_.scale_to_zero();
}

std::vector<Migration::CopyPhase> Migration::copy_phases() {
  std::vector<CopyPhase> phases;
  auto with_run = [this](auto copy, const char* name, const InternalDatabase& db, const fs::path& dir, bool resume) {
    copy.run = o_.run;
    copy.run.report_path.reset();
    copy.run.on_report = [this, name](const json& report) { keep_copy_report(name, report); };
    // The source by its pod, not by the forward's local port, which a resumed run picks anew.
    copy.run.source_name = fmt::format("pod {} in the namespace {}", db.pod, cluster_.ns());
    copy.run.state_dir = dir.string();
    copy.run.resume = resume;
    return copy;
  };
  if (o_.plan.pg_target)
    phases.push_back({"postgresql-copy", "PostgreSQL", kPgCopyJournal, release_.postgresql,
                      [this, with_run](int port, const fs::path& dir, bool resume) {
                        return pg::copy_instance(
                            with_run(pg_copy_options(o_.plan, pg_source_conninfo("127.0.0.1", port, release_.postgresql)),
                                     kPgCopyName, release_.postgresql, dir, resume));
                      }});
  if (o_.plan.mongo_target)
    phases.push_back({"mongodb-copy", "MongoDB", kMongoCopyJournal, release_.mongodb,
                      [this, with_run](int port, const fs::path& dir, bool resume) {
                        return mongo::copy_instance(
                            with_run(mongo_copy_options(o_.plan, mongo_source_uri("127.0.0.1", port, release_.mongodb)),
                                     kMongoCopyName, release_.mongodb, dir, resume));
                      }});
  return phases;
}

// The internal database forwarded to a local port, copied with its own journal inside
// migrate's: a resumed migrate resumes the copy.
void Migration::copy_database(const CopyPhase& c) {
  k8s::PortForward forward(cluster_, c.db.pod, c.db.port);
  fs::path dir = state().dir() / c.state_name;
  if (int rc = c.copy(forward.local_port(), dir, fs::exists(dir / "journal")); rc != 0)
    throw Error(static_cast<ExitCode>(rc), fmt::format("the {} copy did not verify", c.label), "see the summary above");
}

// The name of this migration's in-cluster copies (their journals on the targets and the
// Job's label), kept in migrate's journal: a resumed migration continues the same run.
std::string Migration::copy_run_id() {
  if (auto recorded = state().get("copy-run")) return recorded->get<std::string>();
  std::random_device random;
  std::string id = fmt::format("{:08x}{:08x}", random(), random());
  state().mark_done("copy-run", id);
  return id;
}

// The in-cluster copies' journals on the targets (one line each, "complete") dropped, after
// the downtime: the migration has succeeded whatever this does, so a failure is said with
// what to do by hand, never an error of the run.
void Migration::forget_copy_journals() {
  try {
    forget_copies_in_cluster({cluster_, o_.plan, release_, o_.run, std::chrono::minutes(10), copy_run_id(), {}});
    log::info("the copies' journals (database decant_state) were dropped from the targets");
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted) throw;
    std::string what = fmt::format("the copies' journals stay on the targets: {}", e.one_line());
    log::warn("{}; drop them by hand: DROP DATABASE decant_state (PostgreSQL), "
              "db.getSiblingDB(\"decant_state\").dropDatabase() (MongoDB)",
              what);
    warnings_.push_back(what);
  }
}

// What the copies of an earlier run journalled, forgotten.
void Migration::forget_copies() {
  std::error_code ec;
  for (const char* name : {kPgCopyJournal, kMongoCopyJournal}) fs::remove_all(state().dir() / name, ec);
}

// The internal databases as they are, into the backup repository, before anything
// changes: what the operator restores should the upgrade go wrong in a way --rollback
// cannot mend. Not a journaled phase: a rerun takes a new backup.
void Migration::backup_before() {
  backup::CreateOptions create = o_.backup;
  create.reason = "pre-upgrade";
  std::optional<k8s::PortForward> pg_forward, mongo_forward;
  if (o_.plan.pg_target) {
    pg_forward.emplace(cluster_, release_.postgresql.pod, release_.postgresql.port);
    create.pg = pg_source_conninfo("127.0.0.1", pg_forward->local_port(), release_.postgresql);
  }
  if (o_.plan.mongo_target) {
    mongo_forward.emplace(cluster_, release_.mongodb.pod, release_.mongodb.port);
    create.mongo = mongo_source_uri("127.0.0.1", mongo_forward->local_port(), release_.mongodb);
    if (!o_.plan.all_mongo_dbs) create.mongo_databases = o_.plan.mongo_dbs;
  }
  auto started = std::chrono::steady_clock::now();
  log::info("taking a pre-upgrade backup into {} before anything is changed", o_.backup.repo.url);
  if (int rc = backup::create(create); rc != 0)
    throw Error(static_cast<ExitCode>(rc), "the pre-upgrade backup failed; nothing was changed", "see above");
  phases_.push_back({{"phase", "pre-upgrade-backup"}, {"seconds", engine::seconds_since(started)}});
}


// The external credentials, for the release's existingSecret. Applied server-side and
// fed on stdin: no password in argv, nor in a last-applied annotation.
void Migration::write_secret() {
  json data = json::object();
  if (o_.plan.pg_target) {
    auto info = pg::ConnInfo::parse(*o_.plan.pg_target, "target");
    data["postgres-password"] = info.password().value_or("");
    data["postgresql-password"] = info.password().value_or("");
  }
  if (o_.plan.mongo_target) {
    auto uri = mongo::Uri::parse(*o_.plan.mongo_target, "target");
    const char* password = mongoc_uri_get_password(uri.get());
    data["mongodb-passwords"] = password ? password : "";
    data["mongodb-root-password"] = password ? password : "";
  }
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"type", "Opaque"},
                 {"metadata", {{"name", o_.secret_name}, {"labels", {{"app.kubernetes.io/managed-by", "decant"}}}}},
                 {"stringData", data}};
  cluster_.apply(secret.dump());
}

fs::path Migration::write_values() {
  fs::path path = o_.values_out ? fs::path(*o_.values_out) : state().dir() / "values-external.yaml";
  // JSON is YAML: helm reads it as a values file.
  replace_file(path, values_overlay().dump(2) + "\n",
               kWriteHint);
  return path;
}

std::vector<std::string> Migration::upgrade_args(const fs::path& overlay) const {
  return {"upgrade", release_.name, o_.chart.value_or("CHART"), "--reuse-values", "--values", overlay.string(),
          "--wait", "--timeout", std::to_string(o_.wait_seconds) + "s"};
}

// The upgrade tried against the API server first (templates, schema, admission): a chart
// that cannot be applied is found while the application can still be scaled back up.
void Migration::check_upgrade(const fs::path& overlay) {
  if (!o_.chart) return;
  auto args = upgrade_args(overlay);
  args.push_back("--dry-run=server");
  cluster_.helm(args, std::chrono::seconds(o_.wait_seconds + 60));
}

bool Migration::upgrade(const fs::path& overlay) {
  // An upgrade the operator ran by hand (after a run without --chart) counts.
  auto now = read_release(cluster_, release_.name, false, false);
  if (now.revision > record_.revision) {
    revision_after_ = now.revision;
    return true;
  }
  auto args = upgrade_args(overlay);
  if (!o_.chart) {
    fmt::print("\nThe data is copied and verified; the application stays scaled to zero. Upgrade the release with its "
               "chart:\n  {}\nthen run `decant migrate --resume` (same options) to check and finish, or "
               "`decant migrate --rollback`.\n",
               shell_words(cluster_.helm_argv(args)));
    return false;
  }
  log::info("helm upgrade {} {} --reuse-values --values {}", release_.name, *o_.chart, overlay.string());
  try {
    cluster_.helm(args, std::chrono::seconds(o_.wait_seconds + 60));
  } catch (const Error& e) {
    // Past this point the release has changed: the operator decides, nothing is undone here.
    auto after = read_release(cluster_, release_.name, false, false);
    if (after.revision <= record_.revision) throw;
    save_record_configmap("helm upgrade failed");
    throw Error(ExitCode::cluster_failed,
                fmt::format("helm upgrade of {} was applied (revision {}) but did not succeed: {}; the application "
                            "is still down",
                            release_.name, after.revision, e.what()),
                "`decant migrate --rollback` puts the release and the application back as recorded; or fix the "
                "cause (kubectl -n " + cluster_.ns() + " get pods) and run `decant migrate --resume`");
  }
  revision_after_ = read_release(cluster_, release_.name, false, false).revision;
  return true;
}

// The running release, not the overlay, says where the application now goes.
void Migration::check_points_external() {
  auto values = cluster_.helm_json({"get", "values", release_.name, "--all"});
  auto expected = values_overlay();
  std::vector<std::string> differ;
  std::function<void(const json&, const std::string&)> walk = [&](const json& want, const std::string& path) {
    for (const auto& [key, value] : want.items()) {
      std::string at = path.empty() ? key : path + "." + key;
      if (value.is_object()) {
        walk(value, at);
        continue;
      }
      const json* got = value_at(values, at);
      if (!got || *got != value) differ.push_back(fmt::format("{} is {} (expected {})", at, got ? got->dump() : "unset", value.dump()));
    }
  };
  walk(expected, "");
  if (!differ.empty())
    throw Error(ExitCode::verify_failed,
                fmt::format("the release does not point at the external servers: {}", fmt::join(differ, "; ")),
                "check the chart's values (helm get values " + release_.name + " --all), then --resume or --rollback");
}

void Migration::print_dry_run(const fs::path& overlay_path) {
  std::vector<std::vector<std::string>> commands;
  commands.push_back(cluster_.kubectl_argv({"apply", "--server-side", "-f", "-", "# ConfigMap " + std::string(kRecordName) +
                                            ": revision " + std::to_string(release_.revision) + " and replica counts"}));
  commands.push_back(cluster_.kubectl_argv({"scale", "deployment", "--selector=layer=application", "--replicas=0"}));
  if (in_cluster_)
    for (const auto& [wanted, container, what] :
         {std::tuple{o_.plan.pg_target.has_value(), "postgresql", "decant pg copy"},
          std::tuple{o_.plan.mongo_target.has_value(), "mongodb", "decant mongo copy"}}) {
      if (!wanted) continue;
      std::string job = copy_job_name(container);
      commands.push_back(cluster_.kubectl_argv({"apply", "--server-side", "-f", "-", "# Secret " + job +
                                                ": the source's and target's connection strings <redacted>"}));
      commands.push_back(cluster_.kubectl_argv({"create", "-f", "-", "# Job " + job + " of " + *o_.plan.image + ": " +
                                                what + ", beside the other database's"}));
    }
  if (o_.plan.pg_target && !in_cluster_) {
    commands.push_back(cluster_.kubectl_argv({"port-forward", "--address=127.0.0.1", "pod/" + release_.postgresql.pod,
                                              ":" + std::to_string(release_.postgresql.port)}));
    commands.push_back({"decant", "pg", "copy", "--source", "host=127.0.0.1 port=FORWARDED user=postgres",
                        "--target", pg::ConnInfo::parse(*o_.plan.pg_target, "target").display()});
  }
  if (o_.plan.mongo_target && !in_cluster_) {
    commands.push_back(cluster_.kubectl_argv({"port-forward", "--address=127.0.0.1", "pod/" + release_.mongodb.pod,
                                              ":" + std::to_string(release_.mongodb.port)}));
    commands.push_back({"decant", "mongo", "copy", "--source", "mongodb://root:<redacted>@127.0.0.1:FORWARDED/",
                        "--target", mongo::Uri::parse(*o_.plan.mongo_target, "target").display()});
  }
  commands.push_back(cluster_.kubectl_argv({"apply", "--server-side", "-f", "-", "# Secret " + o_.secret_name +
                                            " with the external passwords <redacted>"}));
  auto up = upgrade_args(overlay_path);
  auto dry = up;
  dry.push_back("--dry-run=server");
  commands.push_back(cluster_.helm_argv(dry));
  commands.push_back(cluster_.helm_argv(up));
  if (!o_.backup.repo.url.empty())
    commands.insert(commands.begin(), {"decant", "backup", "create", "--repo", o_.backup.repo.url, "--reason", "pre-upgrade",
                                       "--pg", "(forwarded)", "--mongo", "(forwarded)"});
  fmt::print("decant migrate would run (nothing was changed):\n");
  for (const auto& c : commands) fmt::print("  {}\n", shell_words(c));
  fmt::print("values overlay ({}):\n{}\n", overlay_path.string(), values_overlay().dump(2));
}

// The values overlay, with what the release's chart needs for TLS to PostgreSQL.
json Migration::values_overlay() const {
  return external_values(o_.plan.pg_target, o_.plan.mongo_target, o_.secret_name,
                         o_.plan.pg_target && requirements_for_chart(release_.chart).row->chart_has_secure_mode);
}

// A copy's own report (its tables or collections, their digests), under migrate's: the same
// whether the copy ran here or in a Job's pod.
void Migration::keep_copy_report(const std::string& name, const json& report) {
  std::lock_guard lock(copies_mutex_);
  copies_[name] = report;
  // At once, not when migrate ends: a second signal's report has it too.
  frame_->report().set_detail("copies", copies_);
}

// The report's fields of migrate's own, whatever the outcome.
void Migration::fill_report() {
  auto& report = frame_->report();
  report.set_detail("release", release_.name);
  report.set_detail("namespace", cluster_.ns());
  report.set_detail("revision_before", record_.revision);
  report.set_detail("phases", phases_);
  report.set_detail("warnings", warnings_);
  if (o_.dry_run) report.set_detail("dry_run", true);
  if (revision_after_) report.set_detail("revision_after", revision_after_);
  if (downtime_) report.set_detail("downtime_seconds", *downtime_);
}

int Migration::rollback() {
  auto recorded = read_record_configmap();
  if (!recorded && state().exists()) {
    state().load();
    if (auto r = state().get("recorded")) recorded = record_from(*r);
  }
  if (!recorded)
    throw Error(ExitCode::nothing_to_resume,
                "no recorded migration of the release " + release_.name + " in the namespace " + cluster_.ns(),
                "nothing to roll back: decant migrate records the release before it changes anything");
  record_ = *recorded;
  if (release_.revision > record_.revision) {
    log::info("helm rollback {} {}", release_.name, record_.revision);
    cluster_.helm({"rollback", release_.name, std::to_string(record_.revision), "--wait", "--timeout",
                   std::to_string(o_.wait_seconds) + "s"},
                  std::chrono::seconds(o_.wait_seconds + 60));
  }
  stop_copies_in_cluster(cluster_);  // copies a lost CLI left running write no more
  application_.scale_back(record_.replicas);
  application_.wait_ready(record_.replicas);
  cluster_.kubectl({"delete", "secret", o_.secret_name, "--ignore-not-found"});
  cluster_.kubectl({"delete", "configmap", kRecordName, "--ignore-not-found"});
  if (state().exists()) state().remove();
  forget_copies();
  int revision = read_release(cluster_, release_.name, false, false).revision;
  fmt::print("rolled back: the release {} has revision {}'s values again (now revision {}), {} deployment(s) at their "
             "recorded replicas, the Secret {} removed. The external targets were left as they are.\n",
             release_.name, record_.revision, revision, record_.replicas.size(), o_.secret_name);
  return 0;
}

int Migration::run(engine::RunFrame& frame) {
  frame_ = &frame;
  if (o_.rollback) return rollback();
  struct FillReport {
    Migration& m;
    ~FillReport() { m.fill_report(); }
  } fill{*this};
  return migrate();
}

int Migration::migrate() {
  if (o_.run.resume) {
    auto r = state().get("recorded");
    if (!r)
      throw Error(ExitCode::nothing_to_resume, "the interrupted migration had recorded nothing",
                  "run decant migrate without --resume");
    record_ = record_from(*r);
  } else {
    if (state().exists())
      throw Error(ExitCode::usage, "an interrupted migration of the release " + release_.name + " is recorded in " +
                                       state().dir().string(),
                  "finish it with --resume, or undo it with --rollback");
    auto plan = make_plan(o_.plan);
    for (const auto& w : plan.warnings) {
      log::warn("{}", w.what);
      warnings_.push_back(w.what + (w.todo.empty() ? "" : "; " + w.todo));
    }
    if (!plan.blockers.empty()) {
      for (const auto& b : plan.blockers) log::warn("blocker: {}; {}", b.what, b.todo);
      const auto& first = plan.blockers.front();
      throw Error(first.code,
                  fmt::format("the preflight found {} blocker(s), first: {}; nothing was changed", plan.blockers.size(),
                              first.what),
                  first.todo);
    }
    log::info("preflight passed: {} check(s); estimated downtime {:.0f} s", plan.checks.size(),
              plan.estimated_downtime_seconds);
    if (o_.dry_run) {
      print_dry_run(o_.values_out ? fs::path(*o_.values_out) : fs::path("values-external.yaml"));
      return 0;
    }
    if (!o_.backup.repo.url.empty()) backup_before();
    frame_->start_writing();
    forget_copies();
  }
  phase("record", [&] { record(); });
  // Until the upgrade, a failure puts the application back up by itself.
  try {
    phase("scale-down", [&] { scale_down(); });
    if (in_cluster_)
      phase("copy-in-cluster", [&] {
        copy_in_cluster({cluster_, o_.plan, release_, o_.run, std::chrono::hours(24), copy_run_id(),
                         [this](const std::string& container, const json& report) { keep_copy_report(container, report); }});
      });
    else
      for (const auto& c : copy_phases()) phase(c.phase, [&] { copy_database(c); });
    phase("secret", [&] { write_secret(); });
    if (!state().done("upgrade")) check_upgrade(write_values());
  } catch (const CopyGoesOnInCluster&) {
    throw;  // nothing here can scale the application back up, and the copies go on
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted || !o_.auto_rollback) throw;
    log::warn("{}", e.one_line());
    log::warn("the migration failed before the upgrade: scaling the application back up (--no-auto-rollback keeps "
              "it down)");
    application_.scale_back(record_.replicas);
    application_.wait_ready(record_.replicas);
    cluster_.kubectl({"delete", "configmap", kRecordName, "--ignore-not-found"});
    cluster_.kubectl({"delete", "secret", o_.secret_name, "--ignore-not-found"});
    state().remove();
    throw Error(e.code(), std::string(e.what()) + "; the application was scaled back up",
                e.hint() + (e.hint().empty() ? "" : "; ") +
                    "run decant migrate again once fixed (with --clean/--drop for what was copied)");
  }
  fs::path overlay = write_values();
  if (!state().done("upgrade")) {
    auto up_started = Clock::now();
    if (!upgrade(overlay)) {
      save_record_configmap("waiting for helm upgrade");
      return 0;
    }
    phases_.push_back({{"phase", "upgrade"}, {"seconds", engine::seconds_since(up_started)}});
    state().mark_done("upgrade", {{"revision", revision_after_}});
    save_record_configmap("upgraded");
    kill_point("upgrade");
  } else {
    revision_after_ = state().get("upgrade")->value("revision", 0);
  }
  phase("ready", [&] {
    application_.wait_ready(record_.replicas);
    check_points_external();
  });
  if (in_cluster_) phase("forget-copies", [&] { forget_copy_journals(); });
  save_record_configmap("done");
  double downtime = 0;
  if (auto down = state().get("down-at")) downtime = state().get("ready")->at("at").get<double>() - down->get<double>();
  downtime_ = downtime;
  fmt::print("\nmigrated and verified in {}: the release {} (revision {} -> {}) now points at{}{}; downtime {}.\n"
             "The internal databases were only read. `decant migrate --rollback` puts the release back as recorded.\n",
             engine::human_duration(frame_->seconds()), release_.name, record_.revision, revision_after_,
             o_.plan.pg_target ? " PostgreSQL " + pg::ConnInfo::parse(*o_.plan.pg_target, "target").display() : "",
             o_.plan.mongo_target ? " MongoDB " + mongo::Uri::parse(*o_.plan.mongo_target, "target").display() : "",
             engine::human_duration(downtime));
  state().remove();
  return 0;
}

}  // namespace

int migrate(const MigrateOptions& options) {
  Migration migration(options);
  return engine::run_in_frame({"migrate", "migrate", "the same --namespace, --release and --context", options.run},
                              migration);
}

}  // namespace decant::migrate
