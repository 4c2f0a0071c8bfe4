# Shared by the benchmark scripts (sourced): logging, free ports, throwaway PostgreSQL and
# FerretDB servers in $work (stopped by bench_cleanup), and the benchmark data sets.
# The caller sets: REPO, FERRETDB, work (a fresh directory), and traps EXIT to bench_cleanup.
export LC_NUMERIC=C  # EPOCHREALTIME and printf must use '.' as decimal point

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
since() { echo "$EPOCHREALTIME - $1" | bc; }
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

bench_pids=()
bench_pg_dirs=()   # "dir bindir"
bench_cleanup() {
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for d in "${bench_pg_dirs[@]}"; do
    set -- $d
    as_pg "$2/pg_ctl" -D "$1" -m immediate stop >/dev/null 2>&1 || true
  done
}

# BENCH_ADDRESS: where the servers listen besides loopback (the test cluster's node address,
# for its pods; they log in there with passwords).
BENCH_ADDRESS=${BENCH_ADDRESS:-127.0.0.1}
BENCH_NETWORK=${BENCH_NETWORK:-10.88.0.0/16}

# start_pg NAME PORT BINDIR: a PostgreSQL with the benchmarks' settings (fsync on).
start_pg() {
  [[ $(id -u) == 0 ]] && chown postgres "$work"
  as_pg "$3/initdb" -D "$work/$1" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  local listen=127.0.0.1
  if [[ $BENCH_ADDRESS != 127.0.0.1 ]]; then
    listen+=",$BENCH_ADDRESS"
    echo "host all all $BENCH_NETWORK scram-sha-256" >>"$work/$1/pg_hba.conf"
  fi
  cat >>"$work/$1/postgresql.conf" <<CONF
listen_addresses = '$listen'
unix_socket_directories = '$work'
shared_buffers = 1GB
maintenance_work_mem = 1GB
max_wal_size = 4GB
checkpoint_timeout = 30min
max_locks_per_transaction = 256
fsync = on
CONF
  as_pg "$3/pg_ctl" -D "$work/$1" -l "$work/$1.log" -w -t 120 -o "-p $2" start >/dev/null
  bench_pg_dirs+=("$work/$1 $3")
}

# start_ferretdb NAME PORT [USER PASSWORD]: FerretDB on SQLite, with authentication when a
# user is given.
start_ferretdb() {
  mkdir -p "$work/mongo-$1/data"
  local auth=()
  [[ -n ${3:-} ]] && auth=(FERRETDB_TEST_ENABLE_NEW_AUTH=true FERRETDB_SETUP_DATABASE=admin
                           FERRETDB_SETUP_USERNAME="$3" FERRETDB_SETUP_PASSWORD="$4")
  env "${auth[@]}" "$FERRETDB" --handler=sqlite --sqlite-url="file:$work/mongo-$1/data/" \
    --listen-addr="$BENCH_ADDRESS:$2" --debug-addr="127.0.0.1:$(free_port)" --state-dir="$work/mongo-$1" \
    --telemetry=disable --log-level=error >"$work/mongo-$1.log" 2>&1 &
  bench_pids+=($!)
  for _ in $(seq 100); do (echo >"/dev/tcp/$BENCH_ADDRESS/$2") 2>/dev/null && return; sleep 0.1; done
  die "FerretDB $1 did not start"
}

# load_pg_set PORT PGBENCH_SCALE APP_ROWS [HOST]: the ~620 MB set (pgbench + the wide table).
load_pg_set() {
  local host=${4:-127.0.0.1}
  local p=(-X -q -v ON_ERROR_STOP=1 -h "$host" -p "$1" -U postgres)
  psql "${p[@]}" -d postgres -c 'CREATE DATABASE bench_pgbench' -c 'CREATE DATABASE bench_app'
  pgbench -i -q -s "$2" -h "$host" -p "$1" -U postgres bench_pgbench >"$work/pgbench.log" 2>&1
  psql "${p[@]}" -d bench_app -v rows="$3" -f "$REPO/bench/pg_app_events.sql" >/dev/null
}

# load_mongo_set URI DOCS: circle_ghe with about DOCS documents.
load_mongo_set() { /usr/bin/python3 "$REPO/bench/mongo_circle_ghe.py" "$1" "$2" >/dev/null; }

pg_uri() { echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres"; }
mongo_uri() { echo "mongodb://127.0.0.1:$1/"; }

# load_backup_sources PG_PORT MONGO_PORT: the backup benchmarks' sources (the ~620 MB set and
# $DOCS documents), the PostgreSQL instance's size in db_size, and an age key pair
# ($work/key.txt, its public key in recipient).
load_backup_sources() {
  load_pg_set "$1" "$PGBENCH_SCALE" "$APP_ROWS"
  load_mongo_set "$(mongo_uri "$2")" "$DOCS"
  db_size=$(psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres \
    -c "SELECT pg_size_pretty(sum(pg_database_size(datname))::bigint) FROM pg_database")
  age-keygen -o "$work/key.txt" 2>/dev/null
  recipient=$(age-keygen -y "$work/key.txt")
}
