#!/usr/bin/env bash
# Downtime of the externalization, side by side in one run, on the test cluster with a real
# node (kubelet, containerd, runc) and the stand-in CircleCI Server chart, whose postgresql-0
# (PostgreSQL 12) and mongodb-0 (FerretDB) are real servers in pods; the targets (PostgreSQL
# TARGET_PG, FerretDB) listen on the node's address, the pod network's gateway:
#   a) the runbook exactly as CircleCI's page writes it, run in the pods: kubectl scale to
#      zero and wait; the passwords from the Secrets; in postgresql-0 `pg_dumpall -c` to a
#      file, sed out the postgres role's DROP/CREATE lines, `psql -f` it into the target; in
#      mongodb-0 `mongodump --db=circle_ghe` then `mongorestore --drop` into the target (the
#      real mongo-tools, built by scripts/install-mongo-tools.sh from a fetched mongo-tools:
#      FerretDB refuses the "ns" option mongorestore gives every index, so --noIndexRestore);
#      a Secret and a values overlay; helm upgrade --reuse-values --wait
#   b) decant migrate --image: both copies at once in a Job of decant's image in the cluster
#   c) decant migrate --data-path local: the copies through port-forwards and this machine
# (decant's preflight runs before the downtime and is not counted.) Downtime: from the
# scale-down to the release being back, ready. Data: pgbench at PGBENCH_SCALE plus APP_ROWS
# rows of bench/pg_app_events.sql (~640 MB), circle_ghe with DOCS documents
# (bench/mongo_circle_ghe.py), kept on the node's disk so that they outlive the StatefulSets
# (the chart's testing.dataHostPath). Between methods the release is rolled back and the
# targets emptied. Results: bench/results/migrate_<stamp>.md.
# Usage:   bench/migrate_bench.sh            (root: the real node; re-runs itself with sudo)
# Smoke:   PGBENCH_SCALE=1 APP_ROWS=10000 DOCS=20000 bench/migrate_bench.sh
# Env:     PGBENCH_SCALE (20) APP_ROWS (500000) DOCS (1000000) JOBS (nproc) TARGET_PG (17: the pods' client
#          tools are 17's, the npm servers have none, and pg_dumpall 17 writes LOCALE_PROVIDER,
#          which servers before 15 refuse)
#          DECANT (build/release/decant) RESULTS_DIR (bench/results) METHODS ("a b c")
#          KEEP=1 keeps the work directory (logs)
# Needs:   scripts/install-deps.sh, install-ferretdb.sh, install-pg-versions.sh, install-k8s.sh,
#          install-mongo-tools.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(id -u) == 0 ]] || exec sudo --preserve-env=PGBENCH_SCALE,APP_ROWS,DOCS,JOBS,TARGET_PG,DECANT,RESULTS_DIR,METHODS,KEEP \
  bash "$0" "$@"
DECANT=${DECANT:-$REPO/build/release/decant}
FERRETDB=${FERRETDB:-$REPO/build/tools/ferretdb}
PGBENCH_SCALE=${PGBENCH_SCALE:-20}
APP_ROWS=${APP_ROWS:-500000}
DOCS=${DOCS:-1000000}
JOBS=${JOBS:-$(nproc)}
TARGET_PG=${TARGET_PG:-17}
METHODS=${METHODS:-a b c}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench/results}
PG_CACHE=${DECANT_PG_CACHE:-/var/cache/decant/pg}
PGBIN=/usr/lib/postgresql/15/bin  # pgbench and psql here
TARGET_PGBIN=$PG_CACHE/$TARGET_PG/bin
export PATH=$PGBIN:$PATH

source "$REPO/bench/lib.sh"
[[ -x $DECANT ]] || die "missing $DECANT (cmake --preset release && cmake --build --preset release)"
[[ -x $FERRETDB ]] || die "missing $FERRETDB (scripts/install-ferretdb.sh)"
[[ -x $TARGET_PGBIN/postgres ]] || die "missing PostgreSQL $TARGET_PG (scripts/install-pg-versions.sh $TARGET_PG)"
[[ -x /var/cache/decant/k8s/bin/kubelet ]] || die "missing the cluster binaries (scripts/install-k8s.sh)"
tools=$(bash "$REPO/scripts/install-mongo-tools.sh") || die "mongodump/mongorestore cannot be built (above)"

