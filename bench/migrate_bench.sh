#!/usr/bin/env bash
# Downtime of the externalization, side by side in one run, on the test cluster with the
# stand-in CircleCI Server chart whose internal PostgreSQL (12 when installed) and MongoDB
# (FerretDB) are local servers behind mapped pods:
#   a) the runbook, scripted: kubectl scale to zero and wait; read the password from the
#      Secret; kubectl exec postgresql-0 -- pg_dumpall -c | sed (the postgres role lines) |
#      psql into the target; the MongoDB part with decant's engine (`decant mongo copy
#      --drop`: the real mongodump/mongorestore cannot be installed here); a Secret and a
#      values overlay; helm upgrade --reuse-values --wait
#   b) decant migrate --chart (its preflight runs before the downtime and is not counted)
# Downtime: from the scale-down to the release being back, ready. Data: pgbench at
# PGBENCH_SCALE plus APP_ROWS rows of bench/pg_app_events.sql (~620 MB), circle_ghe with
# DOCS documents (bench/mongo_circle_ghe.py). Between methods the release is rolled back
# and the targets emptied. Results: bench/results/migrate_<stamp>.md.
# Usage:   bench/migrate_bench.sh
# Smoke:   PGBENCH_SCALE=1 APP_ROWS=10000 DOCS=20000 bench/migrate_bench.sh
# Env:     PGBENCH_SCALE (20) APP_ROWS (500000) DOCS (1000000) JOBS (nproc) SOURCE_PG (12)
#          DECANT (build/release/decant) RESULTS_DIR (bench/results)
# Needs:   scripts/install-deps.sh, install-ferretdb.sh, install-pg-versions.sh, install-k8s.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DECANT=${DECANT:-$REPO/build/release/decant}
FERRETDB=${FERRETDB:-$REPO/build/tools/ferretdb}
PGBENCH_SCALE=${PGBENCH_SCALE:-20}
APP_ROWS=${APP_ROWS:-500000}
DOCS=${DOCS:-1000000}
JOBS=${JOBS:-$(nproc)}
SOURCE_PG=${SOURCE_PG:-12}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench/results}
PGBIN=/usr/lib/postgresql/15/bin
SOURCE_PGBIN=$PGBIN
[[ $SOURCE_PG == 15 ]] || SOURCE_PGBIN=${DECANT_PG_CACHE:-/var/cache/decant/pg}/$SOURCE_PG/bin
export PATH=$PGBIN:$PATH

source "$REPO/bench/lib.sh"
[[ -x $DECANT ]] || die "missing $DECANT (cmake --preset release && cmake --build --preset release)"
[[ -x $FERRETDB ]] || die "missing $FERRETDB (scripts/install-ferretdb.sh)"
[[ -x $SOURCE_PGBIN/postgres ]] || die "missing PostgreSQL $SOURCE_PG (scripts/install-pg-versions.sh $SOURCE_PG)"
[[ -x /var/cache/decant/k8s/bin/kube-apiserver ]] || die "missing the cluster binaries (scripts/install-k8s.sh)"

work=$(mktemp -d /tmp/migrate_bench.XXXXXX)
cleanup() {
  K8S_RUN=$work/k8s bash "$REPO/scripts/k8s/down.sh" --purge >/dev/null 2>&1 || true
  bench_cleanup
  rm -rf "$work"
}
trap cleanup EXIT

pg_in=$(free_port); start_pg internal "$pg_in" "$SOURCE_PGBIN"
pg_ex=$(free_port); start_pg external "$pg_ex" "$PGBIN"
mg_in=$(free_port); start_ferretdb internal "$mg_in" root bench-internal-mongo
mg_ex=$(free_port); start_ferretdb external "$mg_ex" migrator bench-external-mongo
MONGO_IN="mongodb://root:bench-internal-mongo@127.0.0.1:$mg_in/?authSource=admin"
MONGO_EX="mongodb://migrator:bench-external-mongo@127.0.0.1:$mg_ex/?authSource=admin"
PG_EX="host=127.0.0.1 port=$pg_ex user=migrator dbname=postgres password=bench-external-pg"
psql_in() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_in" -U postgres "$@"; }
psql_ex() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_ex" -U postgres "$@"; }
log "internal PostgreSQL $SOURCE_PG :$pg_in, external PostgreSQL 15 :$pg_ex, FerretDB :$mg_in and :$mg_ex ($work)"

