#!/usr/bin/env bash
# The runbook end to end on throwaway local servers and a throwaway Kubernetes cluster:
# builds decant and the test cluster's binaries (cached under /var/cache/decant/k8s),
# starts, on free loopback ports, a PostgreSQL 12 server with pg_partman 4.5.1 (what
# CircleCI Server 4.x runs in its cluster; servers from scripts/install-pg-versions.sh,
# pg_partman from scripts/install-pg-extensions.sh) and an external PostgreSQL 14 as
# CircleCI Server 4.10 requires it (TLS 1.3 only, with a certificate made here; pg_partman
# 4.5.1 offered beside 5.2.4, its default), two MongoDB wire-protocol servers (FerretDB
# 1.24, which speaks MongoDB 7.0); loads sample data into the internal ones (roles, two
# databases, large objects, awkward types, pg_partman's daily partitions; circle_ghe with
# indexes); starts the cluster (kube-apiserver, controller-manager, scheduler, etcd,
# kwok), installs the stand-in CircleCI Server chart as release 4.10.0, its postgresql-0
# and mongodb-0 pods mapped to the internal servers, then runs `decant plan` and `decant
# migrate`, printing where the application points before and after. Everything lives in a
# temporary directory that is removed on exit. Arguments go to `decant migrate`.
# CLUSTER=0 runs `decant pg copy` and `decant mongo copy` between the servers instead;
# MONGO=0 leaves MongoDB out.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PG_CACHE=${DECANT_PG_CACHE:-/var/cache/decant/pg}
SOURCE_PG=12 TARGET_PG=14
KEEP=${KEEP:-0}
MONGO=${MONGO:-1}
CLUSTER=${CLUSTER:-1}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash "$here/scripts/install-deps.sh"
  if [ "$MONGO" = 1 ]; then bash "$here/scripts/install-ferretdb.sh"; fi
  bash "$here/scripts/install-pg-versions.sh" "$SOURCE_PG" "$TARGET_PG" >/dev/null
  bash "$here/scripts/install-pg-extensions.sh" >/dev/null
  if [ "$CLUSTER" = 1 ]; then bash "$here/scripts/install-k8s.sh"; fi
  cmake --preset release >/dev/null
  cmake --build --preset release --target decant >/dev/null
fi
DECANT=${DECANT:-$here/build/release/decant}
FERRETDB=${FERRETDB:-$here/build/tools/ferretdb}
ferret_pids=()

work=$(mktemp -d /tmp/decant-demo.XXXXXX)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$work"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() {  # name port bindir [server settings...]
  local dir=$work/$1 port=$2 bin=$3
  shift 3
  as_pg "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  if [ $# -gt 0 ]; then  # TLS: a self-signed certificate for localhost, made here
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
      -keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
    chmod 600 "$dir/server.key"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/server.key" "$dir/server.crt"
  fi
  local settings="-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=off"
  for s in "$@"; do settings+=" -c $s"; done
  as_pg "$bin/pg_ctl" -D "$dir" -w -l "$dir.log" -o "$settings" start >/dev/null
}
cleanup() {
  if [ "$CLUSTER" = 1 ]; then K8S_RUN=$work/k8s bash "$here/scripts/k8s/down.sh" --purge >/dev/null 2>&1 || true; fi
  for p in "${ferret_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$work/source" ] && as_pg "$work/pg$SOURCE_PG/bin/pg_ctl" -D "$work/source" -m immediate stop >/dev/null 2>&1 || true
  [ -d "$work/target" ] && as_pg "$work/pg$TARGET_PG/bin/pg_ctl" -D "$work/target" -m immediate stop >/dev/null 2>&1 || true
  [ "$KEEP" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# The servers' installations offer pg_partman: 4.5.1 on the source; 4.5.1 and 5.2.4 (the
# default, which CircleCI Server does not support) on the target.
partman451=$PG_CACHE/extensions/pg_partman-4.5.1 partman524=$PG_CACHE/extensions/pg_partman-5.2.4
source_bin=$(bash "$here/scripts/pg-installation.sh" "$SOURCE_PG" "$work/pg$SOURCE_PG" "$partman451")
target_bin=$(bash "$here/scripts/pg-installation.sh" "$TARGET_PG" "$work/pg$TARGET_PG" "$partman451" "$partman524")
sport=$(free_port); start_server source "$sport" "$source_bin"
tport=$(free_port)
start_server target "$tport" "$target_bin" ssl=on ssl_min_protocol_version=TLSv1.3
echo "source PostgreSQL $SOURCE_PG on 127.0.0.1:$sport, target PostgreSQL $TARGET_PG (TLS 1.3 only) on 127.0.0.1:$tport ($work)"

psql_src() { psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$sport" -U postgres "$@"; }
psql_src -d postgres -c "CREATE ROLE circle LOGIN PASSWORD 'circle-secret'" -c "CREATE DATABASE circle OWNER circle" -c "CREATE DATABASE contexts OWNER circle"
psql_src -d circle <<'SQL'
CREATE EXTENSION pgcrypto;
CREATE TYPE build_status AS ENUM ('queued', 'running', 'success', 'failed');
CREATE TABLE builds (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, status build_status NOT NULL,
  started timestamptz NOT NULL, config jsonb, log bytea, duration interval,
  cost numeric(12,2), label text, slug text GENERATED ALWAYS AS (lower(label)) STORED);
INSERT INTO builds (status, started, config, log, duration, cost, label)
SELECT (ARRAY['queued','running','success','failed'])[1 + g % 4]::build_status, now() - g * interval '1 minute',
       jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)), decode(md5(g::text), 'hex') || '\x00'::bytea,
       g * interval '1 second', g / 7.0, 'Build ' || g || ' ✓' FROM generate_series(1, 200000) g;
