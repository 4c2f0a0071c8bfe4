#!/usr/bin/env bash
# Benchmark: copy a whole PostgreSQL 15 instance (roles + every database) from a
# "source" server to a "target" server with the usual tools, and with decant.
#
# Both servers are throwaway clusters started on free loopback ports, so nothing
# on the machine is touched. Methods, each on a freshly reset target:
#   a  runbook    pg_dumpall -c | sed | psql            (what ops runbooks do)
#   b  dump+rest  pg_dump -Fd -j N + pg_restore -j N    (careful manual way)
#   c  pgcopydb   pgcopydb clone, one database at a time
#   d  decant     decant pg copy                         (skipped if not built)
#   e  floor      pg_restore -j N of b's dumps only      (ingest-only lower bound)
# Peers are a, b, c: decant is compared with the fastest of them and with e.
#
# Every peer runs at its fastest settings: pg_dump without compression (-Z0), as many
# jobs as decant gets.
#
# Data sets (DATASET):
#   size   (default) pgbench at PGBENCH_SCALE plus APP_ROWS rows of a wide table: ~620 MB
#   many   TABLES small tables (20 rows, a primary key each) in one database, as
#          pg_partman leaves thousands of partitions
#
# Usage:   bench/pg_copy_bench.sh            DATASET=many TABLES=3000 bench/pg_copy_bench.sh
# Smoke:   PGBENCH_SCALE=1 APP_ROWS=10000 bench/pg_copy_bench.sh
# Env:     DATASET (size)  TABLES (3000)  PGBENCH_SCALE (20)  APP_ROWS (500000)  JOBS (nproc)
#          DECANT (build/release/decant)  PGBIN (/usr/lib/postgresql/15/bin)
#          PGCOPYDB_FLAGS (extra pgcopydb clone flags)  BENCH_TMPDIR (${TMPDIR:-/tmp})
#          RESULTS_DIR (bench/results)  KEEP_WORK=1 keeps the temp dir (logs, dumps)
#          SETTLE_SECS (5) idle seconds after each target reset
#          METHODS ("a b c d e") the methods to run, e.g. METHODS="a d" while working on decant
#          ROUNDS (3) rounds of all methods; each method's median is reported (its rounds in
#                 the notes): on a shared machine one round's times vary by a third
# Needs:   postgresql-15, postgresql-contrib, pgcopydb, python3 (optional)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DECANT=${DECANT:-$REPO/build/release/decant}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DATASET=${DATASET:-size}
TABLES=${TABLES:-3000}
PGBENCH_SCALE=${PGBENCH_SCALE:-20}
APP_ROWS=${APP_ROWS:-500000}
JOBS=${JOBS:-$(nproc)}
PGCOPYDB_FLAGS=${PGCOPYDB_FLAGS:-}
BENCH_TMPDIR=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench/results}
KEEP_WORK=${KEEP_WORK:-0}
SETTLE_SECS=${SETTLE_SECS:-5}
METHODS=${METHODS:-a b c d e}
ROUNDS=${ROUNDS:-3}

# Ambient libpq settings must not redirect any client to another server.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS PGSSLMODE
export PGUSER=postgres PGCONNECT_TIMEOUT=10
export LC_NUMERIC=C          # EPOCHREALTIME and printf must use '.' as decimal point
export PATH="$PGBIN:$PATH"   # pgcopydb runs pg_dump/pg_restore from PATH: use the v15 ones

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- preflight
[[ $PGBENCH_SCALE =~ ^[1-9][0-9]*$ ]] || die "PGBENCH_SCALE must be a positive integer"
[[ $APP_ROWS =~ ^[1-9][0-9]*$ ]] || die "APP_ROWS must be a positive integer"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "JOBS must be a positive integer"
[[ $TABLES =~ ^[1-9][0-9]*$ ]] || die "TABLES must be a positive integer"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $SETTLE_SECS =~ ^[0-9]+$ ]] || die "SETTLE_SECS must be a whole number of seconds"
[[ $DATASET == size || $DATASET == many ]] || die "DATASET must be size or many"
for t in initdb pg_ctl postgres psql pg_dump pg_dumpall pg_restore pgbench; do
  [[ -x $PGBIN/$t ]] || die "missing $PGBIN/$t (apt-get install -y postgresql-15 postgresql-contrib, or set PGBIN)"
