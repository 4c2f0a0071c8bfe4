#pragma once
// The resume journal of a copy kept on its PostgreSQL target (--state-on-target): a table in
// a database of its own, decant_state, which no copy reads or compares (read_databases
// skips it) and which is dropped once the copy verified. It outlives the machine or the
// Kubernetes pod the copy runs on, and needs nothing but the target's login, which a copy
// has anyway (CREATEDB). Each append is one INSERT, committed after the data it records.
#include <memory>

#include "engine/journal_store.hpp"
#include "pg/conninfo.hpp"

namespace decant::pg {

inline constexpr const char* kStateDatabase = "decant_state";

std::unique_ptr<engine::JournalStore> target_journal(const ConnInfo& target);

}  // namespace decant::pg
