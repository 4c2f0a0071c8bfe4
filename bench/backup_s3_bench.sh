#!/usr/bin/env bash
# decant backup on S3 against the local repository, same data, one run: the ~620 MB
# PostgreSQL set and the circle_ghe MongoDB set, each backed up into a directory and into
# versitygw on loopback (which checks every signature, body hash and checksum), then each
# backup restored into its own fresh server (every table and collection read back).
# Goal (issue 10): S3 <= 1.15x local.
# Usage:   bench/backup_s3_bench.sh
# Smoke:   PGBENCH_SCALE=1 APP_ROWS=10000 DOCS=20000 bench/backup_s3_bench.sh
# Env:     PGBENCH_SCALE (20) APP_ROWS (500000) DOCS (1000000) JOBS (nproc) DECANT FERRETDB VERSITYGW
#          RESULTS_DIR (bench/results)
# Needs:   scripts/install-deps.sh, scripts/install-ferretdb.sh, scripts/install-versitygw.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DECANT=${DECANT:-$REPO/build/release/decant}
FERRETDB=${FERRETDB:-$REPO/build/tools/ferretdb}
VERSITYGW=${VERSITYGW:-/var/cache/decant/versitygw/bin/versitygw}
PGBENCH_SCALE=${PGBENCH_SCALE:-20}
APP_ROWS=${APP_ROWS:-500000}
DOCS=${DOCS:-1000000}
JOBS=${JOBS:-$(nproc)}
RESULTS_DIR=${RESULTS_DIR:-$REPO/bench/results}
PGBIN=/usr/lib/postgresql/15/bin
export PATH=$PGBIN:$PATH
unset PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD
source "$REPO/bench/lib.sh"
[[ -x $DECANT ]] || die "missing $DECANT (cmake --preset release && cmake --build --preset release)"
[[ -x $FERRETDB ]] || die "missing $FERRETDB (scripts/install-ferretdb.sh)"
[[ -x $VERSITYGW ]] || die "missing $VERSITYGW (scripts/install-versitygw.sh)"

work=$(mktemp -d /tmp/backup_s3_bench.XXXXXX)
trap 'bench_cleanup; rm -rf "$work"' EXIT
pg_src=$(free_port); start_pg source "$pg_src" "$PGBIN"
pg_local=$(free_port); start_pg restore-local "$pg_local" "$PGBIN"
pg_s3=$(free_port); start_pg restore-s3 "$pg_s3" "$PGBIN"
mg_src=$(free_port); start_ferretdb source "$mg_src"
mg_local=$(free_port); start_ferretdb restore-local "$mg_local"
mg_s3=$(free_port); start_ferretdb restore-s3 "$mg_s3"
s3_port=$(free_port)
export AWS_ACCESS_KEY_ID=bench-access AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1
mkdir -p "$work/s3"
ROOT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID ROOT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
  "$VERSITYGW" --port "127.0.0.1:$s3_port" posix "$work/s3" >"$work/versitygw.log" 2>&1 &
bench_pids+=($!)
endpoint="http://127.0.0.1:$s3_port"
for _ in $(seq 100); do curl -s -o /dev/null "$endpoint" && break; sleep 0.1; done
ENDPOINT=$endpoint /usr/bin/python3 -c 'import os, botocore.session as s
s.get_session().create_client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1").create_bucket(Bucket="bench")'
log "PostgreSQL 15 :$pg_src, FerretDB :$mg_src, versitygw :$s3_port, jobs $JOBS ($work)"
load_backup_sources "$pg_src" "$mg_src"
declare -A secs
repo_of() { if [[ $1 == s3 ]]; then echo "s3://bench/decant --s3-endpoint $endpoint"; else echo "$work/repo"; fi; }

# run STEP WHERE ARGS...: times one decant backup command; the backup id of a create in backup_id.
run() {
  local step=$1 where=$2; shift 2
  log "$step: decant backup $* ($where)"
  local t=$EPOCHREALTIME
  # shellcheck disable=SC2046
  backup_id=$("$DECANT" backup "$@" --repo $(repo_of "$where") --jobs "$JOBS" --progress-interval 60 2>"$work/$step.log" |
    tail -1) || die "$step failed: $(tail -3 "$work/$step.log")"
  secs[$step]=$(printf '%.2f' "$(since "$t")")
}
run pg-create-local local create --pg "$(pg_uri "$pg_src")" -r "$recipient"; pg_local_id=$backup_id
run pg-create-s3 s3 create --pg "$(pg_uri "$pg_src")" -r "$recipient"; pg_s3_id=$backup_id
run pg-restore-local local restore --id "$pg_local_id" --pg "$(pg_uri "$pg_local")" -i "$work/key.txt"
run pg-restore-s3 s3 restore --id "$pg_s3_id" --pg "$(pg_uri "$pg_s3")" -i "$work/key.txt"
run mongo-create-local local create --mongo "$(mongo_uri "$mg_src")" -r "$recipient"; mg_local_id=$backup_id
run mongo-create-s3 s3 create --mongo "$(mongo_uri "$mg_src")" -r "$recipient"; mg_s3_id=$backup_id
run mongo-restore-local local restore --id "$mg_local_id" --mongo "$(mongo_uri "$mg_local")" -i "$work/key.txt"
run mongo-restore-s3 s3 restore --id "$mg_s3_id" --mongo "$(mongo_uri "$mg_s3")" -i "$work/key.txt"
stored_local=$(du -sb "$work/repo/backups" | cut -f1)
stored_s3=$(du -sb "$work/s3/bench/decant/backups" | cut -f1)

ratio() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; }
stamp=$(date -u +%Y-%m-%d_%H%M%S)
mkdir -p "$RESULTS_DIR"
out="$RESULTS_DIR/backup_s3_$stamp.md"
{
  echo "# Backup on S3 against a local repository, $stamp"
  echo
  echo "- host: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB RAM; jobs $JOBS; versitygw v1.8.0 (posix) on loopback"
  echo "- PostgreSQL 15, $db_size (pgbench scale $PGBENCH_SCALE, app_events $APP_ROWS rows); FerretDB circle_ghe, $DOCS documents"
  echo "- stored: local $(echo "scale=1; $stored_local / 1048576" | bc) MiB, S3 $(echo "scale=1; $stored_s3 / 1048576" | bc) MiB"
  echo
  echo "| step | local s | S3 s | S3 / local |"
  echo "|---|---:|---:|---:|"
  for s in pg-create pg-restore mongo-create mongo-restore; do
    echo "| $s | ${secs[$s-local]} | ${secs[$s-s3]} | $(ratio "${secs[$s-s3]}" "${secs[$s-local]}")x |"
  done
} >"$out"
cat "$out"
log "results written to $out"