done
command -v pgcopydb >/dev/null || die "missing pgcopydb (apt-get install -y pgcopydb)"
for t in sed awk; do command -v "$t" >/dev/null || die "missing $t"; done

# initdb/postgres refuse to run as root; clients may stay root (they use TCP).
if [[ $EUID -eq 0 ]]; then
  command -v runuser >/dev/null || die "missing runuser (util-linux)"
  id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# ---------------------------------------------------------------- servers
WORK=$(mktemp -d "$BENCH_TMPDIR/pg_copy_bench.XXXXXX")
LOGS=$WORK/logs
DUMP=$WORK/dump
mkdir -p "$LOGS"
[[ $EUID -eq 0 ]] && chown -R postgres: "$WORK"   # servers write data, sockets and logs here
STARTED=()

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  for dir in "${STARTED[@]}"; do
    as_pg "$PGBIN/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null 2>&1 \
      || as_pg "$PGBIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1
  done
  if [[ $KEEP_WORK == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two distinct free ports; binding both at once keeps them distinct.
free_ports() {
  if command -v python3 >/dev/null; then
    python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))'
  else
    local p found=()
    for ((p = 54320 + RANDOM % 2000; ${#found[@]} < 2 && p < 65000; p++)); do
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || found+=("$p")
    done
    echo "${found[@]}"
  fi
}

start_server() { # name port
  local name=$1 port=$2 dir=$WORK/$1
  as_pg "$PGBIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    >"$LOGS/initdb-$name.log" 2>&1 || { cat "$LOGS/initdb-$name.log" >&2; die "initdb $name failed"; }
  # Sized for a 2-core / 24 GB box; identical on both sides. fsync stays on on purpose.
  cat >>"$dir/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$WORK'
shared_buffers = 1GB
effective_cache_size = 16GB
work_mem = 64MB
maintenance_work_mem = 1GB
wal_buffers = 64MB
max_wal_size = 4GB
min_wal_size = 1GB
checkpoint_timeout = 30min
checkpoint_completion_target = 0.9
max_parallel_workers = 2
max_parallel_maintenance_workers = 2
max_parallel_workers_per_gather = 1
# pg_dump (and its -j workers) lock every table at once: 10,000 tables need room.
max_locks_per_transaction = 256
fsync = on
synchronous_commit = on
log_min_messages = warning
EOF
  cat >"$dir/pg_hba.conf" <<EOF
local all all trust
host  all all 127.0.0.1/32 trust
EOF
  as_pg "$PGBIN/pg_ctl" -D "$dir" -l "$LOGS/$name.log" -w -t 120 start >/dev/null \
    || { tail -n 20 "$LOGS/$name.log" >&2; die "could not start $name server"; }
  STARTED+=("$dir")
}

read -r SRC_PORT TGT_PORT < <(free_ports)
[[ -n ${SRC_PORT:-} && -n ${TGT_PORT:-} ]] || die "could not find two free ports"
log "work dir $WORK; source on 127.0.0.1:$SRC_PORT, target on 127.0.0.1:$TGT_PORT"
start_server source "$SRC_PORT"
start_server target "$TGT_PORT"

psql_src() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SRC_PORT" "$@"; }
psql_tgt() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TGT_PORT" "$@"; }

# ---------------------------------------------------------------- data set
t_gen=$EPOCHREALTIME
if [[ $DATASET == size ]]; then
  log "generating data: pgbench scale $PGBENCH_SCALE, app_events $APP_ROWS rows"
  psql_src -d postgres -c 'CREATE DATABASE bench_pgbench' -c 'CREATE DATABASE bench_app'
  pgbench -i -q -s "$PGBENCH_SCALE" -h 127.0.0.1 -p "$SRC_PORT" bench_pgbench >"$LOGS/pgbench-init.log" 2>&1 \
    || { tail -n 20 "$LOGS/pgbench-init.log" >&2; die "pgbench -i failed"; }

  psql_src -d bench_app -v rows="$APP_ROWS" -f "$REPO/bench/pg_app_events.sql"
else
  log "generating data: $TABLES small tables with a primary key each"
  psql_src -d postgres -c 'CREATE DATABASE bench_many'
  psql_src -d bench_many -v tables="$TABLES" <<'SQL'
SELECT format('CREATE TABLE part_%s (id bigint PRIMARY KEY, at timestamptz NOT NULL, note text); '
              'INSERT INTO part_%s SELECT g, timestamptz ''2024-01-01 00:00+00'' + g * interval ''1 hour'', '
              '''note '' || g FROM generate_series(1, 20) g', i, i)
FROM generate_series(1, :tables) i \gexec
VACUUM ANALYZE;
CHECKPOINT;
SQL
fi
gen_secs=$(awk -v a="$t_gen" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

mapfile -t DBS < <(psql_src -d postgres -Atc \
  "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1') ORDER BY 1")
DB_SIZES=$(psql_src -d postgres -Atc "SELECT string_agg(format('%s %s', datname, pg_size_pretty(pg_database_size(datname))), ', ' ORDER BY datname) || ' (total ' || pg_size_pretty(sum(pg_database_size(datname))) || ')' FROM pg_database WHERE datname LIKE 'bench_%'")
log "data generated in ${gen_secs}s: $DB_SIZES"

# What a correct copy must reproduce; compared after every method.
expected_state() { # psql function, runs against one server
  local fn=$1
  if [[ $DATASET == size ]]; then
    "$fn" -d bench_pgbench -Atc "SELECT 'accounts=' || count(*) FROM pgbench_accounts" &&
    "$fn" -d bench_app -Atc "SELECT 'app_events=' || count(*) FROM app_events" &&
    "$fn" -d bench_app -Atc "SELECT 'app_events_id_seq=' || last_value FROM app_events_id_seq" || return
  else
    "$fn" -d bench_many -Atc "SELECT 'tables=' || count(*) FROM pg_tables WHERE schemaname = 'public'" &&
    "$fn" -d bench_many -Atc "SELECT 'rows_of_last=' || count(*) FROM part_$TABLES" || return
  fi
  for db in "${DBS[@]}"; do
    "$fn" -d "$db" -Atc "SELECT '$db.indexes=' || count(*) FROM pg_indexes WHERE schemaname = 'public'" || return
  done
}
EXPECTED=$(expected_state psql_src)
if [[ $DATASET == size ]]; then
  [[ $EXPECTED == "accounts=$((PGBENCH_SCALE * 100000))"$'\n'"app_events=$APP_ROWS"$'\n'* ]] \
    || die "unexpected source state: $EXPECTED"
else
  [[ $EXPECTED == "tables=$TABLES"$'\n'"rows_of_last=20"$'\n'* ]] || die "unexpected source state: $EXPECTED"
fi

# ---------------------------------------------------------------- methods
SRC_URI="postgres://postgres@127.0.0.1:$SRC_PORT"
TGT_URI="postgres://postgres@127.0.0.1:$TGT_PORT"
# Dumps carry the bootstrap superuser, which already exists on the target.
strip_postgres_role() { sed -e '/^DROP ROLE IF EXISTS postgres;/d' -e '/^CREATE ROLE postgres;/d' -e '/^DROP ROLE postgres;/d'; }

# Give every method the same empty target, with the previous one's dirty pages flushed.
# The previous method's databases are renamed out of the way, not dropped: on an ext4
# without a journal the kernel does not reuse an inode freed less than 60 s ago (300 s
# while its inode-table block is unwritten; fs/ext4/ialloc.c, recently_deleted) and scans
# past every such inode for each file it creates, so after dropping thousands of relation
# files every CREATE TABLE of the next minutes costs more (measured here: the kernel in
# recently_deleted, the first 1,500 of 3,000 tables' pre-data 1.5-2.5x slower than the
# rest). A migration's new target has no such past. (On such a filesystem, also leave
# five minutes between two runs of this script, whose clean-up deletes its servers.)
RESETS=0  # numbers the renamed databases
reset_target() {
  RESETS=$((RESETS + 1))
  psql_tgt -d postgres -v reset="$RESETS" >/dev/null <<'SQL'
SELECT format('ALTER DATABASE %I RENAME TO %I', datname, 'used' || :reset || '_' || datname) FROM pg_database
 WHERE datname NOT IN ('postgres', 'template0', 'template1') AND datname !~ '^used[0-9]+_' \gexec
SELECT format('DROP OWNED BY %I', rolname) FROM pg_roles
 WHERE rolname !~ '^pg_' AND rolname <> 'postgres' \gexec
SELECT format('DROP ROLE %I', rolname) FROM pg_roles
 WHERE rolname !~ '^pg_' AND rolname <> 'postgres' \gexec
CHECKPOINT;
SQL
  sync
  sleep "$SETTLE_SECS"
}

# Last error-looking line of a tool's log, for the notes column.
last_error() {
  { grep -E 'FATAL|ERROR|error' "$1" || tail -n 1 "$1"; } 2>/dev/null | tail -n 1 \
    | sed -E 's/^[0-9:]+ [0-9]+ (FATAL|ERROR) +//' | cut -c1-160
}

# Methods set T0/T1 around the measured part, and NOTE; non-zero return = failed.
# They run in an `if`, where set -e is off, so every step checks its own status.
m_runbook() {
  local rcs errors
  # -c also drops/recreates template1 and postgres; --if-exists spares the fresh target
  # "database does not exist" errors, which the runbook would ignore anyway.
  T0=$EPOCHREALTIME
  pg_dumpall -c --if-exists -h 127.0.0.1 -p "$SRC_PORT" 2>"$LOGS/a-pg_dumpall.err" \
    | strip_postgres_role \
    | psql -X -q -h 127.0.0.1 -p "$TGT_PORT" -d postgres >"$LOGS/a-psql.out" 2>"$LOGS/a-psql.err"
  rcs=("${PIPESTATUS[@]}")
  T1=$EPOCHREALTIME
  errors=$(grep -c 'ERROR:' "$LOGS/a-psql.err" || true)
  NOTE="pg_dumpall rc=${rcs[0]}, psql rc=${rcs[2]}, $errors SQL errors ignored"
  ((rcs[0] == 0))
}

m_dump_restore() {
  local db
  mkdir -p "$DUMP" || return
  T0=$EPOCHREALTIME
  pg_dumpall --globals-only -h 127.0.0.1 -p "$SRC_PORT" -f "$DUMP/globals.sql" || { NOTE="pg_dumpall --globals-only failed"; return 1; }
  for db in "${DBS[@]}"; do
    pg_dump -Fd -Z0 -j "$JOBS" -h 127.0.0.1 -p "$SRC_PORT" -d "$db" -f "$DUMP/$db" 2>>"$LOGS/b.log" \
      || { NOTE="pg_dump $db failed"; return 1; }
  done
  strip_postgres_role <"$DUMP/globals.sql" | psql_tgt -d postgres >>"$LOGS/b.log" 2>&1 \
    || { NOTE="restoring globals failed"; return 1; }
  for db in "${DBS[@]}"; do
    pg_restore -j "$JOBS" --create -h 127.0.0.1 -p "$TGT_PORT" -d postgres "$DUMP/$db" 2>>"$LOGS/b.log" \
      || { NOTE="pg_restore $db failed"; return 1; }
  done
  T1=$EPOCHREALTIME
  NOTE="dump $(du -sh "$DUMP" | cut -f1), uncompressed (-Z0)"
}

m_pgcopydb() {
  local db
  T0=$EPOCHREALTIME
  for db in "${DBS[@]}"; do
    # pgcopydb copies into an existing database and one database per run.
    psql_tgt -d postgres -c "CREATE DATABASE \"$db\"" || { NOTE="CREATE DATABASE $db failed"; return 1; }
    # shellcheck disable=SC2086  # PGCOPYDB_FLAGS is a flag list
    pgcopydb clone --source "$SRC_URI/$db" --target "$TGT_URI/$db" \
      --table-jobs "$JOBS" --index-jobs "$JOBS" --dir "$WORK/pgcopydb-$round-$db" $PGCOPYDB_FLAGS \
      >>"$LOGS/c.log" 2>&1 || { NOTE="pgcopydb clone $db exited $?: $(last_error "$LOGS/c.log")"; return 1; }
  done
  T1=$EPOCHREALTIME
  NOTE="flags: --table-jobs $JOBS --index-jobs $JOBS${PGCOPYDB_FLAGS:+ $PGCOPYDB_FLAGS}"
}

m_decant() {
  local rc=0
  T0=$EPOCHREALTIME
  "$DECANT" pg copy \
    --source "host=127.0.0.1 port=$SRC_PORT dbname=postgres user=postgres" \
    --target "host=127.0.0.1 port=$TGT_PORT dbname=postgres user=postgres" \
    --jobs "$JOBS" >"$LOGS/d.log" 2>&1 || rc=$?
  T1=$EPOCHREALTIME
  NOTE="exit $rc"
  ((rc == 0)) || { NOTE+=": $(last_error "$LOGS/d.log")"; return 1; }
}

m_floor() {
  local db
  [[ -f $DUMP/globals.sql ]] || { NOTE="no dump from method b"; return 1; }
  # Roles are not data ingest: restore them untimed.
  strip_postgres_role <"$DUMP/globals.sql" | psql_tgt -d postgres >>"$LOGS/e.log" 2>&1 \
    || { NOTE="restoring globals failed"; return 1; }
  T0=$EPOCHREALTIME
  for db in "${DBS[@]}"; do
    pg_restore -j "$JOBS" --create -h 127.0.0.1 -p "$TGT_PORT" -d postgres "$DUMP/$db" 2>>"$LOGS/e.log" \
      || { NOTE="pg_restore $db failed"; return 1; }
  done
  T1=$EPOCHREALTIME
  NOTE="pg_restore -j $JOBS only"
}

KEYS=() LABELS=() SECS=() STATUS=() NOTES=()
run_method() { # key label function
  local key=$1 label=$2 fn=$3 secs="" status state
  [[ " $METHODS " == *" $key "* ]] || { skip_method "$key" "$label" "not in METHODS"; return; }
  log "== $key) $label"
  reset_target
  NOTE="" T0="" T1=""
  if "$fn"; then
    secs=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }')
    state=$(expected_state psql_tgt 2>&1) || true
    if [[ $state == "$EXPECTED" ]]; then
      status=ok
    else
      status=failed
      NOTE="sanity check: target has [${state//$'\n'/ }], want [${EXPECTED//$'\n'/ }]; $NOTE"
    fi
  else
    status=failed
    if [[ -n $T1 ]]; then secs=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.2f", b - a }'); fi
  fi
  if [[ $status == failed ]]; then # the work dir and its logs are gone after exit
    for f in "$LOGS/$key".log "$LOGS/$key"-*; do
      if [[ -s $f ]]; then echo "--- tail of $(basename "$f")" >&2; tail -n 15 "$f" >&2; fi
    done
  fi
  log "   $status${secs:+ in ${secs}s}${NOTE:+ ($NOTE)}"
  KEYS+=("$key") LABELS+=("$label") SECS+=("$secs") STATUS+=("$status") NOTES+=("$NOTE")
}

skip_method() { # key label reason
  log "== $1) $2: skipped, $3"
  KEYS+=("$1") LABELS+=("$2") SECS+=("") STATUS+=(skipped) NOTES+=("$3")
}

for ((round = 1; round <= ROUNDS; round++)); do
  log "round $round of $ROUNDS"
  DUMP=$WORK/dump-$round  # a new directory each round: deleting files slows creating them (reset_target)
  run_method a "runbook (pg_dumpall | psql)" m_runbook
  run_method b "pg_dump -Fd -Z0 -j$JOBS + pg_restore -j$JOBS" m_dump_restore
  run_method c "pgcopydb clone" m_pgcopydb
  if [[ -x $DECANT ]]; then
    run_method d "decant pg copy" m_decant
  else
    skip_method d "decant pg copy" "binary not found at $DECANT (build it or set DECANT)"
  fi
  run_method e "floor (pg_restore -j$JOBS only)" m_floor
done

# One line per method: the median of its rounds, ok only if every round was.
ROUND_KEYS=("${KEYS[@]}") ROUND_LABELS=("${LABELS[@]}") ROUND_SECS=("${SECS[@]}") ROUND_STATUS=("${STATUS[@]}")
ROUND_NOTES=("${NOTES[@]}")
KEYS=() LABELS=() SECS=() STATUS=() NOTES=()
for key in a b c d e; do
  secs=() status="" label="" note=""
  for i in "${!ROUND_KEYS[@]}"; do
    [[ ${ROUND_KEYS[i]} == "$key" ]] || continue
    label=${ROUND_LABELS[i]}
    case ${ROUND_STATUS[i]} in
      ok) secs+=("${ROUND_SECS[i]}"); status=${status:-ok}; note=${ROUND_NOTES[i]} ;;
      skipped) status=skipped; note=${ROUND_NOTES[i]} ;;
      *) status=failed; note=${ROUND_NOTES[i]} ;;
    esac
  done
  median=""
  if [[ $status == ok ]]; then
    median=$(printf '%s\n' "${secs[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    ((${#secs[@]} > 1)) && note="rounds ${secs[*]} s; $note"
  fi
  KEYS+=("$key") LABELS+=("$label") SECS+=("$median") STATUS+=("$status") NOTES+=("$note")
done

# ---------------------------------------------------------------- report
best_peer=""
floor=""
for i in "${!KEYS[@]}"; do
  [[ ${STATUS[i]} == ok ]] || continue
  case ${KEYS[i]} in
    a | b | c) best_peer=$(awk -v x="${SECS[i]}" -v y="$best_peer" 'BEGIN { print (y == "" || x < y) ? x : y }') ;;
    e) floor=${SECS[i]} ;;
  esac
done
ratio() { # value base
  [[ -n $1 && -n $2 ]] || { echo "-"; return; }
  awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.2fx", x / y; else print "-" }'
}

STAMP=$(date +%Y-%m-%d_%H%M%S)
mkdir -p "$RESULTS_DIR"
OUT=$RESULTS_DIR/pg_copy_$([[ $DATASET == size ]] && echo size || echo "many${TABLES}")_$STAMP.md
{
  echo "# PostgreSQL instance copy benchmark, $STAMP"
  echo
  echo "- host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
  echo "- $("$PGBIN/postgres" --version), $(pgcopydb --version 2>/dev/null | head -n 1)"
  if [[ $DATASET == size ]]; then
    echo "- data: pgbench scale $PGBENCH_SCALE + app_events $APP_ROWS rows; $DB_SIZES"
  else
    echo "- data: $TABLES small tables (20 rows, a primary key each); $DB_SIZES"
  fi
  echo "- jobs: $JOBS; both servers: shared_buffers=1GB, max_wal_size=4GB, checkpoint_timeout=30min, fsync=on"
  echo "- each method on a target whose earlier copies were renamed away (not dropped: see reset_target), after ${SETTLE_SECS} s idle"
  echo "- $ROUNDS round(s) of all methods, one after another; seconds are each method's median"
  echo "- peers: a, b, c; ratios are seconds / fastest ok peer and seconds / floor (e)"
  echo
  echo "| method | seconds | vs fastest peer | vs floor | status | notes |"
  echo "|---|---:|---:|---:|---|---|"
  for i in "${!KEYS[@]}"; do
    r_peer=- r_floor=-
    if [[ ${STATUS[i]} == ok ]]; then
      r_peer=$(ratio "${SECS[i]}" "$best_peer")
      r_floor=$(ratio "${SECS[i]}" "$floor")
    fi
    echo "| ${KEYS[i]}) ${LABELS[i]//|/\\|} | ${SECS[i]:--} | $r_peer | $r_floor | ${STATUS[i]} | ${NOTES[i]//|/\\|} |"
  done
} >"$OUT"

echo
printf '%-40s %9s %10s %9s  %s\n' method seconds "vs peer" "vs floor" status
for i in "${!KEYS[@]}"; do
  r_peer=- r_floor=-
  if [[ ${STATUS[i]} == ok ]]; then
    r_peer=$(ratio "${SECS[i]}" "$best_peer")
    r_floor=$(ratio "${SECS[i]}" "$floor")
  fi
  printf '%-40s %9s %10s %9s  %s\n' "${KEYS[i]}) ${LABELS[i]}" "${SECS[i]:--}" "$r_peer" "$r_floor" "${STATUS[i]}"
done
echo
log "results written to $OUT"
