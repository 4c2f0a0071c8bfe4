#!/usr/bin/env bash
# The real node's images for decant's tests and demo (image.sh; each made again only when what
# it is made of changed):
#   local/standin-app:1     the stand-in chart's application pods (Debian minbase: sleep)
#   local/postgresql:12     its postgresql-0: PostgreSQL 12 (the cached npm server) with
#                           pg_partman 4.5.1, tests/k8s/images/postgresql-entrypoint.sh; also
#                           a scratch server of `backup schedule`'s verify, as the official
#                           postgres image is one (POSTGRES_HOST_AUTH_METHOD, PGDATA); with
#                           the 17 client tools (psql, pg_dumpall, pg_isready: the npm server
#                           has none) for the runbook run in the pod (bench/migrate_bench.sh)
#   local/ferretdb:1.24     its mongodb-0: FerretDB (build/tools/ferretdb, SQLite backend); by
#                           default as the official mongo image: port 27017, data in /data/db;
#                           with mongodump and mongorestore when they are built
#   local/decant:VERSION    decant's own, from the repository's Dockerfile (Debian trixie)
# Usage: test-images.sh [standin-app postgresql ferretdb decant] (default: all). Needs root.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/../.." && pwd)
PG_CACHE=${DECANT_PG_CACHE:-/var/cache/decant/pg}
FERRETDB=${FERRETDB:-$ROOT/build/tools/ferretdb}
MONGO_TOOLS=${MONGO_TOOLS:-/var/cache/decant/mongo-tools/bin}
image() { bash "$HERE/image.sh" "$@"; }
key_of() { cat "$@" | sha256sum | cut -c1-32; } # FILE...: what an image is made of
version() { sed -n 's/^project(decant VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt"; }

for part in ${*:-standin-app postgresql ferretdb decant}; do
  case $part in
    standin-app) image standin-app:1 --cmd "sleep infinity" --key minbase-1 ;;
    postgresql)
      [ -x "$PG_CACHE/12/bin/postgres" ] && [ -x "$PG_CACHE/17-client/bin/pg_isready" ] ||
        die "$PG_CACHE/12 or 17-client missing: run scripts/install-pg-versions.sh"
      partman=$PG_CACHE/extensions/pg_partman-4.5.1
      [ -s "$partman/pg_partman.control" ] || die "$partman missing: run scripts/install-pg-extensions.sh"
      ext=$(mktemp -d); cp -a "$PG_CACHE/12/share/postgresql/extension/." "$partman/." "$ext/"
      image postgresql:12 --key "$(key_of "$0" "$PG_CACHE/12/bin/postgres" "$partman/pg_partman.control" \
          "$PG_CACHE/17-client/bin/"* \
          "$ROOT/tests/k8s/images/postgresql-entrypoint.sh")" \
        --add "$PG_CACHE/12/bin=/opt/postgresql/bin" --add "$PG_CACHE/12/lib=/opt/postgresql/lib" \
        --add "$PG_CACHE/12/share=/opt/postgresql/share" --add "$ext=/opt/postgresql/share/postgresql/extension" \
        --add "$ROOT/tests/k8s/images/postgresql-entrypoint.sh=/usr/local/bin/postgresql-entrypoint" \
        --run "useradd --uid 999 --user-group --no-create-home postgres" --cmd /usr/local/bin/postgresql-entrypoint \
        --add "$PG_CACHE/17-client=/opt/postgresql-client" \
        --run "ln -s /opt/postgresql-client/bin/* /usr/local/bin/"
      rm -rf "$ext" ;;
    ferretdb)
      [ -x "$FERRETDB" ] || die "$FERRETDB missing: run scripts/install-ferretdb.sh"
      # mongodump and mongorestore for the runbook run in the pod, when built
      # (scripts/install-mongo-tools.sh, from a fetched mongo-tools: bench/migrate_bench.sh).
      tools=() tool_files=()
      for t in mongodump mongorestore; do
        if [ -x "$MONGO_TOOLS/$t" ]; then tools+=(--add "$MONGO_TOOLS/$t=/usr/local/bin/$t"); tool_files+=("$MONGO_TOOLS/$t"); fi
      done
      image ferretdb:1.24 --key "$(key_of "$0" "$FERRETDB" "${tool_files[@]}")" --add "$FERRETDB=/usr/local/bin/ferretdb" "${tools[@]}" \
        --run "useradd --uid 999 --user-group --no-create-home ferretdb" --cmd /usr/local/bin/ferretdb \
        --env FERRETDB_HANDLER=sqlite --env FERRETDB_SQLITE_URL=file:/data/db/ --env FERRETDB_STATE_DIR=/data/db \
        --env FERRETDB_LISTEN_ADDR=:27017 --env FERRETDB_DEBUG_ADDR=- --env FERRETDB_TELEMETRY=disable ;;
    decant)
      # Keyed by the tracked sources the Dockerfile copies (what .dockerignore leaves).
      key=$(cd "$ROOT" && git ls-files -s -- Dockerfile .dockerignore CMakeLists.txt CMakePresets.json src |
        sha256sum | cut -c1-32)
      [ -z "$(cd "$ROOT" && git status --porcelain -- Dockerfile .dockerignore CMakeLists.txt CMakePresets.json src)" ] || key=dirty-$(date +%s)
      mkdir -p "$K8S_CACHE/ccache-image"
      image "decant:$(version)" --suite trixie --dockerfile "$ROOT/Dockerfile" --context "$ROOT" \
        --volume "$K8S_CACHE/ccache-image:/ccache" --key "$key" ;;
    *) die "unknown image $part (standin-app postgresql ferretdb decant)" ;;
  esac
done