log "generating pgbench scale $PGBENCH_SCALE + app_events $APP_ROWS rows, and about $DOCS documents"
load_pg_set "$pg_in" "$PGBENCH_SCALE" "$APP_ROWS"
load_mongo_set "$MONGO_IN" "$DOCS"
psql_ex -d postgres -c "CREATE ROLE migrator LOGIN SUPERUSER PASSWORD 'bench-external-pg'"
db_size=$(psql_in -d postgres -Atc "SELECT pg_size_pretty(sum(pg_database_size(datname))::bigint) FROM pg_database")
pg_state() { psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d bench_pgbench -c 'SELECT count(*) FROM pgbench_accounts' 2>/dev/null
             psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d bench_app -c 'SELECT count(*), max(id) FROM app_events' 2>/dev/null; }
mongo_counts() { /usr/bin/python3 -c "
import sys; from pymongo import MongoClient
db = MongoClient(sys.argv[1]).circle_ghe
print(' '.join('%s=%d' % (c, db[c].count_documents({})) for c in sorted(db.list_collection_names())))" "$1"; }
expected_pg=$(pg_state "$pg_in"); expected_mongo=$(mongo_counts "$MONGO_IN")

# The cluster and the release.
export K8S_RUN=$work/k8s
for base in $(seq 21000 10 31000); do
  busy=0; for i in 0 1 2 3 4 5 6; do (echo >"/dev/tcp/127.0.0.1/$((base + i))") 2>/dev/null && busy=1; done
  [[ $busy == 0 ]] && break
done
export K8S_PORT_BASE=$base
bash "$REPO/scripts/k8s/up.sh" >/dev/null
. "$K8S_RUN/env"
ns=circleci-server
chart=$REPO/tests/k8s/circleci-server
bash "$REPO/scripts/k8s/map.sh" $ns postgresql-0 "5432=127.0.0.1:$pg_in" PGHOST=127.0.0.1 "PGPORT=$pg_in" "PATH=$PGBIN:/usr/bin:/bin"
bash "$REPO/scripts/k8s/map.sh" $ns mongodb-0 "27017=127.0.0.1:$mg_in"
helm install circleci-server "$chart" -n $ns --wait --timeout 120s \
  --set-string postgresql.auth.password=bench-internal-pg --set-string mongodb.auth.rootPassword=bench-internal-mongo >/dev/null

reset() {  # the release at revision 1, scaled up; the targets empty
  local rev; rev=$(helm -n $ns history circleci-server -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["revision"])')
  [[ $rev == 1 ]] || helm -n $ns rollback circleci-server 1 --wait --timeout 120s >/dev/null
  kubectl -n $ns scale deploy -l layer=application --replicas=1 >/dev/null
  kubectl -n $ns scale deploy frontend --replicas=2 >/dev/null
  kubectl -n $ns delete secret external-db decant-external-databases --ignore-not-found >/dev/null
  kubectl -n $ns delete configmap decant-migrate --ignore-not-found >/dev/null
  kubectl -n $ns rollout status deploy --timeout=120s >/dev/null
  for d in $(psql_ex -d postgres -Atc "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres','template0','template1')"); do
    psql_ex -d postgres -c "DROP DATABASE \"$d\""
  done
  for r in $(psql_ex -d postgres -Atc "SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\_%' AND rolname NOT IN ('postgres','migrator')"); do
    psql_ex -d postgres -c "DROP ROLE \"$r\""
  done
  /usr/bin/python3 -c "import sys; from pymongo import MongoClient; MongoClient(sys.argv[1]).drop_database('circle_ghe')" "$MONGO_EX"
  psql_ex -d postgres -c CHECKPOINT; sync; sleep 5
}
check_targets() {  # method key: the targets hold what the sources hold
  [[ $(pg_state "$pg_ex") == "$expected_pg" ]] || { status[$1]="failed: PostgreSQL $(pg_state "$pg_ex" | tr '\n' ' ')"; return; }
  [[ $(mongo_counts "$MONGO_EX") == "$expected_mongo" ]] || { status[$1]="failed: MongoDB $(mongo_counts "$MONGO_EX")"; return; }
  [[ $(kubectl -n $ns get deploy frontend -o jsonpath='{.status.readyReplicas}') == 2 ]] || { status[$1]="failed: not ready"; return; }
  status[$1]=ok
}
declare -A downtime scaled pgcopy mongocopy upgraded status notes

# ------------------------------------------------------------ a) the scripted runbook
reset
log "== a) the runbook, scripted"
overlay=$work/runbook-values.yaml
cat >"$overlay" <<EOF
postgresql: {internal: false, postgresqlHost: "127.0.0.1", postgresqlPort: $pg_ex, auth: {username: migrator, existingSecret: external-db}}
mongodb: {internal: false, hosts: "127.0.0.1:$mg_ex", ssl: false, tlsInsecure: false, options: "", auth: {username: migrator, database: admin, mechanism: SCRAM-SHA-1, existingSecret: external-db}}
EOF
t0=$EPOCHREALTIME
kubectl -n $ns scale deploy -l layer=application --replicas=0 >/dev/null
kubectl -n $ns wait --for=delete pod -l layer=application --timeout=300s >/dev/null 2>&1 || true
scaled[a]=$(since "$t0"); t=$EPOCHREALTIME
PG_PASSWORD=$(kubectl -n $ns get secret postgresql -o jsonpath='{.data.postgresql-password}' | base64 -d)
kubectl -n $ns exec postgresql-0 -- sh -c "export PGPASSWORD='$PG_PASSWORD' && pg_dumpall -U postgres -c" 2>"$work/a-dump.err" |
  sed -e '/^DROP ROLE postgres;/d' -e '/^CREATE ROLE postgres;/d' |
  PGPASSWORD=bench-external-pg psql -X -q -h 127.0.0.1 -p "$pg_ex" -U migrator -d postgres >/dev/null 2>"$work/a-psql.err" || true
pgcopy[a]=$(since "$t"); t=$EPOCHREALTIME
notes[a]="psql errors: $(grep -c ERROR "$work/a-psql.err" || true)"
"$DECANT" mongo copy --source "$MONGO_IN" --target "$MONGO_EX" --db circle_ghe --drop --jobs "$JOBS" \
  --state-dir "$work/a-mongo-state" >"$work/a-mongo.log" 2>&1 || notes[a]+="; mongo copy failed"
mongocopy[a]=$(since "$t"); t=$EPOCHREALTIME
kubectl -n $ns create secret generic external-db --from-literal=postgres-password=bench-external-pg \
  --from-literal=mongodb-passwords=bench-external-mongo --from-literal=mongodb-root-password=bench-external-mongo >/dev/null
helm -n $ns upgrade circleci-server "$chart" --reuse-values -f "$overlay" --wait --timeout 300s >/dev/null
upgraded[a]=$(since "$t"); downtime[a]=$(since "$t0")
check_targets a
log "   ${status[a]}: downtime ${downtime[a]}s"

# ------------------------------------------------------------ b) decant migrate
reset
log "== b) decant migrate"
"$DECANT" migrate -n $ns --pg-target "$PG_EX" --mongo-target "$MONGO_EX" --allow-single-server --data-path local --jobs "$JOBS" \
  --chart "$chart" --state-dir "$work/b-state" --report "$work/b-report.json" >"$work/b.log" 2>&1 ||
  { status[b]="failed: $(tail -1 "$work/b.log")"; }
if [[ -z ${status[b]:-} ]]; then
  read -r downtime[b] scaled[b] pgcopy[b] mongocopy[b] upgraded[b] < <(python3 - "$work/b-report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = {x["phase"]: x["seconds"] for x in r["phases"]}
print(r["downtime_seconds"], p.get("scale-down", 0), p.get("postgresql-copy", 0), p.get("mongodb-copy", 0),
      p.get("secret", 0) + p.get("upgrade", 0) + p.get("ready", 0))
PY
)
  check_targets b
fi
log "   ${status[b]}: downtime ${downtime[b]:-?}s"

stamp=$(date +%Y-%m-%d_%H%M%S)
mkdir -p "$RESULTS_DIR"
out=$RESULTS_DIR/migrate_$stamp.md
ratio() { [[ ${status[a]} == ok && -n ${1:-} ]] && printf '%.2fx' "$(echo "$1 / ${downtime[a]}" | bc -l)" || echo "-"; }
{
  echo "# Migration downtime benchmark, $stamp"
  echo
  echo "- host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM; jobs $JOBS"
  echo "- internal PostgreSQL $SOURCE_PG ($db_size: pgbench scale $PGBENCH_SCALE, app_events $APP_ROWS rows) -> PostgreSQL 15; FerretDB circle_ghe ($expected_mongo) -> FerretDB"
  echo "- cluster: kube-apiserver 1.36.3 + kwok, stand-in chart; the runbook's MongoDB part uses decant mongo copy (no mongo-tools here)"
  echo
  echo "| method | downtime s | vs runbook | scale down s | PostgreSQL s | MongoDB s | secret + upgrade + ready s | status | notes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
  for k in a b; do
    label=$([[ $k == a ]] && echo "a) runbook, scripted" || echo "b) decant migrate")
    printf '| %s | %.1f | %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n' "$label" "${downtime[$k]:-0}" \
      "$(ratio "${downtime[$k]:-}")" "${scaled[$k]:-0}" "${pgcopy[$k]:-0}" "${mongocopy[$k]:-0}" "${upgraded[$k]:-0}" \
      "${status[$k]}" "${notes[$k]:-}"
  done
} >"$out"
cat "$out"
log "results written to $out"
