#!/usr/bin/env bash
# Installs the age test vectors (C2SP CCTV, npm package cctv-age) as one file per vector:
#   <cache>/testdata/<name>   a textual header, an empty line, then the age file
# Cache: $DECANT_AGE_VECTORS, default /var/cache/decant/cctv-age-<version>. A second run
# returns at once (a marker file is written only after all vectors are in place).
# Prints the directory on stdout.
set -euo pipefail
VERSION=0.2.0
CACHE=${DECANT_AGE_VECTORS:-/var/cache/decant/cctv-age-$VERSION}
MARKER=$CACHE/.decant-installed
if [[ -f $MARKER ]]; then echo "$CACHE/testdata"; exit 0; fi
for tool in npm node tar; do
  command -v "$tool" >/dev/null || { echo "install-age-vectors: '$tool' is needed (Debian: apt-get install nodejs npm)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --loglevel=error "cctv-age@$VERSION" >/dev/null && tar xzf "cctv-age-$VERSION.tgz")
rm -rf "$CACHE" && mkdir -p "$CACHE/testdata"
# The package exports every vector as a byte array keyed by its file name.
node -e '
  const fs = require("fs"), path = require("path");
  const vectors = require(process.argv[1]);
  for (const [name, bytes] of Object.entries(vectors)) fs.writeFileSync(path.join(process.argv[2], name), bytes);
  if (Object.keys(vectors).length < 100) process.exit(1);
' "$work/package/index.js" "$CACHE/testdata"
touch "$MARKER"
echo "$CACHE/testdata"
