#!/usr/bin/env bash
# Benchmark: copy a circle_ghe-like MongoDB database between two throwaway FerretDB 1.24
# servers (SQLite backend, free loopback ports), in one run, with
#   a  mongodump --out DIR + mongorestore DIR      (parallel collections and insertion workers)
#   b  mongodump --archive | mongorestore --archive
#   c  decant mongo copy
# and print seconds and decant's ratio to the fastest peer.
#
# Usage:  MONGODUMP=/path/mongodump MONGORESTORE=/path/mongorestore bench/mongo_copy_bench.sh
# Smoke:  DOCS=20000 bench/mongo_copy_bench.sh
# Env:    DOCS (1000000 documents in all)  JOBS (nproc)  DECANT (build/release/decant)
#         FERRETDB (build/tools/ferretdb, from scripts/install-ferretdb.sh)  RESULTS_DIR (bench/results)
# The peers are skipped (with a note) when MONGODUMP/MONGORESTORE are not given: the Go
# module proxy does not serve github.com/mongodb/mongo-tools, so decant cannot install them.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DECANT=${DECANT:-$REPO/build/release/decant}
FERRETDB=${FERRETDB:-$REPO/build/tools/ferretdb}
DOCS=${DOCS:-1000000}
JOBS=${JOBS:-$(nproc)}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench/results}
PY=/usr/bin/python3
export LC_NUMERIC=C

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -x $FERRETDB ]] || die "missing $FERRETDB (run scripts/install-ferretdb.sh)"
[[ -x $DECANT ]] || die "missing $DECANT (cmake --preset release && cmake --build --preset release)"
$PY -c 'import pymongo' 2>/dev/null || die "missing python3-pymongo (apt-get install python3-pymongo)"

