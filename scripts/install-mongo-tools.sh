#!/usr/bin/env bash
# Builds the MongoDB database tools mongodump and mongorestore (Apache-2.0) from a fetched
# bare git copy of github.com/mongodb/mongo-tools (MONGO_TOOLS_GIT; the Go module proxy does
# not serve it, the copy's vendor/ folder is used), as static binaries cached in
# /var/cache/decant/mongo-tools/bin (MONGO_TOOLS_DIR); a stamp file holds the commit, so a
# second run is instant. Prints the bin directory on stdout.
set -euo pipefail
git_dir=${MONGO_TOOLS_GIT:-/work/.mirror/mongodb+mongo-tools/repo}
root=${MONGO_TOOLS_DIR:-/var/cache/decant/mongo-tools}
dest=$root/bin
if ! commit=$(git --git-dir="$git_dir" rev-parse --verify -q 'HEAD^{commit}' 2>/dev/null); then
  echo "install-mongo-tools: no git copy at $git_dir; run the library's 'fetch github:mongodb/mongo-tools' and set MONGO_TOOLS_GIT to the directory it returns" >&2
  exit 1
fi
if [ -x "$dest/mongodump" ] && [ -x "$dest/mongorestore" ] && [ -f "$dest/.commit" ] \
    && [ "$(cat "$dest/.commit")" = "$commit" ]; then
  echo "$dest"
  exit 0
fi
export PATH="$PATH:/usr/local/go/bin:${HOME:-/root}/go/bin"
command -v go >/dev/null || { echo "install-mongo-tools: Go is needed" >&2; exit 1; }
version=$(git --git-dir="$git_dir" describe --tags "$commit" 2>/dev/null || echo "$commit")
start=$(date +%s)
rm -rf "$root/src" && mkdir -p "$root/src" "$dest"
git --git-dir="$git_dir" archive "$commit" | tar -x -C "$root/src"
for tool in mongodump mongorestore; do
  (cd "$root/src" && CGO_ENABLED=0 go build -mod=vendor -trimpath \
    -ldflags "-s -w -X main.VersionStr=$version -X main.GitCommit=$commit" \
    -o "$dest/$tool" "./$tool/main")
done
rm -rf "$root/src"
echo "$commit" > "$dest/.commit"
echo "mongo-tools $version: built in $(( $(date +%s) - start ))s" >&2
echo "$dest"
