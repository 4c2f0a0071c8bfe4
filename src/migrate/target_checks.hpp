#pragma once
// The targets checked against what the release's CircleCI Server requires (requirements.hpp):
// each target read as the application will use it (PostgreSQL over TLS, as its
// postgresql.secureMode connects), the findings added to the plan, before any downtime.
#include <string>

#include "migrate/plan.hpp"
#include "migrate/requirements.hpp"

namespace decant::migrate {

// The PostgreSQL target's major version, the TLS it negotiates and the pg_partman it can
// install, against `row`; the source's pg_partman read through `source_conninfo`.
void check_postgresql_requirements(const ServerRequirements& row, const PlanOptions& options,
                                   const std::string& source_conninfo, Plan& plan);
// The MongoDB target's version and featureCompatibilityVersion against `row`.
void check_mongodb_requirements(const ServerRequirements& row, const std::string& target, Plan& plan);

// The libpq sslmode the application's connection has: at least "require".
std::string application_sslmode(const std::string& given);

}  // namespace decant::migrate
