#pragma once
// The Helm values that point a release at the external servers.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace decant::migrate {

// The Helm values that point the release at the targets (no password: the credentials
// are in `secret_name`), from the target URIs; `pg_secure_mode`: the chart's
// postgresql.secureMode, its connections to PostgreSQL over TLS (Server 4.9 and later).
nlohmann::json external_values(const std::optional<std::string>& pg_target,
                               const std::optional<std::string>& mongo_target, const std::string& secret_name,
                               bool pg_secure_mode = false);

}  // namespace decant::migrate
