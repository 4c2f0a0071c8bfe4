#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the Debian packages and FerretDB, builds
# the release and the AddressSanitizer/UBSan builds, and runs the unit and integration
# tests (real PostgreSQL 15 and FerretDB servers started on temporary directories and
# free ports) in both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-ferretdb.sh   # the tests' MongoDB: FerretDB, built from the Go module proxy
for preset in release asan; do
  echo "== $preset build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== $preset tests"
  ctest --preset "$preset"
done
