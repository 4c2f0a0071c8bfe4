#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the Debian packages, FerretDB (the tests'
# MongoDB, built from the Go module proxy) and the PostgreSQL 12-17 servers and 17 client
# tools of the version matrix and the pg_partman releases the tests give them (cached under
# /var/cache/decant/pg) and the test cluster's
# Kubernetes and helm binaries (cached under /var/cache/decant/k8s), versitygw (the S3 store,
# cached under /var/cache/decant/versitygw) and the age test vectors,
# then builds and runs:
#   release  unit tests and the PostgreSQL version matrix (every pair of 12-17, 1,000 and
#            5,000 partitions: the servers' work more than decant's code);
#   asan     unit tests and every integration suite under AddressSanitizer and UBSan (real
#            PostgreSQL and FerretDB servers on temporary directories and free ports, the
#            version pairs 12 to 14 and 17 to 17), and the test-cluster suites: plan, migrate,
#            backup schedule on kwok's fake node; migrate --image on a real node (kubelet,
#            containerd, runc) with decant's image built from the Dockerfile (its layers,
#            compiled objects and the test images cached under /var/cache/decant/k8s/images);
#   tsan     unit tests and a parallel copy (with an interruption) under ThreadSanitizer.
# Each integration test runs once, in the build that checks the most (the release build ran
# them all too, and took a quarter of CI's time for nothing ASan does not see).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-ferretdb.sh
bash scripts/install-pg-versions.sh
bash scripts/install-pg-extensions.sh
bash scripts/install-k8s.sh
bash scripts/install-versitygw.sh
bash scripts/install-age-vectors.sh >/dev/null
# The MongoDB driver's statistics files that killed runs of earlier builds left in
# /dev/shm: a new process of the same pid would find its name taken.
for f in /dev/shm/mongoc-*; do
  [ -e "$f" ] || continue
  [ -d "/proc/${f##*-}" ] || rm -f "$f"
done
# Compiled objects are cached under a fixed directory (keyed by content, not by the clone's
# path): a second run on the same machine compiles only what changed.
export CCACHE_DIR=/var/cache/decant/ccache CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE=6G
export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
for preset in release asan tsan; do
  echo "== $preset build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== $preset tests"
  ctest --preset "$preset"
done
