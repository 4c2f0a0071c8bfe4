#!/usr/bin/env bash
# Builds versitygw v1.8.0 (an S3 gateway, Apache-2.0: the tests' S3 store, which checks
# signatures, body hashes and checksums) from the Go module proxy, cached in
# /var/cache/decant/versitygw/bin (VERSITYGW_DIR) so that a second run is instant.
set -euo pipefail
version=v1.8.0
dest=${VERSITYGW_DIR:-/var/cache/decant/versitygw}/bin
if [ -x "$dest/versitygw" ] && [ -f "$dest/.version" ] && [ "$(cat "$dest/.version")" = "$version" ]; then
  exit 0
fi
export PATH="$PATH:/usr/local/go/bin:${HOME:-/root}/go/bin"
command -v go >/dev/null || { echo "install-versitygw: Go is needed" >&2; exit 1; }
mkdir -p "$dest"
start=$(date +%s)
GOBIN="$dest" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$version"
echo "$version" > "$dest/.version"
echo "versitygw $version: built in $(( $(date +%s) - start ))s ($dest/versitygw)"