work=$(mktemp -d /tmp/mongo_copy_bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_ferretdb() {  # name -> prints port
  local dir=$work/$1 port debug
  mkdir -p "$dir/data"
  port=$(free_port); debug=$(free_port)
  "$FERRETDB" --handler=sqlite --sqlite-url="file:$dir/data/" --listen-addr="127.0.0.1:$port" \
    --debug-addr="127.0.0.1:$debug" --state-dir="$dir" --telemetry=disable --log-level=error >"$dir.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  echo "$port"
}

sport=$(start_ferretdb source)
tport=$(start_ferretdb target)
SRC="mongodb://127.0.0.1:$sport/"
TGT="mongodb://127.0.0.1:$tport/"
log "source on 127.0.0.1:$sport, target on 127.0.0.1:$tport ($work)"

log "generating about $DOCS documents in circle_ghe"
gen_start=$EPOCHREALTIME
$PY - "$SRC" "$DOCS" <<'PYEOF'
import datetime, random, sys
from pymongo import MongoClient, InsertOne
uri, total = sys.argv[1], int(sys.argv[2])
db = MongoClient(uri).circle_ghe
rnd = random.Random(42)
base = datetime.datetime(2024, 1, 1)
# Shares of the documents per collection, and a maker for each (small and large documents,
# nested objects, arrays; FerretDB 1.24 stores no nested arrays).
def build(i):
    return {"build_num": i, "project": "gh/org/repo-%d" % (i % 500), "branch": "main" if i % 3 else "feature-%d" % i,
            "status": rnd.choice(["success", "failed", "running", "canceled"]), "queued_at": base + datetime.timedelta(seconds=i),
            "vcs": {"revision": "%040x" % rnd.getrandbits(160), "committer": {"name": "dev %d" % (i % 97), "email": "dev%d@example.com" % (i % 97)}},
            "workflow": {"id": "%032x" % rnd.getrandbits(128), "job_name": "test-%d" % (i % 20)},
            "parallel": i % 4 + 1, "tags": ["ci", "linux", "docker"][: i % 3 + 1]}
def step(i):
    return {"build_num": i // 4, "index": i % 4, "name": "step %d" % (i % 4), "exit_code": i % 7 == 0 and 1 or 0,
            "run_time_millis": rnd.randint(10, 600000), "started": base + datetime.timedelta(seconds=i)}
def action_log(i):
    return {"build_num": i, "output": "".join(rnd.choice("abcdefghij \n") for _ in range(3000)), "truncated": False}
def artifact(i):
    return {"build_num": i, "path": "/home/circleci/project/out/%d/report.xml" % i, "size": rnd.randint(1, 1 << 30),
            "url": "https://example.com/artifacts/%d" % i, "node_index": i % 4}
plan = [("builds", 0.35, build), ("steps", 0.45, step), ("artifacts", 0.17, artifact), ("action_logs", 0.03, action_log)]
for name, share, make in plan:
    n = int(total * share)
    coll = db[name]
    batch = []
    for i in range(n):
        batch.append(make(i))
        if len(batch) == 2000:
            coll.insert_many(batch, ordered=False); batch = []
    if batch:
        coll.insert_many(batch, ordered=False)
db.builds.create_index([("project", 1), ("build_num", -1)], unique=True)
db.builds.create_index([("queued_at", 1)])
db.steps.create_index([("build_num", 1), ("index", 1)])
db.artifacts.create_index([("build_num", 1)])
print({name: db[name].estimated_document_count() for name, _, _ in plan})
PYEOF
log "generated in $(printf '%.1f' "$(echo "$EPOCHREALTIME - $gen_start" | bc)")s"

counts() { $PY -c "
import sys; from pymongo import MongoClient
db = MongoClient(sys.argv[1]).circle_ghe
print(' '.join('%s=%d' % (c, db[c].count_documents({})) for c in sorted(db.list_collection_names())))" "$1"; }
expected=$(counts "$SRC")
reset_target() { $PY -c "import sys; from pymongo import MongoClient; MongoClient(sys.argv[1]).drop_database('circle_ghe')" "$TGT"; }

declare -A seconds status
run_method() {  # key label command...
  local key=$1 label=$2; shift 2
  reset_target
  log "== $label"
  local t0=$EPOCHREALTIME rc=0
  "$@" >"$work/$key.log" 2>&1 || rc=$?
  local t=$(echo "$EPOCHREALTIME - $t0" | bc)
  seconds[$key]=$(printf '%.2f' "$t")
  if [[ $rc -ne 0 ]]; then status[$key]="failed (exit $rc): $(tail -1 "$work/$key.log")"
  elif [[ $(counts "$TGT") != "$expected" ]]; then status[$key]="failed: wrong counts $(counts "$TGT")"
  else status[$key]=ok; fi
  log "   ${status[$key]} in ${seconds[$key]}s"
}

peers=()
if [[ -n ${MONGODUMP:-} && -n ${MONGORESTORE:-} ]]; then
  # FerretDB rejects the "ns" index option mongorestore sends: peers restore without
  # indexes (--noIndexRestore), which favours them; decant builds every index.
  dump_restore() {
    "$MONGODUMP" --uri "$SRC" --db circle_ghe --numParallelCollections "$JOBS" --out "$work/dump" &&
    "$MONGORESTORE" --uri "$TGT" --numParallelCollections "$JOBS" --numInsertionWorkersPerCollection "$JOBS" \
      --noIndexRestore --drop "$work/dump"
  }
  archive_pipe() {
    "$MONGODUMP" --uri "$SRC" --db circle_ghe --numParallelCollections "$JOBS" --archive |
    "$MONGORESTORE" --uri "$TGT" --numParallelCollections "$JOBS" --numInsertionWorkersPerCollection "$JOBS" \
      --noIndexRestore --drop --archive
  }
  run_method a "mongodump + mongorestore (directory)" dump_restore
  rm -rf "$work/dump"
  run_method b "mongodump --archive | mongorestore --archive" archive_pipe
  peers=(a b)
else
  log "MONGODUMP/MONGORESTORE not set: peers skipped"
fi
run_method c "decant mongo copy" "$DECANT" mongo copy --source "$SRC" --target "$TGT" --jobs "$JOBS" \
  --state-dir "$work/state"

fastest=""
for k in "${peers[@]}"; do
  [[ ${status[$k]} == ok ]] || continue
  if [[ -z $fastest ]] || (( $(echo "${seconds[$k]} < $fastest" | bc) )); then fastest=${seconds[$k]}; fi
done
declare -A labels=([a]="a) mongodump + mongorestore (dir)" [b]="b) mongodump --archive | mongorestore" [c]="c) decant mongo copy")
stamp=$(date +%Y-%m-%d_%H%M%S)
mkdir -p "$RESULTS_DIR"
out=$RESULTS_DIR/mongo_copy_$stamp.md
{
  echo "# MongoDB copy benchmark, $stamp"
  echo
  echo "- host: $(nproc) cores; FerretDB 1.24.2 (SQLite) as source and target; jobs: $JOBS"
  echo "- data: circle_ghe, $expected"
  echo "- peers restore with --noIndexRestore (FerretDB rejects mongorestore's index spec); decant builds all indexes"
  echo
  echo "| method | seconds | vs fastest peer | status |"
  echo "|---|---:|---:|---|"
  for k in a b c; do
    [[ -n ${seconds[$k]:-} ]] || continue
    ratio="-"; [[ -n $fastest ]] && ratio=$(printf '%.2fx' "$(echo "${seconds[$k]} / $fastest" | bc -l)")
    echo "| ${labels[$k]} | ${seconds[$k]} | $ratio | ${status[$k]} |"
  done
} | tee "$out"
log "results written to $out"
