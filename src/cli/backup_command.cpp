#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "backup/backup.hpp"
#include "backup/schedule.hpp"
#include "cli/commands.hpp"
#include "common/error.hpp"

namespace decant::cli {

// Every command that opens a repository: an S3 store refuses, fails or cannot be reached,
// a directory cannot be used, an index entry is damaged; and a stop while it waits.
constexpr ExitCodeSet kRepositoryCodes{ExitCode::unreachable, ExitCode::auth,       ExitCode::local_io,
                                       ExitCode::backup_manifest, ExitCode::repository, ExitCode::interrupted};
// Reading a backup's manifest and chunks.
constexpr ExitCodeSet kReadingCodes{ExitCode::backup_key, ExitCode::backup_corrupt};
// Restoring into servers (restore, and verify into scratch servers) as pg copy and mongo
// copy do.
constexpr ExitCodeSet kRestoringCodes{ExitCode::missing_tool, ExitCode::privileges,   ExitCode::target_not_empty,
                                      ExitCode::verify_failed, ExitCode::copy_failed, ExitCode::tls,
                                      ExitCode::same_server};

const CommandExitCodes kBackupCreateExitCodes{
    "backup create", kRepositoryCodes | ExitCodeSet{ExitCode::missing_tool, ExitCode::privileges, ExitCode::verify_failed,
                                                    ExitCode::copy_failed, ExitCode::nothing_to_resume, ExitCode::tls}};
const CommandExitCodes kBackupListExitCodes{"backup list", kRepositoryCodes};
const CommandExitCodes kBackupVerifyExitCodes{"backup verify",
                                              kRepositoryCodes | kReadingCodes | kRestoringCodes};
const CommandExitCodes kBackupRestoreExitCodes{
    "backup restore", kRepositoryCodes | kReadingCodes | kRestoringCodes | ExitCodeSet{ExitCode::nothing_to_resume}};
const CommandExitCodes kBackupPruneExitCodes{"backup prune", kRepositoryCodes};
const CommandExitCodes kBackupRotateKeysExitCodes{"backup rotate-keys", kRepositoryCodes | kReadingCodes};
const CommandExitCodes kBackupExportExitCodes{"backup export",
                                              kRepositoryCodes | kReadingCodes | ExitCodeSet{ExitCode::verify_failed}};
const CommandExitCodes kBackupScheduleExitCodes{"backup schedule", {ExitCode::local_io}};
const CommandExitCodes kUpgradeCheckExitCodes{"upgrade-check", kRepositoryCodes | ExitCodeSet{ExitCode::no_recent_backup}};

void add_repository_options(CLI::App* cmd, backup::RepositoryOptions& repo, const std::string& prefix,
                            const std::string& repo_help) {
  auto* url = cmd->add_option("--" + prefix + "repo", repo.url, repo_help);
  if (prefix.empty()) url->required();
  std::string which = prefix.empty() ? "" : "; for --" + prefix + "repo";
  cmd->add_option("--" + prefix + "s3-endpoint", repo.s3_endpoint,
                  "The S3 store, http(s)://HOST[:PORT] (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS)" + which);
  cmd->add_option("--" + prefix + "s3-region", repo.s3_region,
                  "The region to sign for (default: AWS_REGION, us-east-1)" + which);
  cmd->add_option("--" + prefix + "s3-addressing", repo.s3_addressing,
                  "path (HOST/BUCKET/KEY, default) or virtual (BUCKET.HOST/KEY)" + which)
      ->check(CLI::IsMember({"path", "virtual"}));
}

namespace {

void add_repo(CLI::App* cmd, backup::RepositoryOptions& repo) {
  add_repository_options(cmd, repo, "",
                         "The backup repository: a directory (backup create makes it), or s3://BUCKET/PREFIX (credentials "
                         "from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] or AWS_PROFILE)");
}
void add_identity(CLI::App* cmd, backup::KeyOptions& keys) {
  cmd->add_option("-i,--identity", keys.identity_files,
                  "An age identity file (AGE-SECRET-KEY-1..., as age-keygen writes it) that opens the backup; repeatable")
      ->check(CLI::ExistingFile);
}
void add_recipients(CLI::App* cmd, backup::RecipientOptions& r) {
  cmd->add_option("-r,--recipient", r.recipients, "An age public key (age1...) to encrypt to; repeatable");
  cmd->add_option("-R,--recipients-file", r.recipient_files, "A file of age public keys, one per line; repeatable")
      ->check(CLI::ExistingFile);
}
// "24h", "90m", "2d", "3600s" or "3600" as seconds; nothing when it is not one of those.
std::optional<int64_t> parse_duration_seconds(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = text.substr(used);
  int64_t scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (scale == 0 || n < 0) return std::nullopt;
  return static_cast<int64_t>(n) * scale;
}


}  // namespace

namespace {

// -o table (default) or -o json, for the commands that list backups.
void add_output(CLI::App* cmd, bool& json) {
  cmd->add_option_function<std::string>("-o,--output", [&json](const std::string& v) { json = v == "json"; },
                                        "table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
}

Command add_create(CLI::App& backup) {
  auto define = [](CLI::App* c, backup::CreateOptions& options) {
    add_repo(c, options.repo);
    add_connection(c, "--pg", options.pg, "libpq URI of the PostgreSQL server to back up (every database but the templates)");
    c->add_option("--pg-db", options.pg_databases, "Back up only this PostgreSQL database (repeatable)");
    c->add_option("--pg-bin", options.pg_bin, "Directory holding the pg_dump to use");
    add_connection(c, "--mongo", options.mongo, "MongoDB connection string of the server to back up");
    c->add_option("--mongo-db", options.mongo_databases,
                  "Back up only this database (repeatable); default: all but admin, local, config");
    c->add_option("--reason", options.reason, "Why: daily, pre-upgrade or manual (default)")
        ->check(CLI::IsMember({"daily", "pre-upgrade", "manual"}));
    add_recipients(c, options.recipients);
    add_run_options(c, options.run, "Continue an interrupted backup: finished items are checked, not taken again");
    c->add_option("--chunk-mib", [&options](const std::vector<std::string>& v) {
         options.chunk_bytes = std::stoul(v.at(0)) << 20;
         return true;
       }, "Rows per chunk before compression, in MiB (default 64)")
        ->check(CLI::Range(1, 1024));
  };
  return add_command<backup::CreateOptions>(backup, kBackupCreateExitCodes, backup::create,
      "Take one consistent backup of PostgreSQL and/or MongoDB into the repository",
      define);
}

Command add_list(CLI::App& backup) {
  auto define = [](CLI::App* l, backup::ListOptions& options) {
    add_repo(l, options.repo);
    add_output(l, options.json);
  };
  return add_command<backup::ListOptions>(backup, kBackupListExitCodes, backup::list,
      "List the repository's backups (no key needed)",
      define);
}

Command add_verify(CLI::App& backup) {
  auto define = [](CLI::App* v, backup::VerifyOptions& options) {
    add_repo(v, options.repo);
    v->add_option("--id", options.id, "The backup (default: the newest complete one)");
    v->add_flag("--quick", options.quick, "Only check that every chunk is present with its size (no key needed)");
    add_connection(v, "--restore-mongo", options.restore_mongo, "Restore into this empty scratch MongoDB server and compare every item");
    add_connection(v, "--restore-pg", options.restore_pg, "Restore into this empty scratch PostgreSQL server and compare every item");
    v->add_option("--pg-bin", options.pg_bin, "Directory holding the pg_restore and psql to use");
    add_identity(v, options.keys);
    add_run_options(v, options.run);
  };
  return add_command<backup::VerifyOptions>(backup, kBackupVerifyExitCodes, backup::verify,
      "Check a backup: every chunk decrypted, hashed and its rows compared with the manifest; --quick: "
      "present; --restore-mongo: restored and compared",
      define);
}

Command add_restore(CLI::App& backup) {
  auto define = [](CLI::App* r, backup::RestoreOptions& options) {
    add_repo(r, options.repo);
    r->add_option("--id", options.id, "The backup to restore (decant backup list)")->required();
    add_connection(r, "--pg", options.pg, "libpq URI of the PostgreSQL target (its maintenance database)");
    r->add_flag("--clean", options.clean, "Drop and recreate target databases that hold anything");
    r->add_option("--pg-bin", options.pg_bin, "Directory holding the pg_restore and psql to use");
    add_extension_update(r, options.extension_update);
    add_connection(r, "--mongo", options.mongo, "MongoDB connection string of the target");
    r->add_flag("--drop", options.drop, "Replace target collections that hold data (as mongorestore --drop)");
    add_identity(r, options.keys);
    add_run_options(r, options.run, "Continue an interrupted restore");
  };
  return add_command<backup::RestoreOptions>(backup, kBackupRestoreExitCodes, backup::restore,
      "Restore a backup into servers, verified against its manifest",
      define);
}

Command add_prune(CLI::App& backup) {
  auto define = [](CLI::App* p, backup::PruneOptions& options) {
    add_repo(p, options.repo);
    p->add_option("--keep-days", options.keep_days, "Keep every backup younger than this (default 30)")
        ->check(CLI::Range(1, 36500));
    p->add_flag("--apply", options.apply, "Delete them (without it, only list what would go)");
    add_output(p, options.json);
  };
  return add_command<backup::PruneOptions>(backup, kBackupPruneExitCodes, backup::prune,
      "Delete backups older than --keep-days (a dry run unless --apply); never the newest verified, "
      "pre-upgrade or complete one, nor one being written",
      define);
}

Command add_rotate_keys(CLI::App& backup) {
  auto define = [](CLI::App* k, backup::RotateOptions& options) {
    add_repo(k, options.repo);
    k->add_option("--id", options.id, "Only this backup (default: every complete one)");
    add_identity(k, options.keys);
    add_recipients(k, options.recipients);
    k->add_flag("--data", options.data, "Re-encrypt every chunk too (needed before the old key is destroyed)");
    add_jobs(k, options.jobs);
  };
  return add_command<backup::RotateOptions>(backup, kBackupRotateKeysExitCodes, backup::rotate_keys,
      "Re-encrypt backups to new recipients, so that an old key can be retired: the manifests, and with "
      "--data the chunks",
      define);
}

Command add_export(CLI::App& backup) {
  auto define = [](CLI::App* x, backup::ExportOptions& options) {
    add_repo(x, options.repo);
    x->add_option("--id", options.id, "The backup to export")->required();
    x->add_option("--format", options.format,
                  "mongodump (default: DB/COLL.bson + metadata) or pg_dump (globals.sql for psql, and DB/ per "
                  "database: a directory-format archive for pg_restore of the version that made the backup or newer)")
        ->check(CLI::IsMember({"mongodump", "pg_dump"}));
    x->add_option("--out", options.out_dir, "Directory to write (created if needed)")->required();
    add_identity(x, options.keys);
    add_run_options(x, options.run);
  };
  return add_command<backup::ExportOptions>(backup, kBackupExportExitCodes, backup::export_backup,
      "Write a backup in its tools' own formats (the mongodump layout, pg_dump's directory format), so "
      "that they can read it without decant",
      define);
}

Command add_schedule(CLI::App& backup) {
  auto define = [](CLI::App* s, backup::ScheduleOptions& options) {
    add_repo(s, options.repo);
    s->add_option("--image", options.image, "The decant image the jobs run (built from the Dockerfile)")->required();
    s->add_option("-n,--namespace", options.namespace_name, "Namespace of the CronJobs and Secrets")
        ->capture_default_str();
    s->add_option("--name-prefix", options.name_prefix, "Prefix of the CronJobs' names")->capture_default_str();
    s->add_option("--pg-secret", options.pg_secret, "Secret whose key \"uri\" is the PostgreSQL URI to back up");
    s->add_option("--mongo-secret", options.mongo_secret, "Secret whose key \"uri\" is the MongoDB URI to back up");
    s->add_option("--mongo-db", options.mongo_databases, "Back up only this MongoDB database (repeatable)");
    s->add_option("--s3-secret", options.s3_secret,
                  "Secret with the keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN)");
    s->add_option("--recipients-secret", options.recipients_secret,
                  "Secret whose key \"recipients\" holds the age public keys, one per line")
        ->required();
    s->add_option("--identity-secret", options.identity_secret,
                  "Secret whose key \"identity\" is an age identity: adds the weekly verify");
    s->add_option("--create-schedule", options.create_schedule, "Cron schedule of backup create")->capture_default_str();
    s->add_option("--prune-schedule", options.prune_schedule, "Cron schedule of backup prune")->capture_default_str();
    s->add_option("--verify-schedule", options.verify_schedule, "Cron schedule of backup verify")->capture_default_str();
    s->add_option("--keep-days", options.keep_days, "Days prune keeps backups for")->capture_default_str()->check(CLI::Range(1, 36500));
    s->add_option("--scratch-pg-image", options.scratch_pg_image,
                  "PostgreSQL image the weekly verify restores into (as new as the source or newer)")
        ->capture_default_str();
    s->add_option("--scratch-mongo-image", options.scratch_mongo_image, "MongoDB image the weekly verify restores into")
        ->capture_default_str();
    s->add_option("--format", options.format, "yaml (default) or json")->check(CLI::IsMember({"yaml", "json"}));
    s->add_option("--out", options.out, "Write to this file (default: stdout)");
  };
  return add_command<backup::ScheduleOptions>(backup, kBackupScheduleExitCodes, backup::schedule,
      "Write the Kubernetes CronJobs that make the cluster back itself up: a daily create, a daily prune, "
      "a weekly verify that restores into scratch servers in its own pod (kubectl apply -f the output)",
      define);
}

}  // namespace

Runner add_backup(CLI::App& app) {
  auto* backup = app.add_subcommand("backup", "Encrypted, compressed, verified logical backups");
  backup->require_subcommand(1);
  std::vector<Command> subcommands{add_create(*backup), add_list(*backup),    add_verify(*backup),
                                   add_restore(*backup), add_prune(*backup), add_rotate_keys(*backup),
                                   add_export(*backup), add_schedule(*backup)};
  return [subcommands] {
    for (const auto& s : subcommands)
      if (s.app->parsed()) return s.run();
    throw Error(ExitCode::internal, "no backup subcommand was parsed");
  };
}

Runner add_upgrade_check(CLI::App& app) {
  auto define = [](CLI::App* u, backup::UpgradeCheckOptions& options) {
    add_repo(u, options.repo);
    u->add_option_function<std::string>(
         "--max-age",
         [&options](const std::string& text) {
           auto value = parse_duration_seconds(text);
           if (!value) throw CLI::ValidationError("--max-age", "a duration such as 24h, 90m, 2d or 3600 (seconds)");
           options.max_age_seconds = *value;
         },
         "How recent the backup must be (default 24h; s, m, h, d)");
  };
  return add_command<backup::UpgradeCheckOptions>(app, kUpgradeCheckExitCodes, backup::upgrade_check,
                                                  "Exit 0 only when a complete, fully verified pre-upgrade backup newer "
                                                  "than --max-age exists: for an upgrade script or CI, before helm upgrade",
                                                  define)
      .run;
}

}  // namespace decant::cli
