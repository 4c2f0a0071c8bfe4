#pragma once
// What CircleCI Server itself requires of its external databases, release by release: a
// migration that verifies row for row can still leave the application on a database it
// does not support. One table, from CircleCI's own documentation (sources in
// requirements.cpp); `plan` and `migrate` read the row of the release's chart version
// and check each target against it before any downtime.
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace decant::migrate {

// A MongoDB release series, 7.0 as {7, 0}.
struct MongoSeries {
  int major = 0, minor = 0;
  auto operator<=>(const MongoSeries&) const = default;
  std::string text() const;
};
// "7.0.42" -> {7, 0}; nullopt when it does not start with two numbers.
std::optional<MongoSeries> mongo_series(const std::string& version);

struct ServerRequirements {
  std::string releases;  // "4.10", "4.0-4.7": the Server releases the row is for
  int first_minor = 0, last_minor = 0;  // of 4.x
  // PostgreSQL majors the external server may run (max 0: no upper bound given), and
  // the one CircleCI tests with.
  int pg_min_major = 12, pg_max_major = 0, pg_tested_major = 0;
  std::string pg_tls_min;        // "TLSv1.3": the least protocol the application authenticates with; "" none
  std::string partman_series;    // "4.5": the pg_partman series the external server must use; "" none
  MongoSeries mongo_min;         // the least MongoDB release series
  MongoSeries mongo_documented;  // the newest series CircleCI documents (upgrade guides)
  bool chart_has_secure_mode = false;  // the chart's postgresql.secureMode (TLS to PostgreSQL)
  std::string source;                  // the documentation page(s)

  std::string pg_majors_text() const;  // "12-14 (tested: 12)"
  std::string summary() const;         // one line: every requirement
};

// The row for a release's chart ("circleci-server-4.10.1", or its version alone);
// `known` is false when decant has no row for its version: the newest row applies then.
struct RequirementsForChart {
  const ServerRequirements* row = nullptr;
  bool known = false;
  std::string version;  // "4.10.1", as read from the chart ("" when unreadable)
};
RequirementsForChart requirements_for_chart(const std::string& chart);
const std::vector<ServerRequirements>& requirements_table();

// What decant found on the targets, and what the checks make of it: each a line that says
// what is wrong and what to do, sorted into checks that passed, blockers and warnings.
struct PgTargetFacts {
  int major = 0;
  std::optional<std::string> tls_protocol;  // negotiated with sslmode=require; nullopt: no TLS
  std::string tls_error;                    // why no TLS connection could be made
  std::set<std::string> partman_offered;    // pg_partman versions the target can create
  std::string partman_default;
  std::vector<std::string> partman_on_source;  // "circle: 4.5.1", per database that has it
  bool partman_update_requested = false;       // --extension-update pg_partman
};
struct MongoTargetFacts {
  std::string version;
  std::string feature_compatibility;  // "7.0"; "" when the server does not say
};
struct RequirementFindings {
  std::vector<std::string> passed;
  struct Issue {
    bool blocker = true;
    std::string what, todo;
  };
  std::vector<Issue> issues;
};
// `allow_unsupported`: a PostgreSQL major outside the supported set is a warning only.
RequirementFindings check_postgresql_target(const ServerRequirements& row, const PgTargetFacts& facts,
                                            bool allow_unsupported);
RequirementFindings check_mongodb_target(const ServerRequirements& row, const MongoTargetFacts& facts);

}  // namespace decant::migrate
