#pragma once
// What stands in the way of copying a source exactly into its target, found before
// anything is written: a newer source into an older target can use what the older one
// lacks (a database's locale provider, per-membership options, settings, SQL), and any
// target can lack an extension the source uses. Each problem is one line naming it.
#include <set>
#include <string>
#include <vector>

#include "pg/catalog.hpp"
#include "pg/connection.hpp"
#include "pg/globals.hpp"

namespace decant::pg {

// Instance-wide: the databases' locale providers, database and role settings the target
// does not know, per-membership options (PostgreSQL 16+) an older target cannot hold.
std::vector<std::string> instance_incompatibilities(Connection& source, Connection& target,
                                                    const std::vector<DatabaseInfo>& databases);

// The extensions of `db` that the target server does not offer.
std::vector<std::string> missing_extensions(const std::string& db, const std::vector<ExtensionInfo>& used,
                                            const std::set<std::string>& available);
std::set<std::string> available_extensions(Connection& target);

// "CREATE ROLE ..." for the source's roles the target lacks: what a trial of the schema
// needs to run first (in a transaction rolled back after it).
std::string missing_roles_sql(Connection& source, Connection& target);

}  // namespace decant::pg
