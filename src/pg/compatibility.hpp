#pragma once
// What stands in the way of copying a source exactly into its target, found before
// anything is written: a newer source into an older target can use what the older one
// lacks (a database's locale provider, per-membership options, settings, SQL); what
// extensions need is in extensions.hpp. Each problem is one line naming it.
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


// The source's roles the target lacks: what a trial of the schema needs made first.
std::vector<std::string> missing_roles(Connection& source, Connection& target);

}  // namespace decant::pg
