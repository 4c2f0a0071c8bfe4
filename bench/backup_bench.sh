#!/usr/bin/env bash
# Backup and restore, side by side in one run, on the ~620 MB PostgreSQL set and the
# circle_ghe MongoDB set:
#   PostgreSQL  a) pg_dumpall --globals-only + pg_dump -Fd -j JOBS -Z0 per database, then
#                  tar | zstd -T0 | age (the peer pipeline at its fastest settings)
#               b) decant backup create --pg
#               c) age -d | zstd -d | tar x, then pg_restore -j JOBS per database (the time of
#                  pg_restore alone is reported too)
#               d) decant backup restore --pg (every table read back and compared)
#   MongoDB     e) mongodump --archive --gzip | age, when mongodump is installed (MONGODUMP);
#                  otherwise decant mongo dump --gzip | tar | age stands in, and says so
#               f) decant backup create --mongo
#               g) the matching restore of e), h) decant backup restore --mongo
# Each restore goes to its own fresh server. Results: bench/results/backup_<stamp>.md.
# Usage:   bench/backup_bench.sh
# Smoke:   PGBENCH_SCALE=1 APP_ROWS=10000 DOCS=20000 bench/backup_bench.sh
# Env:     PGBENCH_SCALE (20) APP_ROWS (500000) DOCS (1000000) JOBS (nproc) DECANT FERRETDB
#          MONGODUMP/MONGORESTORE (mongo-tools, when available) RESULTS_DIR (bench/results)
# Needs:   scripts/install-deps.sh (age, zstd, postgresql-15), scripts/install-ferretdb.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DECANT=${DECANT:-$REPO/build/release/decant}
FERRETDB=${FERRETDB:-$REPO/build/tools/ferretdb}
PGBENCH_SCALE=${PGBENCH_SCALE:-20}
APP_ROWS=${APP_ROWS:-500000}
DOCS=${DOCS:-1000000}
JOBS=${JOBS:-$(nproc)}
MONGODUMP=${MONGODUMP:-$(command -v mongodump || true)}
MONGORESTORE=${MONGORESTORE:-$(command -v mongorestore || true)}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench/results}
PGBIN=/usr/lib/postgresql/15/bin
export PATH=$PGBIN:$PATH
unset PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD
source "$REPO/bench/lib.sh"
[[ -x $DECANT ]] || die "missing $DECANT (cmake --preset release && cmake --build --preset release)"
[[ -x $FERRETDB ]] || die "missing $FERRETDB (scripts/install-ferretdb.sh)"
for tool in age age-keygen zstd tar; do command -v $tool >/dev/null || die "missing $tool (scripts/install-deps.sh)"; done

work=$(mktemp -d /tmp/backup_bench.XXXXXX)
trap 'bench_cleanup; rm -rf "$work"' EXIT
pg_src=$(free_port); start_pg source "$pg_src" "$PGBIN"
pg_a=$(free_port); start_pg restore-peer "$pg_a" "$PGBIN"
pg_b=$(free_port); start_pg restore-decant "$pg_b" "$PGBIN"
mg_src=$(free_port); start_ferretdb source "$mg_src"
mg_a=$(free_port); start_ferretdb restore-peer "$mg_a"
mg_b=$(free_port); start_ferretdb restore-decant "$mg_b"
log "PostgreSQL 15 :$pg_src -> :$pg_a/:$pg_b, FerretDB :$mg_src -> :$mg_a/:$mg_b, jobs $JOBS ($work)"
log "generating pgbench scale $PGBENCH_SCALE + app_events $APP_ROWS rows, and about $DOCS documents"
load_backup_sources "$pg_src" "$mg_src"
databases=(bench_pgbench bench_app)
declare -A secs size note
bytes_of() { du -sb "$1" | cut -f1; }
mib() { echo "scale=1; $1 / 1048576" | bc; }

