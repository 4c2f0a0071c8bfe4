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

# Not in a $(...) subshell: the server must be this shell's child, for cleanup and its CPU.
start_ferretdb() {  # name -> sets server_port and server_pid
  local dir=$work/$1 port debug
  mkdir -p "$dir/data"
  port=$(free_port); debug=$(free_port)
  "$FERRETDB" --handler=sqlite --sqlite-url="file:$dir/data/" --listen-addr="127.0.0.1:$port" \
    --debug-addr="127.0.0.1:$debug" --state-dir="$dir" --telemetry=disable --log-level=error >"$dir.log" 2>&1 &
  pids+=($!)
  server_pid=$!
  for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  server_port=$port
}

start_ferretdb source; sport=$server_port; spid=$server_pid
start_ferretdb target; tport=$server_port; tpid=$server_pid
SRC="mongodb://127.0.0.1:$sport/"
TGT="mongodb://127.0.0.1:$tport/"
log "source on 127.0.0.1:$sport, target on 127.0.0.1:$tport ($work)"

log "generating about $DOCS documents in circle_ghe"
gen_start=$EPOCHREALTIME
$PY "$REPO/bench/mongo_circle_ghe.py" "$SRC" "$DOCS"
log "generated in $(printf '%.1f' "$(echo "$EPOCHREALTIME - $gen_start" | bc)")s"

counts() { $PY -c "
import sys; from pymongo import MongoClient
db = MongoClient(sys.argv[1]).circle_ghe
print(' '.join('%s=%d' % (c, db[c].count_documents({})) for c in sorted(db.list_collection_names())))" "$1"; }
expected=$(counts "$SRC")
reset_target() { $PY -c "import sys; from pymongo import MongoClient; MongoClient(sys.argv[1]).drop_database('circle_ghe')" "$TGT"; }

# CPU seconds a server process has used so far: the servers' work per method shows what
# any copy must cost on them (FerretDB decodes JSON on every read).
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

declare -A seconds status source_cpu target_cpu
run_method() {  # key label command...
  local key=$1 label=$2; shift 2
  reset_target
  log "== $label"
  local s0 t0cpu t0=$EPOCHREALTIME rc=0
  s0=$(cpu_seconds "$spid"); t0cpu=$(cpu_seconds "$tpid")
  "$@" >"$work/$key.log" 2>&1 || rc=$?
  local t=$(echo "$EPOCHREALTIME - $t0" | bc)
  seconds[$key]=$(printf '%.2f' "$t")
  source_cpu[$key]=$(printf '%.1f' "$(echo "$(cpu_seconds "$spid") - $s0" | bc)")
  target_cpu[$key]=$(printf '%.1f' "$(echo "$(cpu_seconds "$tpid") - $t0cpu" | bc)")
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
declare -A labels=([a]="a) mongodump + mongorestore (dir)" [b]="b) mongodump --archive \\| mongorestore --archive" [c]="c) decant mongo copy")
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
  echo "| method | seconds | vs fastest peer | source server CPU s | target server CPU s | status |"
  echo "|---|---:|---:|---:|---:|---|"
  for k in a b c; do
    [[ -n ${seconds[$k]:-} ]] || continue
    ratio="-"; [[ -n $fastest ]] && ratio=$(printf '%.2fx' "$(echo "${seconds[$k]} / $fastest" | bc -l)")
    echo "| ${labels[$k]} | ${seconds[$k]} | $ratio | ${source_cpu[$k]} | ${target_cpu[$k]} | ${status[$k]} |"
  done
} | tee "$out"
log "results written to $out"
