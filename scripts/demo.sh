#!/usr/bin/env bash
# The runbook end to end on a throwaway Kubernetes cluster with a real node: builds decant
# and the test cluster's binaries (cached under /var/cache/decant/k8s), starts the cluster
# (etcd, kube-apiserver, controller-manager, scheduler; a kubelet with containerd, runc and
# CNI, kube-proxy, CoreDNS: scripts/k8s/up.sh K8S_NODE=real), builds its images without a
# registry (decant's own from the Dockerfile; PostgreSQL 12 with pg_partman 4.5.1 and
# FerretDB as CircleCI Server's internal databases: scripts/k8s/test-images.sh, cached),
# installs the stand-in CircleCI Server chart as release 4.10.0 (its postgresql-0 and
# mongodb-0 real servers in pods), loads sample data into them (roles, two databases, large
# objects, awkward types, pg_partman's daily partitions; circle_ghe with indexes), starts
# the external servers on the node's address (10.88.0.1, the pod network's gateway): a
# PostgreSQL 14 as CircleCI Server 4.10 requires it (TLS 1.3 only, with a certificate made
# here; pg_partman 4.5.1 offered beside 5.2.4, its default) and a MongoDB wire-protocol
# server (FerretDB 1.24), then runs `decant plan` and `decant migrate --image`: the copies
# run in the cluster as a Job of decant's image, both databases at once. Prints where the
# application points before and after. Needs root (the node: containers, a bridge,
# iptables); everything lives in a temporary directory that is removed on exit.
# Arguments go to `decant migrate`.
# CLUSTER=0 (no root needed): `decant pg copy` and `decant mongo copy` between local servers
# only; MONGO=0 leaves MongoDB out.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PG_CACHE=${DECANT_PG_CACHE:-/var/cache/decant/pg}
SOURCE_PG=12 TARGET_PG=14
KEEP=${KEEP:-0}
MONGO=${MONGO:-1}
CLUSTER=${CLUSTER:-1}
if [ "$CLUSTER" = 1 ] && [ "$(id -u)" != 0 ]; then exec sudo --preserve-env=KEEP,MONGO,SKIP_BUILD,MONGO_DOCS bash "$0" "$@"; fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash "$here/scripts/install-deps.sh"
  if [ "$MONGO" = 1 ]; then bash "$here/scripts/install-ferretdb.sh"; fi
  bash "$here/scripts/install-pg-versions.sh" "$SOURCE_PG" "$TARGET_PG" 17-client >/dev/null
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