# ---- PostgreSQL
log "a) pg_dump -Fd -j$JOBS -Z0 | zstd | age"
t=$EPOCHREALTIME
pg_dumpall -h 127.0.0.1 -p "$pg_src" -U postgres --globals-only >"$work/peer-dump.globals.sql"
mkdir -p "$work/peer-dump"
for db in "${databases[@]}"; do pg_dump -h 127.0.0.1 -p "$pg_src" -U postgres -Fd -j "$JOBS" -Z0 -f "$work/peer-dump/$db" "$db"; done
mv "$work/peer-dump.globals.sql" "$work/peer-dump/globals.sql"
tar -C "$work/peer-dump" -cf - . | zstd -q -T0 -3 | age -r "$recipient" >"$work/peer-pg.tar.zst.age"
secs[a]=$(since "$t"); size[a]=$(stat -c %s "$work/peer-pg.tar.zst.age")
rm -rf "$work/peer-dump"

# decant_create STEP --pg|--mongo URI: times a decant backup; sets secs, size and backup_id.
decant_create() {
  log "$1) decant backup create $2"
  local t=$EPOCHREALTIME
  backup_id=$("$DECANT" backup create --repo "$work/repo" "$2" "$3" -r "$recipient" --jobs "$JOBS" \
    --progress-interval 30 2>"$work/$1.log" | tail -1) || die "decant backup create failed: $(tail -3 "$work/$1.log")"
  secs[$1]=$(since "$t"); size[$1]=$(bytes_of "$work/repo/backups/$backup_id")
}
decant_create b --pg "$(pg_uri "$pg_src")"; id_pg=$backup_id

log "c) age -d | zstd -d | tar x; pg_restore -j$JOBS"
t=$EPOCHREALTIME
mkdir -p "$work/peer-restore"
age -d -i "$work/key.txt" "$work/peer-pg.tar.zst.age" | zstd -q -d | tar -C "$work/peer-restore" -xf -
t_restore=$EPOCHREALTIME
psql -X -q -h 127.0.0.1 -p "$pg_a" -U postgres -d postgres -f "$work/peer-restore/globals.sql" >/dev/null 2>&1 || true
for db in "${databases[@]}"; do
  createdb -h 127.0.0.1 -p "$pg_a" -U postgres "$db"
  pg_restore -h 127.0.0.1 -p "$pg_a" -U postgres -j "$JOBS" -d "$db" "$work/peer-restore/$db"
done
secs[c]=$(since "$t"); secs[c_alone]=$(since "$t_restore")
rm -rf "$work/peer-restore"

log "d) decant backup restore --pg"
t=$EPOCHREALTIME
"$DECANT" backup restore --repo "$work/repo" --id "$id_pg" --pg "$(pg_uri "$pg_b")" -i "$work/key.txt" --jobs "$JOBS" \
  --progress-interval 30 >"$work/d.log" 2>&1 || die "decant restore failed: $(tail -3 "$work/d.log")"
secs[d]=$(since "$t")
for port in "$pg_a" "$pg_b"; do
  psql -X -At -h 127.0.0.1 -p "$port" -U postgres -d bench_app -c "SELECT count(*), md5(string_agg(id::text, ',' ORDER BY id)) FROM app_events"
done | sort -u | wc -l | grep -qx 1 || die "the two restores differ"

# ---- MongoDB
if [[ -n $MONGODUMP && -n $MONGORESTORE ]]; then
  peer_mongo="mongodump --archive --gzip, age"
  log "e) $peer_mongo"
  t=$EPOCHREALTIME
  "$MONGODUMP" --uri="$(mongo_uri "$mg_src")" --db=circle_ghe --archive --gzip --numParallelCollections="$JOBS" 2>/dev/null |
    age -r "$recipient" >"$work/peer-mongo.age"
  secs[e]=$(since "$t"); size[e]=$(stat -c %s "$work/peer-mongo.age")
