#pragma once
// The S3 driver of the repository interface (backup/repository.hpp): objects PREFIX/KEY of
// one bucket, through s3::Client.
#include <memory>

#include "backup/repository.hpp"

namespace decant::backup {

// A bucket: objects are PREFIX/KEY. Credentials come from the usual AWS places (never
// from options or argv); the bucket must exist and be usable, or this throws.
std::unique_ptr<Repository> open_s3_repository(const RepositoryOptions& options);

}  // namespace decant::backup
