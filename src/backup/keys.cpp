#include "backup/keys.hpp"

#include <fstream>

#include "common/error.hpp"

namespace decant::backup {

std::vector<crypto::AgeRecipient> read_recipients(const RecipientOptions& options) {
  std::vector<crypto::AgeRecipient> out;
  for (const auto& r : options.recipients) out.push_back(crypto::AgeRecipient::parse(r));
  for (const auto& file : options.recipient_files) {
    std::ifstream in(file);
    if (!in) throw Error(ExitCode::local_io, "cannot read the recipients file " + file, "check the path");
    for (std::string line; std::getline(in, line);) {
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty() && line[0] != '#') out.push_back(crypto::AgeRecipient::parse(line));
    }
  }
  if (out.empty())
    throw Error(ExitCode::usage, "no recipient to encrypt the backup to",
                "give --recipient age1... (the public key of an identity made with age-keygen) or --recipients-file");
  return out;
}

crypto::AgeKeys read_keys(const KeyOptions& options) {
  crypto::AgeKeys keys;
  for (const auto& f : options.identity_files)
    for (auto& id : crypto::read_identity_file(f)) keys.identities.push_back(std::move(id));
  if (keys.identities.empty())
    throw Error(ExitCode::usage, "no identity to decrypt the backup with",
                "give --identity FILE (an age identity file, AGE-SECRET-KEY-1...)");
  return keys;
}

}  // namespace decant::backup