else
  peer_mongo="decant mongo dump --gzip, tar, age (stand-in: no mongodump here)"
  note[e]="mongo-tools cannot be installed here"
  log "e) $peer_mongo"
  t=$EPOCHREALTIME
  "$DECANT" mongo dump --source "$(mongo_uri "$mg_src")" --db circle_ghe --gzip --out "$work/peer-mongo" --jobs "$JOBS" \
    --progress-interval 30 >/dev/null 2>&1
  tar -C "$work/peer-mongo" -cf - . | age -r "$recipient" >"$work/peer-mongo.age"
  secs[e]=$(since "$t"); size[e]=$(stat -c %s "$work/peer-mongo.age")
  rm -rf "$work/peer-mongo"
fi

decant_create f --mongo "$(mongo_uri "$mg_src")"; id_mg=$backup_id

log "g) the peer's MongoDB restore"
t=$EPOCHREALTIME
if [[ -n $MONGORESTORE && -n $MONGODUMP ]]; then
  age -d -i "$work/key.txt" "$work/peer-mongo.age" |
    "$MONGORESTORE" --uri="$(mongo_uri "$mg_a")" --archive --gzip --numInsertionWorkersPerCollection="$JOBS" --noIndexRestore 2>/dev/null
else
  mkdir -p "$work/peer-mongo-restore"
  age -d -i "$work/key.txt" "$work/peer-mongo.age" | tar -C "$work/peer-mongo-restore" -xf -
  "$DECANT" mongo restore --dir "$work/peer-mongo-restore" --target "$(mongo_uri "$mg_a")" --jobs "$JOBS" \
    --progress-interval 30 >/dev/null 2>&1
fi
secs[g]=$(since "$t")

log "h) decant backup restore --mongo"
t=$EPOCHREALTIME
"$DECANT" backup restore --repo "$work/repo" --id "$id_mg" --mongo "$(mongo_uri "$mg_b")" -i "$work/key.txt" \
  --jobs "$JOBS" --progress-interval 30 >"$work/h.log" 2>&1 || die "decant restore failed: $(tail -3 "$work/h.log")"
secs[h]=$(since "$t")

ratio() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; }
for k in "${!secs[@]}"; do secs[$k]=$(printf '%.2f' "${secs[$k]}"); done
stamp=$(date -u +%Y-%m-%d_%H%M%S)
mkdir -p "$RESULTS_DIR"
out="$RESULTS_DIR/backup_$stamp.md"
{
  echo "# Backup benchmark, $stamp"
  echo
  echo "- host: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB RAM; jobs $JOBS"
  echo "- PostgreSQL 15, $db_size (pgbench scale $PGBENCH_SCALE, app_events $APP_ROWS rows); FerretDB circle_ghe, $DOCS documents"
  echo
  echo "| step | method | seconds | ratio | stored MiB |"
  echo "|---|---|---:|---:|---:|"
  echo "| PG create | a) pg_dump -Fd -j$JOBS -Z0, tar, zstd -3, age | ${secs[a]} | 1.00x | $(mib "${size[a]}") |"
  echo "| PG create | **b) decant backup create** | ${secs[b]} | $(ratio "${secs[b]}" "${secs[a]}")x | $(mib "${size[b]}") |"
  echo "| PG restore | c) age, zstd, tar, pg_restore -j$JOBS (pg_restore alone: ${secs[c_alone]} s) | ${secs[c]} | 1.00x | |"
  echo "| PG restore | **d) decant backup restore** (verified) | ${secs[d]} | $(ratio "${secs[d]}" "${secs[c_alone]}")x of pg_restore alone | |"
  echo "| Mongo create | e) $peer_mongo | ${secs[e]} | 1.00x | $(mib "${size[e]}") |"
  echo "| Mongo create | **f) decant backup create** | ${secs[f]} | $(ratio "${secs[f]}" "${secs[e]}")x | $(mib "${size[f]}") |"
  echo "| Mongo restore | g) the matching restore | ${secs[g]} | 1.00x | |"
  echo "| Mongo restore | **h) decant backup restore** (verified) | ${secs[h]} | $(ratio "${secs[h]}" "${secs[g]}")x | |"
  [[ -n ${note[e]:-} ]] && echo && echo "Note: ${note[e]}."
} >"$out"
cat "$out"
log "results written to $out"