CREATE INDEX builds_started ON builds (started); CREATE INDEX builds_config ON builds USING gin (config);
CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman VERSION '4.5.1';
CREATE TABLE events (id bigint NOT NULL, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at);
SELECT partman.create_parent('public.events', 'at', 'native', 'daily', p_premake := 4,
                             p_start_partition := (now()::date - 90)::text);
INSERT INTO events SELECT g, now() - (g % 2000) * interval '1 hour', 'event ' || g FROM generate_series(1, 50000) g;
SELECT lo_from_bytea(0, convert_to(repeat('artifact ', 1000), 'UTF8')) FROM generate_series(1, 20);
SQL
psql_src -d contexts -c "CREATE EXTENSION pgcrypto; CREATE TABLE secrets (name text PRIMARY KEY, value bytea); INSERT INTO secrets SELECT 'k' || g, gen_random_bytes(32) FROM generate_series(1, 10000) g;"

if [ "$CLUSTER" = 0 ]; then
  echo "loaded the source; running: decant pg copy"
  "$DECANT" pg copy --source "host=127.0.0.1 port=$sport user=postgres dbname=postgres" \
    --target "postgresql://postgres@127.0.0.1:$tport/postgres?sslmode=require" --state-dir "$work/state" \
    --report "$here/build/demo-report.json" "$@"
  echo "decant pg copy exited 0 (copied and verified); the JSON report is in build/demo-report.json"
fi
start_ferretdb() {  # name port (not in a subshell: cleanup must know the pid)
  mkdir -p "$work/mongo-$1/data"
  "$FERRETDB" --handler=sqlite --sqlite-url="file:$work/mongo-$1/data/" --listen-addr="127.0.0.1:$2" \
    --debug-addr="127.0.0.1:$(free_port)" --state-dir="$work/mongo-$1" --telemetry=disable --log-level=error \
    >"$work/mongo-$1.log" 2>&1 &
  ferret_pids+=($!)
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return; sleep 0.1; done
  echo "FerretDB did not start: $(tail -1 "$work/mongo-$1.log")" >&2; exit 1
}
if [ "$MONGO" = 1 ]; then
  # With the cluster, the MongoDB servers want a login, as CircleCI Server's does.
  if [ "$CLUSTER" = 1 ]; then
    export FERRETDB_TEST_ENABLE_NEW_AUTH=true FERRETDB_SETUP_DATABASE=admin FERRETDB_SETUP_USERNAME=root
    export FERRETDB_SETUP_PASSWORD=demo-internal-mongo
  fi
  msport=$(free_port); start_ferretdb source "$msport"
  [ "$CLUSTER" = 1 ] && export FERRETDB_SETUP_USERNAME=migrator FERRETDB_SETUP_PASSWORD=demo-external-mongo
  mtport=$(free_port); start_ferretdb target "$mtport"
  unset FERRETDB_SETUP_PASSWORD
  echo "MongoDB (FerretDB) source on 127.0.0.1:$msport, target on 127.0.0.1:$mtport"
  src_uri="mongodb://127.0.0.1:$msport/"
  [ "$CLUSTER" = 1 ] && src_uri="mongodb://root:demo-internal-mongo@127.0.0.1:$msport/?authSource=admin"
  /usr/bin/python3 "$here/bench/mongo_circle_ghe.py" "$src_uri" \
    "${MONGO_DOCS:-50000}" >/dev/null
  echo "loaded circle_ghe"
  if [ "$CLUSTER" = 0 ]; then
    "$DECANT" mongo copy --source "mongodb://127.0.0.1:$msport/" --target "mongodb://127.0.0.1:$mtport/" \
      --db circle_ghe --state-dir "$work/mongo-state" --report "$here/build/demo-mongo-report.json"
    echo "decant mongo copy exited 0 (copied and verified); the JSON report is in build/demo-mongo-report.json"
  fi
