#pragma once
// How a pre-data section with many tables is restored by several sessions at once.
// Creating thousands of tables is the longest part of a pre-data restore, one CREATE
// TABLE after another. The longest run of consecutive table entries in the TOC (TABLE,
// with the comments, ACLs and security labels between them) is shared out between
// kSchemaParts sessions that run at once:
//   part 0                 everything before the run, in one session first;
//   parts 1..kSchemaParts  the run's tables, round robin, each in its own session;
//   part kSchemaParts + 1  everything else, after them, in TOC order.
// An entry never runs before, or beside, what it depends on: a table of the run goes
// into a parallel part only when every entry it depends on (the archive's own
// dependencies) is in part 0 or in that same part, which an earlier entry of the same
// session created; otherwise it waits for the last part (a partition's dependency on the
// parent it is attached to by a TABLE ATTACH entry does not count: see the code). Comments, ACLs and security
// labels of the run go last too (nothing depends on them). What follows the run (TABLE
// ATTACH, defaults, sequences' ownership, ...) is restored after every table exists.
// The split depends on the TOC only, never on --jobs, so that a resumed run restores the
// same parts.
#include <vector>

#include "pg/schema.hpp"

namespace decant::pg {

inline constexpr int kSchemaParts = 4;

// The part of each entry of `toc` (same order), or an empty vector when the run has too
// few tables to gain anything (fewer than `min_tables`).
std::vector<int> split_pre_data(const std::vector<TocEntry>& toc, size_t min_tables = 64);


}  // namespace decant::pg
