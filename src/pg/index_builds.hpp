#pragma once
// Indexes and index-backed constraints that decant builds itself as soon as a table's
// data is in, while other tables still copy. Every statement is skipped when what it
// makes exists already, so a build interrupted after its commit is never done twice.
#include <vector>

#include "pg/catalog.hpp"
#include "pg/connection.hpp"

namespace decant::pg {

// CREATE INDEX for `builds` (a SHARE lock: a table's builds run in parallel), in one
// transaction, committed durably.
void create_indexes(Connection& target, const std::vector<const IndexBuild*>& builds);
// The statements that take an exclusive lock on their table (ADD CONSTRAINT ... USING
// INDEX, CLUSTER ON, REPLICA IDENTITY, statistics), once its indexes exist.
void finish_tables(Connection& target, const std::vector<const IndexBuild*>& builds);
// Both, in one transaction: for small tables, where a round trip costs more than a build.
void build_and_finish(Connection& target, const std::vector<const IndexBuild*>& builds);
// Both, inside the transaction `target` has open, without looking for what exists: for
// tables this run created empty and filled in that same transaction.
void build_and_finish_new(Connection& target, const std::vector<const IndexBuild*>& builds);

}  // namespace decant::pg