fi
[ "$CLUSTER" = 1 ] || exit 0

# The throwaway cluster, with the stand-in CircleCI Server release over the internal servers.
export K8S_RUN=$work/k8s
for base in $(seq 21000 10 31000); do
  busy=0; for i in 0 1 2 3 4 5 6; do (echo >"/dev/tcp/127.0.0.1/$((base + i))") 2>/dev/null && busy=1; done
  [ $busy = 0 ] && break
done
export K8S_PORT_BASE=$base
bash "$here/scripts/k8s/up.sh" >/dev/null
. "$K8S_RUN/env"
ns=circleci-server
bash "$here/scripts/k8s/map.sh" $ns postgresql-0 "5432=127.0.0.1:$sport" PGHOST=127.0.0.1 "PGPORT=$sport"
pg_internal=demo-internal-pg
mongo_args=()
if [ "$MONGO" = 1 ]; then
  bash "$here/scripts/k8s/map.sh" $ns mongodb-0 "27017=127.0.0.1:$msport"
  mongo_args=(--mongo-target "mongodb://migrator:demo-external-mongo@127.0.0.1:$mtport/?authSource=admin")
fi
# The stand-in chart as CircleCI Server 4.10.0's: plan checks the targets against what 4.10 requires.
chart=$work/circleci-server-4.10.0
cp -r "$here/tests/k8s/circleci-server" "$chart"
sed -i -e 's/^version:.*/version: 4.10.0/' -e 's/^appVersion:.*/appVersion: "4.10.0"/' "$chart/Chart.yaml"
helm install circleci-server "$chart" -n $ns --wait --timeout 120s \
  --set-string "postgresql.auth.password=$pg_internal" --set-string "mongodb.auth.rootPassword=demo-internal-mongo" >/dev/null
psql_src -d postgres -c "ALTER ROLE postgres PASSWORD '$pg_internal'"
psql -X -q "host=127.0.0.1 port=$tport user=postgres dbname=postgres sslmode=require" \
  -c "CREATE ROLE migrator LOGIN SUPERUSER PASSWORD 'demo-external-pg'"
points() {
  kubectl -n $ns get deployment frontend -o jsonpath='{range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}' |
    tr ' ' '\n' | grep -E '^(POSTGRES_HOST|POSTGRES_PORT|MONGO_HOSTS)=' | tr '\n' ' '
  echo "($(kubectl -n $ns get deployment frontend -o jsonpath='{.status.readyReplicas}') ready)"
}
echo "cluster up (api https://127.0.0.1:$((base + 3))); the application points at: $(points)"
pg_target="host=127.0.0.1 port=$tport user=migrator dbname=postgres password=demo-external-pg sslmode=require"
echo "== decant plan"
"$DECANT" plan -n $ns --pg-target "$pg_target" "${mongo_args[@]}" --allow-single-server --daily-active-users 120 || {
  echo "decant plan found blockers" >&2; exit 1; }
echo "== decant migrate"
"$DECANT" migrate -n $ns --pg-target "$pg_target" "${mongo_args[@]}" --allow-single-server --data-path local \
  --chart "$chart" --state-dir "$work/migrate-state" \
  --report "$here/build/demo-migrate-report.json" "$@"
echo "decant migrate exited 0; the application now points at: $(points)"
echo "the JSON report (phases, downtime) is in build/demo-migrate-report.json"
