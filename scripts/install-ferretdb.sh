#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (a MongoDB wire-protocol server, the tests' MongoDB) from the Go
# module proxy into build/tools/ferretdb. Needs Go 1.24 or newer (FerretDB's go.mod).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=v1.24.2
dest=${FERRETDB_BIN_DIR:-$here/build/tools}
# (Output captured whole: a pipe into grep -q or head would SIGPIPE it under pipefail.)
if [ -x "$dest/ferretdb" ] && [[ "$("$dest/ferretdb" --version 2>/dev/null)" == *"version: $version"* ]]; then
  exit 0
fi
# Go may be installed without being on a non-interactive shell's PATH.
export PATH="$PATH:/usr/local/go/bin:${HOME:-/root}/go/bin"
command -v go >/dev/null || { echo "install-ferretdb: Go is needed (1.24 or newer; Debian bookworm's golang-go is too old)" >&2; exit 1; }
export GOFLAGS=-mod=mod
modcache=$(go env GOMODCACHE)
go mod download "github.com/FerretDB/FerretDB@$version"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$modcache/github.com/!ferret!d!b/!ferret!d!b@$version/." "$work"
chmod -R u+w "$work"
# `go install ...@v1.24.2` builds a binary that panics at start: the published module lacks
# build/version/version.txt, which the release process generates. Supply it.
echo "$version" > "$work/build/version/version.txt"
mkdir -p "$dest"
(cd "$work" && go build -o "$dest/ferretdb" ./cmd/ferretdb)
built=$("$dest/ferretdb" --version)
echo "${built%%$'\n'*}"
