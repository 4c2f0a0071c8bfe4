#!/usr/bin/env bash
# Builds decant, starts two throwaway PostgreSQL 15 servers on free loopback ports,
# loads sample data (roles, two databases, pg_partman, large objects, awkward types)
# into the first, and runs `decant pg copy` from the first to the second.
# Everything lives in a temporary directory that is removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
KEEP=${KEEP:-0}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash "$here/scripts/install-deps.sh"
  cmake --preset release >/dev/null
  cmake --build --preset release --target decant >/dev/null
fi
DECANT=${DECANT:-$here/build/release/decant}

work=$(mktemp -d /tmp/decant-demo.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() {  # name port
  local dir=$work/$1
  as_pg "$PGBIN/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$dir" -w -l "$dir.log" -o "-p $2 -k $work -c listen_addresses=127.0.0.1 -c fsync=off -c shared_preload_libraries=pg_partman_bgw" start >/dev/null
}
cleanup() {
  for s in source target; do [ -d "$work/$s" ] && as_pg "$PGBIN/pg_ctl" -D "$work/$s" -m immediate stop >/dev/null 2>&1 || true; done
  [ "$KEEP" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

sport=$(free_port); start_server source "$sport"
tport=$(free_port); start_server target "$tport"
echo "source server on 127.0.0.1:$sport, target on 127.0.0.1:$tport ($work)"

psql_src() { psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$sport" -U postgres "$@"; }
psql_src -d postgres -c "CREATE ROLE circle LOGIN PASSWORD 'circle-secret'" -c "CREATE DATABASE circle OWNER circle" -c "CREATE DATABASE contexts OWNER circle"
psql_src -d circle <<'SQL'
CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman;
CREATE TYPE build_status AS ENUM ('queued', 'running', 'success', 'failed');
CREATE TABLE builds (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, status build_status NOT NULL,
  started timestamptz NOT NULL, config jsonb, log bytea, duration interval,
  cost numeric(12,2), label text, slug text GENERATED ALWAYS AS (lower(label)) STORED);
INSERT INTO builds (status, started, config, log, duration, cost, label)
SELECT (ARRAY['queued','running','success','failed'])[1 + g % 4]::build_status, now() - g * interval '1 minute',
       jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)), decode(md5(g::text), 'hex') || '\x00'::bytea,
       g * interval '1 second', g / 7.0, 'Build ' || g || ' ✓' FROM generate_series(1, 200000) g;
CREATE INDEX builds_started ON builds (started); CREATE INDEX builds_config ON builds USING gin (config);
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at);
SELECT partman.create_parent('public.events', 'at', 'native', 'daily', p_premake := 3, p_start_partition := (now() - interval '2 days')::text);
INSERT INTO events SELECT g, now() - (g % 48) * interval '1 hour', 'event ' || g FROM generate_series(1, 50000) g;
SELECT lo_from_bytea(0, convert_to(repeat('artifact ', 1000), 'UTF8')) FROM generate_series(1, 20);
SQL
psql_src -d contexts -c "CREATE TABLE secrets (name text PRIMARY KEY, value bytea); INSERT INTO secrets SELECT 'k' || g, gen_random_bytes(32) FROM generate_series(1, 10000) g;" 2>/dev/null \
  || psql_src -d contexts -c "CREATE EXTENSION pgcrypto; CREATE TABLE secrets (name text PRIMARY KEY, value bytea); INSERT INTO secrets SELECT 'k' || g, gen_random_bytes(32) FROM generate_series(1, 10000) g;"

echo "loaded the source; running: decant pg copy"
"$DECANT" pg copy --source "host=127.0.0.1 port=$sport user=postgres dbname=postgres" \
  --target "postgresql://postgres@127.0.0.1:$tport/postgres" --state-dir "$work/state" \
  --report "$here/build/demo-report.json" "$@"
echo "decant exited 0 (copied and verified); the JSON report is in build/demo-report.json"