start_server() {  # name port bindir listen-addresses [server settings...]
  local dir=$work/$1 port=$2 bin=$3 listen=$4
  shift 4
  as_pg "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  if [ $# -gt 0 ]; then  # TLS: a self-signed certificate for localhost, made here
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
      -keyout "$dir/server.key" -out "$dir/server.crt" 2>/dev/null
    chmod 600 "$dir/server.key"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/server.key" "$dir/server.crt"
  fi
  # Beside this machine's trusted loopback: password logins over TLS from the pod network.
  [ "$listen" = 127.0.0.1 ] || echo "hostssl all all ${POD_CIDR:-10.88.0.0/16} scram-sha-256" >> "$dir/pg_hba.conf"
  local settings="-p $port -k $work -c listen_addresses=$listen -c fsync=off"
  for s in "$@"; do settings+=" -c $s"; done
  as_pg "$bin/pg_ctl" -D "$dir" -w -l "$dir.log" -o "$settings" start >/dev/null
}
start_ferretdb() {  # name address port (not in a subshell: cleanup must know the pid)
  mkdir -p "$work/mongo-$1/data"
  "$FERRETDB" --handler=sqlite --sqlite-url="file:$work/mongo-$1/data/" --listen-addr="$2:$3" \
    --debug-addr="127.0.0.1:$(free_port)" --state-dir="$work/mongo-$1" --telemetry=disable --log-level=error \
    >"$work/mongo-$1.log" 2>&1 &
  ferret_pids+=($!)
  for _ in $(seq 100); do (echo >"/dev/tcp/$2/$3") 2>/dev/null && return; sleep 0.1; done
  echo "FerretDB did not start: $(tail -1 "$work/mongo-$1.log")" >&2; exit 1
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
target_bin=$(bash "$here/scripts/pg-installation.sh" "$TARGET_PG" "$work/pg$TARGET_PG" "$partman451" "$partman524")
ns=circleci-server
pg_internal=demo-internal-pg mongo_internal=demo-internal-mongo
if [ "$CLUSTER" = 1 ]; then
  # The throwaway cluster and its real node, with the stand-in CircleCI Server release.
  export K8S_RUN=$work/k8s K8S_NODE=real
  K8S_PORT_BASE=$(bash "$here/scripts/k8s/free-port-base.sh")
  export K8S_PORT_BASE
  echo "starting the cluster and its real node; building its images (the first time takes minutes)"
  bash "$here/scripts/k8s/up.sh" >/dev/null
  bash "$here/scripts/k8s/test-images.sh"
  . "$K8S_RUN/env"
  # The stand-in chart as CircleCI Server 4.10.0's: plan checks the targets against what 4.10 requires.
  chart=$work/circleci-server-4.10.0
  cp -r "$here/tests/k8s/circleci-server" "$chart"
  sed -i -e 's/^version:.*/version: 4.10.0/' -e 's/^appVersion:.*/appVersion: "4.10.0"/' "$chart/Chart.yaml"
  helm install circleci-server "$chart" -n $ns --create-namespace --wait --timeout 180s --set testing.realNode=true \
    --set-string "postgresql.auth.password=$pg_internal" --set-string "mongodb.auth.rootPassword=$mongo_internal" >/dev/null
  pod_ip() { kubectl -n $ns get pod "$1" -o jsonpath='{.status.podIP}'; }
  # This machine reaches the pods on the node's bridge: it loads the sample data there.
  src_pg="host=$(pod_ip postgresql-0) port=5432 user=postgres"
  src_mongo="mongodb://root:$mongo_internal@$(pod_ip mongodb-0):27017/?authSource=admin&directConnection=true"
  target_address=$(. "$here/scripts/k8s/lib.sh"; echo "$NODE_IP") target_listen=127.0.0.1,$target_address
  echo "the cluster is up (api https://127.0.0.1:$((base + 3))): postgresql-0 and mongodb-0 run in pods on the real node"
else
  source_bin=$(bash "$here/scripts/pg-installation.sh" "$SOURCE_PG" "$work/pg$SOURCE_PG" "$partman451")
  sport=$(free_port); start_server source "$sport" "$source_bin" 127.0.0.1
  src_pg="host=127.0.0.1 port=$sport user=postgres"
  target_address=127.0.0.1 target_listen=127.0.0.1
fi
tport=$(free_port)
start_server target "$tport" "$target_bin" "$target_listen" ssl=on ssl_min_protocol_version=TLSv1.3
echo "external PostgreSQL $TARGET_PG (TLS 1.3 only) on $target_address:$tport ($work)"

psql_src() { local db=$1; shift; PGPASSWORD=$pg_internal psql -X -q -o /dev/null -v ON_ERROR_STOP=1 "$src_pg dbname=$db" "$@"; }
psql_src postgres -c "CREATE ROLE circle LOGIN PASSWORD 'circle-secret'" -c "CREATE DATABASE circle OWNER circle" -c "CREATE DATABASE contexts OWNER circle"
psql_src circle <<'SQL'
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
psql_src contexts -c "CREATE EXTENSION pgcrypto; CREATE TABLE secrets (name text PRIMARY KEY, value bytea); INSERT INTO secrets SELECT 'k' || g, gen_random_bytes(32) FROM generate_series(1, 10000) g;"

echo "loaded the internal PostgreSQL"

if [ "$CLUSTER" = 0 ]; then
  echo "running: decant pg copy"
  "$DECANT" pg copy --source "$src_pg dbname=postgres" \
    --target "postgresql://postgres@127.0.0.1:$tport/postgres?sslmode=require" --state-dir "$work/state" \
    --report "$here/build/demo-report.json" "$@"
  echo "decant pg copy exited 0 (copied and verified); the JSON report is in build/demo-report.json"
fi
if [ "$MONGO" = 1 ]; then
  # The external MongoDB wants a login, as CircleCI Server's internal one does.
  export FERRETDB_TEST_ENABLE_NEW_AUTH=true FERRETDB_SETUP_DATABASE=admin
  if [ "$CLUSTER" = 0 ]; then
    msport=$(free_port)
    FERRETDB_SETUP_USERNAME=root FERRETDB_SETUP_PASSWORD=$mongo_internal start_ferretdb source 127.0.0.1 "$msport"
    src_mongo="mongodb://root:$mongo_internal@127.0.0.1:$msport/?authSource=admin"
  fi
  mtport=$(free_port)
  FERRETDB_SETUP_USERNAME=migrator FERRETDB_SETUP_PASSWORD=demo-external-mongo start_ferretdb target "$target_address" "$mtport"
  mongo_target="mongodb://migrator:demo-external-mongo@$target_address:$mtport/?authSource=admin"
  echo "external MongoDB (FerretDB) on $target_address:$mtport"
  /usr/bin/python3 "$here/bench/mongo_circle_ghe.py" "$src_mongo" "${MONGO_DOCS:-50000}" >/dev/null
  echo "loaded circle_ghe into the internal MongoDB"
  if [ "$CLUSTER" = 0 ]; then
    "$DECANT" mongo copy --source "$src_mongo" --target "$mongo_target" \
      --db circle_ghe --state-dir "$work/mongo-state" --report "$here/build/demo-mongo-report.json"
    echo "decant mongo copy exited 0 (copied and verified); the JSON report is in build/demo-mongo-report.json"
  fi
fi
[ "$CLUSTER" = 1 ] || exit 0

mongo_args=()
[ "$MONGO" = 1 ] && mongo_args=(--mongo-target "$mongo_target")
psql -X -q "host=127.0.0.1 port=$tport user=postgres dbname=postgres sslmode=require" \
  -c "CREATE ROLE migrator LOGIN SUPERUSER PASSWORD 'demo-external-pg'"
points() {
  kubectl -n $ns get deployment frontend -o jsonpath='{range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}' |
    tr ' ' '\n' | grep -E '^(POSTGRES_HOST|POSTGRES_PORT|MONGO_HOSTS)=' | tr '\n' ' '
  echo "($(kubectl -n $ns get deployment frontend -o jsonpath='{.status.readyReplicas}') ready)"
}
echo "the application points at: $(points)"
pg_target="host=$target_address port=$tport user=migrator dbname=postgres password=demo-external-pg sslmode=require"
image=local/decant:$(sed -n 's/^project(decant VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
image_args=(--image "$image" --image-pull-policy Never)
echo "== decant plan"
"$DECANT" plan -n $ns --pg-target "$pg_target" "${mongo_args[@]}" "${image_args[@]}" --allow-single-server \
  --daily-active-users 120 || { echo "decant plan found blockers" >&2; exit 1; }
echo "== decant migrate"
"$DECANT" migrate -n $ns --pg-target "$pg_target" "${mongo_args[@]}" "${image_args[@]}" --allow-single-server \
  --chart "$chart" --state-dir "$work/migrate-state" --report "$here/build/demo-migrate-report.json" "$@"
echo "decant migrate exited 0; the application now points at: $(points)"
echo "the JSON report (phases, downtime) is in build/demo-migrate-report.json"
