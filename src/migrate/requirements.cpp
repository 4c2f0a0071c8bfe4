#include "migrate/requirements.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdio>

namespace decant::migrate {

std::string MongoSeries::text() const { return fmt::format("{}.{}", major, minor); }

std::optional<MongoSeries> mongo_series(const std::string& version) {
  MongoSeries s;
  int consumed = 0;
  if (std::sscanf(version.c_str(), "%d.%d%n", &s.major, &s.minor, &consumed) != 2 || consumed == 0) return std::nullopt;
  return s;
}

const std::vector<ServerRequirements>& requirements_table() {
  // CircleCI Server's documentation (circleci.com/docs, sources in circleci/circleci-docs):
  // operator/configuring-external-services, installation/upgrade-server,
  // overview/release-notes, operator/upgrade-mongo and the values reference of each release.
  static const std::vector<ServerRequirements> table = {
      {"4.0-4.7", 0, 7, 12, 0, 0, "", "", {3, 6}, {4, 4}, false,
       // "Your externalized PostgreSQL instance needs to be version 12.1 or higher." "If
       // using your own MongoDB instance, it needs to be version 3.6 or higher." (4.1+:
       // upgrade-mongo to 4.4.15.)
       "https://circleci.com/docs/server-admin/server-4.7/operator/configuring-external-services/ (4.0-4.6: "
       "circleci-docs archive/), .../operator/upgrade-mongo/"},
      {"4.8", 8, 8, 12, 14, 12, "", "", {3, 6}, {4, 4}, false,
       // "needs to be version 12. While you can use PostgreSQL 13 and 14, the version we use
       // for testing is 12.22"; MongoDB "3.6 or higher", upgrade-mongo to 4.4.15.
       "https://circleci.com/docs/server-admin/server-4.8/operator/configuring-external-services/, "
       ".../operator/upgrade-mongo/"},
      {"4.9", 9, 9, 12, 14, 12, "TLSv1.3", "4.5", {4, 4}, {7, 0}, true,
       // As 4.8, and: "CircleCI Server requires TLS 1.3 to authenticate with an externalized
       // PostgreSQL instance." "Your externalized PostgreSQL instance must use pg_partman
       // 4.5.x. pg_partman 5.x is not currently supported." Release notes: "Server 4.9
       // requires mongoDB 4.4 or higher"; upgrade-mongo to 7.0.15; values:
       // postgresql.secureMode "Set to true if PostgreSQL database connections is encrypted".
       "https://circleci.com/docs/server-admin/server-4.9/operator/configuring-external-services/, "
       ".../overview/release-notes/, .../operator/upgrade-mongo/, .../installation/installation-reference/"},
      {"4.10", 10, 10, 12, 14, 12, "TLSv1.3", "4.5", {7, 0}, {7, 0}, true,
       // As 4.9, and: "Server 4.10 requires mongoDB 7.0 or higher".
       "https://circleci.com/docs/server-admin/latest/operator/configuring-external-services/, "
       ".../overview/release-notes/, .../installation/upgrade-server/, .../installation/installation-reference/"},
  };
  return table;
}

std::string ServerRequirements::pg_majors_text() const {
  std::string range = pg_max_major ? fmt::format("{}-{}", pg_min_major, pg_max_major) : fmt::format("{}+", pg_min_major);
  return pg_tested_major ? fmt::format("{} (tested: {})", range, pg_tested_major) : range;
}

std::string ServerRequirements::summary() const {
  return fmt::format("PostgreSQL {}, {}, {}; MongoDB {}+ (documented up to {})", pg_majors_text(),
                     pg_tls_min.empty() ? "no TLS requirement" : pg_tls_min,
                     partman_series.empty() ? "no pg_partman requirement" : "pg_partman " + partman_series + ".x",
                     mongo_min.text(), mongo_documented.text());
}

RequirementsForChart requirements_for_chart(const std::string& chart) {
  const auto& table = requirements_table();
  RequirementsForChart out{&table.back(), false, ""};
  // "circleci-server-4.10.1": the version starts after the last "-" that precedes "N.N".
  for (size_t at = 0; at < chart.size(); ++at) {
    if (!std::isdigit(static_cast<unsigned char>(chart[at])) || (at > 0 && chart[at - 1] != '-')) continue;
    if (!mongo_series(chart.substr(at))) continue;
    out.version = chart.substr(at);
    break;
  }
  auto series = mongo_series(out.version);
  if (!series || series->major != 4) return out;
  for (const auto& row : table)
    if (series->minor >= row.first_minor && series->minor <= row.last_minor) return {&row, true, out.version};
  return out;
}

namespace {

// "TLSv1.3" -> 13, "TLSv1" -> 10; 0 for anything else.
int tls_rank(const std::string& protocol) {
  int major = 0, minor = 0;
  if (std::sscanf(protocol.c_str(), "TLSv%d.%d", &major, &minor) >= 1) return major * 10 + minor;
  return 0;
}

std::string tls_text(const std::string& protocol) {  // "TLSv1.3" -> "TLS 1.3"
  return protocol.rfind("TLSv", 0) == 0 ? "TLS " + protocol.substr(4) : protocol;
}

}  // namespace

RequirementFindings check_postgresql_target(const ServerRequirements& row, const PgTargetFacts& facts,
                                            bool allow_unsupported) {
  RequirementFindings out;
  std::string server = "CircleCI Server " + row.releases;
  bool supported = facts.major >= row.pg_min_major && (row.pg_max_major == 0 || facts.major <= row.pg_max_major);
  if (supported) {
    out.passed.push_back(fmt::format("the PostgreSQL target's major version {} is one {} supports ({})", facts.major,
                                     server, row.pg_majors_text()));
  } else {
    out.issues.push_back(
        {!allow_unsupported,
         fmt::format("the PostgreSQL target runs PostgreSQL {}, which {} does not support ({})", facts.major, server,
                     row.pg_majors_text()),
         allow_unsupported ? "accepted with --allow-unsupported-target"
                           : fmt::format("migrate to a PostgreSQL {} server, or accept it with --allow-unsupported-target",
                                         row.pg_tested_major ? row.pg_tested_major : row.pg_min_major)});
  }

  if (!row.pg_tls_min.empty()) {
    std::string settings = fmt::format("ssl = on with the server's certificate (ssl_cert_file, ssl_key_file) and "
                                       "ssl_min_protocol_version = '{}' in the target's postgresql.conf",
                                       row.pg_tls_min);
    if (!facts.tls_protocol) {
      out.issues.push_back({true,
                            fmt::format("the PostgreSQL target accepts no TLS connection ({}), and {} authenticates "
                                        "with {} only",
                                        facts.tls_error.empty() ? "none was offered" : facts.tls_error, server,
                                        tls_text(row.pg_tls_min)),
                            "set " + settings});
    } else if (tls_rank(*facts.tls_protocol) < tls_rank(row.pg_tls_min)) {
      out.issues.push_back({true,
                            fmt::format("the PostgreSQL target negotiates {}, and {} authenticates with {} only",
                                        tls_text(*facts.tls_protocol), server, tls_text(row.pg_tls_min)),
                            "set " + settings + " (and no lower ssl_max_protocol_version)"});
    } else {
      out.passed.push_back(fmt::format("the PostgreSQL target negotiates {} ({} requires {})",
                                       tls_text(*facts.tls_protocol), server, tls_text(row.pg_tls_min)));
    }
  }

  if (!row.partman_series.empty()) {
    std::string prefix = row.partman_series + ".";
    std::vector<std::string> in_series, offered;
    for (const auto& v : facts.partman_offered) {
      offered.push_back(v == facts.partman_default ? v + " (default)" : v);
      if (v.rfind(prefix, 0) == 0) in_series.push_back(v);
    }
    std::string required = fmt::format("{} requires pg_partman {}.x (5.x is not supported)", server, row.partman_series);
    if (facts.partman_offered.empty()) {
      out.issues.push_back({true, "the PostgreSQL target does not offer pg_partman; " + required,
                            "install pg_partman " + row.partman_series + " on the target server"});
    } else if (in_series.empty()) {
      out.issues.push_back({true,
                            fmt::format("the PostgreSQL target cannot install pg_partman {}.x (it offers {}); {}",
                                        row.partman_series, fmt::join(offered, ", "), required),
                            "install pg_partman " + row.partman_series + " on the target server"});
    } else if (facts.partman_update_requested && facts.partman_default.rfind(prefix, 0) != 0) {
      out.issues.push_back({true,
                            fmt::format("--extension-update pg_partman would create the target's default {}; {}",
                                        facts.partman_default, required),
                            "leave pg_partman out of --extension-update: it keeps the source's version"});
    } else {
      out.passed.push_back(fmt::format("the PostgreSQL target can install pg_partman {} ({}){}",
                                       fmt::join(in_series, ", "), required,
                                       facts.partman_on_source.empty()
                                           ? ""
                                           : fmt::format("; the source has {}", fmt::join(facts.partman_on_source, ", "))));
    }
    for (const auto& source : facts.partman_on_source) {
      auto colon = source.rfind(": ");
      std::string version = colon == std::string::npos ? source : source.substr(colon + 2);
      if (version.rfind(prefix, 0) != 0 && !facts.partman_update_requested)
        out.issues.push_back({false,
                              fmt::format("the source's pg_partman is {} (database {}), not {}.x: the copy keeps it",
                                          version, source.substr(0, colon), row.partman_series),
                              ""});
    }
  }
  return out;
}

RequirementFindings check_mongodb_target(const ServerRequirements& row, const MongoTargetFacts& facts) {
  RequirementFindings out;
  std::string server = "CircleCI Server " + row.releases;
  auto series = mongo_series(facts.version);
  if (!series) {
    out.issues.push_back({false, "the MongoDB target did not say which version it runs (\"" + facts.version + "\")",
                          "check that it is MongoDB " + row.mongo_min.text() + " or newer"});
    return out;
  }
  if (*series < row.mongo_min) {
    out.issues.push_back({true,
                          fmt::format("the MongoDB target runs {}, and {} requires MongoDB {} or newer", facts.version,
                                      server, row.mongo_min.text()),
                          fmt::format("upgrade it to {} (CircleCI's upgrade-mongo steps) or use a MongoDB {} server",
                                      row.mongo_min.text(), row.mongo_documented.text())});
  } else if (*series > row.mongo_documented) {
    out.issues.push_back({false,
                          fmt::format("the MongoDB target runs {}; CircleCI documents MongoDB up to {} for {}",
                                      facts.version, row.mongo_documented.text(), server),
                          ""});
  } else {
    out.passed.push_back(fmt::format("the MongoDB target runs {} ({} requires {} or newer)", facts.version, server,
                                     row.mongo_min.text()));
  }
  if (facts.feature_compatibility.empty()) {
    out.issues.push_back({false, "the MongoDB target did not report its featureCompatibilityVersion",
                          fmt::format("check that it is {} or newer (db.adminCommand({{getParameter: 1, "
                                      "featureCompatibilityVersion: 1}}))",
                                      row.mongo_min.text())});
    return out;
  }
  auto fcv = mongo_series(facts.feature_compatibility);
  std::string set_fcv = fmt::format("db.adminCommand({{setFeatureCompatibilityVersion: \"{}\"{}}})",
                                    series ? series->text() : row.mongo_min.text(),
                                    series && series->major >= 7 ? ", confirm: true" : "");
  if (!fcv || *fcv < row.mongo_min) {
    out.issues.push_back({true,
                          fmt::format("the MongoDB target's featureCompatibilityVersion is {}, and {} requires {} or "
                                      "newer",
                                      facts.feature_compatibility, server, row.mongo_min.text()),
                          "raise it once the server runs the new release: " + set_fcv});
  } else if (*fcv < *series) {
    out.issues.push_back({false,
                          fmt::format("the MongoDB target runs {} with featureCompatibilityVersion {}", facts.version,
                                      facts.feature_compatibility),
                          "raise it when the upgrade is final: " + set_fcv});
  } else {
    out.passed.push_back("the MongoDB target's featureCompatibilityVersion is " + facts.feature_compatibility);
  }
  return out;
}

}  // namespace decant::migrate
