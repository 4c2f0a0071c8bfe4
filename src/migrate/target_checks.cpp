#include "migrate/target_checks.hpp"

#include <fmt/format.h>

#include "common/error.hpp"
#include "mongo/client.hpp"
#include "pg/connection.hpp"
#include "pg/conninfo.hpp"
#include "pg/extensions.hpp"
#include "pg/globals.hpp"

namespace decant::migrate {
namespace {

void add(const RequirementFindings& findings, Plan& plan) {
  for (const auto& p : findings.passed) plan.checks.push_back(p);
  for (const auto& i : findings.issues)
    (i.blocker ? plan.blockers : plan.warnings)
        .push_back({i.blocker ? ExitCode::unsupported_target : ExitCode::ok, i.what, i.todo});
}

// "circle: 4.5.1" for every database of the source that has pg_partman.
std::vector<std::string> partman_on_source(const std::string& source_conninfo) {
  std::vector<std::string> out;
  auto info = pg::ConnInfo::parse(source_conninfo, "source");
  auto admin = pg::Connection::open(info, info.maintenance_db());
  for (const auto& db : pg::read_databases(admin, {})) {
    if (db.is_template) continue;
    auto conn = pg::Connection::open(info, db.name);
    for (const auto& e : pg::read_extensions(conn))
      if (e.name == "pg_partman") out.push_back(db.name + ": " + e.version);
  }
  return out;
}

}  // namespace

std::string application_sslmode(const std::string& given) {
  return given == "verify-ca" || given == "verify-full" ? given : "require";
}

void check_postgresql_requirements(const ServerRequirements& row, const PlanOptions& options,
                                   const std::string& source_conninfo, Plan& plan) {
  PgTargetFacts facts;
  try {
    auto info = pg::ConnInfo::parse(*options.pg_target, "target");
    auto target = pg::Connection::open(info, info.maintenance_db());
    facts.major = target.server_version() / 10000;
    auto offered = pg::offered_extensions(target);
    if (auto it = offered.find("pg_partman"); it != offered.end()) {
      facts.partman_offered = it->second.versions;
      facts.partman_default = it->second.default_version;
    }
    // As the application connects with postgresql.secureMode: TLS required, whatever
    // the URI given to decant says (a verify-* mode is kept).
    try {
      auto tls = info.with("sslmode", application_sslmode(info.param("sslmode").value_or("")));
      facts.tls_protocol = pg::Connection::open(tls, tls.maintenance_db()).tls_protocol();
    } catch (const Error& e) {
      if (e.code() == ExitCode::interrupted) throw;
      facts.tls_error = e.what();
    }
    facts.partman_on_source = partman_on_source(source_conninfo);
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted) throw;
    plan.warnings.push_back({ExitCode::ok, std::string("the PostgreSQL target was not checked against CircleCI Server's "
                                                       "requirements: ") + e.what(), ""});
    return;
  }
  facts.partman_update_requested = options.extension_update.count("pg_partman") > 0;
  add(check_postgresql_target(row, facts, options.allow_unsupported_target), plan);
}

void check_mongodb_requirements(const ServerRequirements& row, const std::string& target, Plan& plan) {
  MongoTargetFacts facts;
  try {
    auto uri = mongo::Uri::parse(target, "target");
    mongo::ClientPool pool(uri);
    auto client = pool.acquire();
    facts.version = mongo::server_version(client.get(), pool.where());
    facts.feature_compatibility = mongo::feature_compatibility_version(client.get(), pool.where());
  } catch (const Error& e) {
    if (e.code() == ExitCode::interrupted) throw;
    plan.warnings.push_back({ExitCode::ok, std::string("the MongoDB target was not checked against CircleCI Server's "
                                                       "requirements: ") + e.what(), ""});
    return;
  }
  add(check_mongodb_target(row, facts), plan);
}

}  // namespace decant::migrate
