#pragma once
// The age keys a command is given: the recipients a backup is encrypted to (create,
// rotate-keys) and the identities that open it (verify, restore, export, rotate-keys).
#include <vector>

#include "backup/types.hpp"
#include "crypto/age.hpp"

namespace decant::backup {

// --recipient and --recipients-file; throws Error(usage) when there is none.
std::vector<crypto::AgeRecipient> read_recipients(const RecipientOptions& options);
// --identity files; throws Error(usage) when there is none.
crypto::AgeKeys read_keys(const KeyOptions& options);

}  // namespace decant::backup
