#pragma once
// The resume journal of a copy kept on its MongoDB target (--state-on-target): a collection
// of a database of its own, decant_state, which no copy, dump or backup lists (the catalog
// skips it as it skips admin, local and config) and which is dropped once the copy
// verified. It outlives the machine or the Kubernetes pod the copy runs on. Each append is
// one insert, acknowledged as the URI's write concern says.
#include <memory>

#include "engine/journal_store.hpp"
#include "mongo/client.hpp"

namespace decant::mongo {

inline constexpr const char* kStateDatabase = "decant_state";

std::unique_ptr<engine::JournalStore> target_journal(const Uri& target);

}  // namespace decant::mongo