work=$(mktemp -d /tmp/migrate_bench.XXXXXX)
cleanup() {
  K8S_RUN=$work/k8s K8S_NODE=real bash "$REPO/scripts/k8s/down.sh" --purge >/dev/null 2>&1 || true
  bench_cleanup
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

# The cluster, its images (the MongoDB one with the mongo-tools), the release.
export K8S_RUN=$work/k8s K8S_NODE=real
K8S_PORT_BASE=$(bash "$REPO/scripts/k8s/free-port-base.sh")
export K8S_PORT_BASE
bash "$REPO/scripts/k8s/up.sh" >/dev/null
MONGO_TOOLS=$tools bash "$REPO/scripts/k8s/test-images.sh" >&2
. "$K8S_RUN/env"
export BENCH_ADDRESS=$(. "$REPO/scripts/k8s/lib.sh"; echo "$NODE_IP")
ns=circleci-server
chart=$REPO/tests/k8s/circleci-server
mkdir -p "$work/data/postgresql" "$work/data/mongodb"
chown 999:999 "$work/data/postgresql" "$work/data/mongodb"
helm install circleci-server "$chart" -n $ns --create-namespace --wait --timeout 180s --set testing.realNode=true \
  --set-string "testing.dataHostPath=$work/data" --set-string postgresql.auth.password=bench-internal-pg \
  --set-string mongodb.auth.rootPassword=bench-internal-mongo >/dev/null
pod_ip() { kubectl -n $ns get pod "$1" -o jsonpath='{.status.podIP}'; }
pg_in_host=$(pod_ip postgresql-0)
MONGO_IN="mongodb://root:bench-internal-mongo@$(pod_ip mongodb-0):27017/?authSource=admin&directConnection=true"

pg_ex=$(free_port); start_pg external "$pg_ex" "$TARGET_PGBIN"
mg_ex=$(free_port); start_ferretdb external "$mg_ex" migrator bench-external-mongo
MONGO_EX="mongodb://migrator:bench-external-mongo@$BENCH_ADDRESS:$mg_ex/?authSource=admin"
PG_EX="host=$BENCH_ADDRESS port=$pg_ex user=migrator dbname=postgres password=bench-external-pg"
psql_ex() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_ex" -U postgres "$@"; }
log "internal PostgreSQL 12 and FerretDB in pods of the real node; external PostgreSQL $TARGET_PG and FerretDB on $BENCH_ADDRESS:$pg_ex and :$mg_ex ($work)"

log "generating pgbench scale $PGBENCH_SCALE + app_events $APP_ROWS rows, and about $DOCS documents, in the pods"
PGPASSWORD=bench-internal-pg load_pg_set 5432 "$PGBENCH_SCALE" "$APP_ROWS" "$pg_in_host"
load_mongo_set "$MONGO_IN" "$DOCS"
psql_ex -d postgres -c "CREATE ROLE migrator LOGIN SUPERUSER PASSWORD 'bench-external-pg'"
db_size=$(PGPASSWORD=bench-internal-pg psql -X -At -h "$pg_in_host" -U postgres -d postgres \
  -c "SELECT pg_size_pretty(sum(pg_database_size(datname))::bigint) FROM pg_database")
pg_state() {  # HOST PORT
  for q in "bench_pgbench SELECT count(*), sum(abalance) FROM pgbench_accounts" \
           "bench_app SELECT count(*), max(id), sum(hashtext(md5(payload) || note || attrs::text)) FROM app_events"; do
    PGPASSWORD=bench-internal-pg psql -X -At -h "$1" -p "$2" -U postgres -d "${q%% *}" -c "${q#* }" 2>/dev/null || true
  done
}
mongo_counts() { /usr/bin/python3 -c "
import sys; from pymongo import MongoClient
db = MongoClient(sys.argv[1]).circle_ghe
print(' '.join('%s=%d' % (c, db[c].count_documents({})) for c in sorted(db.list_collection_names())))" "$1"; }
expected_pg=$(pg_state "$pg_in_host" 5432); expected_mongo=$(mongo_counts "$MONGO_IN")
[[ -n $expected_pg && $expected_mongo == *builds=* ]] || die "the sources were not loaded: $expected_pg / $expected_mongo"

reset() {  # the release at revision 1 (the internal databases back, with their data), scaled up; the targets empty
  local rev; rev=$(helm -n $ns history circleci-server -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["revision"])')
  [[ $rev == 1 ]] || helm -n $ns rollback circleci-server 1 --wait --timeout 180s >/dev/null
  kubectl -n $ns scale deploy -l layer=application --replicas=1 >/dev/null
  kubectl -n $ns scale deploy frontend --replicas=2 >/dev/null
  kubectl -n $ns delete secret external-db decant-external-databases --ignore-not-found >/dev/null
  kubectl -n $ns delete configmap decant-migrate --ignore-not-found >/dev/null
  kubectl -n $ns rollout status deploy --timeout=180s >/dev/null
  kubectl -n $ns rollout status statefulset --timeout=180s >/dev/null
  for d in $(psql_ex -d postgres -Atc "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres','template0','template1')"); do
    psql_ex -d postgres -c "DROP DATABASE \"$d\""
  done
  for r in $(psql_ex -d postgres -Atc "SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\_%' AND rolname NOT IN ('postgres','migrator')"); do
    psql_ex -d postgres -c "DROP ROLE \"$r\""
  done
  /usr/bin/python3 -c "import sys; from pymongo import MongoClient; MongoClient(sys.argv[1]).drop_database('circle_ghe')" "$MONGO_EX"
  psql_ex -d postgres -c CHECKPOINT; sync; sleep 5
}
check_targets() {  # method: the targets hold what the sources held, the application is back
  [[ $(pg_state 127.0.0.1 "$pg_ex") == "$expected_pg" ]] || { status[$1]="failed: PostgreSQL $(pg_state 127.0.0.1 "$pg_ex" | tr '\n' ' ')"; return; }
  [[ $(mongo_counts "$MONGO_EX") == "$expected_mongo" ]] || { status[$1]="failed: MongoDB $(mongo_counts "$MONGO_EX")"; return; }
  [[ $(kubectl -n $ns get deploy frontend -o jsonpath='{.status.readyReplicas}') == 2 ]] || { status[$1]="failed: not ready"; return; }
  status[$1]=ok
}
# decant's phases from its report; in the cluster, the two copies' own times from the lines
# their containers said.
decant_figures() {  # method report log
  read -r "downtime[$1]" "scaled[$1]" "copies[$1]" "upgraded[$1]" "pgcopy[$1]" "mongocopy[$1]" < <(python3 - "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = {x["phase"]: x["seconds"] for x in r["phases"]}
copies = p.get("copy-in-cluster", p.get("postgresql-copy", 0) + p.get("mongodb-copy", 0))
print(r["downtime_seconds"], p.get("scale-down", 0), copies, p.get("secret", 0) + p.get("upgrade", 0) + p.get("ready", 0),
      p.get("postgresql-copy", "-"), p.get("mongodb-copy", "-"))
PY
)
  if [[ ${pgcopy[$1]} == - ]]; then
    pgcopy[$1]=$(said_seconds postgresql "$3")
    mongocopy[$1]=$(said_seconds mongodb "$3")
  fi
}
said_seconds() {  # container log: "copy complete and verified in 17s" or "in 3m59s"
  local t; t=$(sed -n "s/^$1: .*copy complete and verified in \([0-9hms]*\)$/\1/p" "$2" | tail -1)
  if [[ $t =~ ^([0-9]+)m([0-9]+)s$ ]]; then echo $((BASH_REMATCH[1] * 60 + 10#${BASH_REMATCH[2]}))
  elif [[ $t =~ ^([0-9]+)s$ ]]; then echo "${BASH_REMATCH[1]}"
  else echo -; fi
}
declare -A downtime scaled pgcopy mongocopy copies upgraded status notes

runbook() {  # a)
  local overlay=$work/runbook-values.yaml t0 t
  cat >"$overlay" <<EOF
postgresql: {internal: false, postgresqlHost: "$BENCH_ADDRESS", postgresqlPort: $pg_ex, auth: {username: migrator, existingSecret: external-db}}
mongodb: {internal: false, hosts: "$BENCH_ADDRESS:$mg_ex", ssl: false, tlsInsecure: false, options: "", auth: {username: migrator, database: admin, mechanism: SCRAM-SHA-1, existingSecret: external-db}}
EOF
  t0=$EPOCHREALTIME
  kubectl -n $ns scale deploy -l layer=application --replicas=0 >/dev/null
  kubectl -n $ns wait --for=delete pod -l layer=application --timeout=300s >/dev/null 2>&1 || true
  scaled[a]=$(since "$t0"); t=$EPOCHREALTIME
  local pg_password mongo_password
  pg_password=$(kubectl -n $ns get secret postgresql -o jsonpath='{.data.postgresql-password}' | base64 -d)
  mongo_password=$(kubectl -n $ns get secret mongodb -o jsonpath='{.data.mongodb-root-password}' | base64 -d)
  # Step 3 then step 4, as the page orders them: both dumps, then both restores.
  kubectl -n $ns exec postgresql-0 -- sh -c "export PGPASSWORD='$pg_password' && pg_dumpall -h 127.0.0.1 -U postgres -c > /tmp/postgres_backup.sql &&
    sed -i -e '/^DROP ROLE postgres;/d' -e '/^CREATE ROLE postgres;/d' /tmp/postgres_backup.sql" 2>"$work/a-dump.err" ||
    notes[a]+="pg_dumpall failed: $(tail -1 "$work/a-dump.err"); "
  local pg_dumped; pg_dumped=$(since "$t"); t=$EPOCHREALTIME
  kubectl -n $ns exec mongodb-0 -- mongodump --uri "mongodb://root:$mongo_password@127.0.0.1:27017/?authSource=admin" \
    --db=circle_ghe --out /tmp/dump >"$work/a-mongodump.log" 2>&1 || notes[a]+="mongodump failed; "
  local mongo_dumped; mongo_dumped=$(since "$t"); t=$EPOCHREALTIME
  kubectl -n $ns exec postgresql-0 -- sh -c "PGPASSWORD=bench-external-pg psql -X -q -h $BENCH_ADDRESS -p $pg_ex -U migrator -d postgres \
    -f /tmp/postgres_backup.sql >/dev/null 2>/tmp/psql.err; grep -c ERROR /tmp/psql.err; rm -f /tmp/postgres_backup.sql" >"$work/a-psql.out" 2>&1 || true
  pgcopy[a]=$(echo "$pg_dumped + $(since "$t")" | bc); t=$EPOCHREALTIME
  notes[a]+="psql errors: $(head -1 "$work/a-psql.out"); "
  kubectl -n $ns exec mongodb-0 -- sh -c "mongorestore --uri '$MONGO_EX' --drop --noIndexRestore /tmp/dump; rc=\$?; rm -rf /tmp/dump; exit \$rc" \
    >"$work/a-mongorestore.log" 2>&1 || notes[a]+="mongorestore failed: $(tail -1 "$work/a-mongorestore.log"); "
  mongocopy[a]=$(echo "$mongo_dumped + $(since "$t")" | bc)
  copies[a]=$(echo "${pgcopy[a]} + ${mongocopy[a]}" | bc); t=$EPOCHREALTIME
  kubectl -n $ns create secret generic external-db --from-literal=postgres-password=bench-external-pg \
    --from-literal=mongodb-passwords=bench-external-mongo --from-literal=mongodb-root-password=bench-external-mongo >/dev/null
  helm -n $ns upgrade circleci-server "$chart" --reuse-values -f "$overlay" --wait --timeout 300s >/dev/null
  upgraded[a]=$(since "$t"); downtime[a]=$(since "$t0")
  notes[a]+="no indexes but _id (--noIndexRestore); no verification"
}

decant_migrate() {  # method, data path arguments...
  local m=$1; shift
  # (CircleCI Server 4.x supports PostgreSQL 12-14: the 17 target needs --allow-unsupported-target.)
  if "$DECANT" migrate -n $ns --pg-target "$PG_EX" --mongo-target "$MONGO_EX" --allow-single-server --jobs "$JOBS" \
      --allow-unsupported-target \
      --chart "$chart" --state-dir "$work/$m-state" --report "$work/$m-report.json" "$@" >"$work/$m.log" 2>&1; then
    decant_figures "$m" "$work/$m-report.json" "$work/$m.log"
    notes[$m]="both copies verified"
  else
    status[$m]="failed: $(tail -1 "$work/$m.log")"
  fi
}

image=local/decant:$(sed -n 's/^project(decant VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
for m in $METHODS; do
  reset
  case $m in
    a) log "== a) the runbook, in the pods"; runbook ;;
    b) log "== b) decant migrate --image"; decant_migrate b --image "$image" --image-pull-policy Never ;;
    c) log "== c) decant migrate --data-path local"; decant_migrate c --data-path local ;;
    *) die "unknown method $m (a b c)" ;;
  esac
  [[ -n ${status[$m]:-} ]] || check_targets "$m"
  log "   ${status[$m]}: downtime ${downtime[$m]:-?}s"
done

stamp=$(date +%Y-%m-%d_%H%M%S)
mkdir -p "$RESULTS_DIR"
out=$RESULTS_DIR/migrate_$stamp.md
ratio() { [[ ${status[a]:-} == ok && -n ${1:-} ]] && printf '%.2fx' "$(echo "$1 / ${downtime[a]}" | bc -l)" || echo "-"; }
num() { [[ $1 =~ ^[0-9.]+$ ]] && printf '%.1f' "$1" || echo "-"; }
label() { case $1 in a) echo "a) runbook in the pods" ;; b) echo "b) decant migrate --image" ;; c) echo "c) decant migrate --data-path local" ;; esac; }
{
  echo "# Migration downtime benchmark on a real node, $stamp"
  echo
  echo "- host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM; jobs $JOBS"
  echo "- internal PostgreSQL 12 in postgresql-0 ($db_size: pgbench scale $PGBENCH_SCALE, app_events $APP_ROWS rows) -> PostgreSQL $TARGET_PG; FerretDB 1.24 in mongodb-0, circle_ghe ($expected_mongo) -> FerretDB; targets on the node's address $BENCH_ADDRESS"
  echo "- cluster: kube-apiserver, kubelet 1.36.3, containerd, runc (scripts/k8s/up.sh K8S_NODE=real), the stand-in chart; mongo-tools $("$tools/mongodump" --version 2>/dev/null | head -1 | awk '{print $NF}'); the pods' PostgreSQL client tools are 17's"
  echo "- copies: a) one after the other (dumps, then restores), b) at once, a Job per database, each with --jobs $JOBS, c) one after the other"
  echo
  echo "| method | downtime s | vs runbook | scale down s | PostgreSQL s | MongoDB s | copies s | secret + upgrade + ready s | status | notes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
  for k in $METHODS; do
    printf '| %s | %.1f | %s | %.1f | %s | %s | %.1f | %.1f | %s | %s |\n' "$(label "$k")" "${downtime[$k]:-0}" \
      "$(ratio "${downtime[$k]:-}")" "${scaled[$k]:-0}" "$(num "${pgcopy[$k]:-}")" "$(num "${mongocopy[$k]:-}")" "${copies[$k]:-0}" \
      "${upgraded[$k]:-0}" "${status[$k]}" "${notes[$k]:-}"
  done
} >"$out"
cat "$out"
log "results written to $out"
