#!/usr/bin/env bash
# Installs the PostgreSQL extension bundles the tests and the demo give their servers, each
# as a directory of extension files (control file, install and update scripts) under
# <cache>/extensions/<name>-<version>/, which a server installation's share/extension can
# take whatever its major (pg_partman is PL/pgSQL and SQL only: its files fit 12 to 17):
#   pg_partman-4.5.1  what CircleCI Server requires ("pg_partman 4.5.x; 5.x is not
#                     supported"): from Debian bullseye's postgresql-13-partman 4.5.1-1,
#                     Debian's PGXS build of the release (byte for byte what pg_partman's
#                     Makefile makes of its v4.5.1 tag). Debian no longer serves that
#                     release's source here, only the package built from it.
#   pg_partman-4.7.2  Debian bookworm's postgresql-15-partman 4.7.2-1 (also installed for
#                     Debian's PostgreSQL 15 by install-deps.sh).
#   pg_partman-5.2.4  built here from Debian trixie's source (pg-partman_5.2.4.orig.tar.gz)
#                     with PGXS against Debian's PostgreSQL 15 (postgresql-server-dev-15),
#                     without its optional background worker.
# Every download is checked against the SHA-256 Debian's archive index gives for it.
#
# Usage: scripts/install-pg-extensions.sh [--force]. Cache: $DECANT_PG_CACHE, default
# /var/cache/decant/pg. Prints one line per bundle; a bundle whose marker matches is kept,
# so a second run takes well under a second.
set -euo pipefail
umask 022

CACHE=${DECANT_PG_CACHE:-/var/cache/decant/pg}/extensions
MIRROR=${DECANT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
POOL=$MIRROR/pool/main/p/pg-partman
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
LAYOUT=1
force=0
[ "${1:-}" = --force ] && force=1

log() { echo "install-pg-extensions: $*" >&2; }
die() { echo "install-pg-extensions: ERROR: $*" >&2; exit 1; }

for tool in curl sha256sum dpkg-deb tar make; do
  command -v "$tool" >/dev/null || die "'$tool' is needed (run scripts/install-deps.sh)"
done
mkdir -p "$CACHE" || die "cannot create $CACHE (set DECANT_PG_CACHE to a writable path)"
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "timed out waiting for another install-pg-extensions.sh holding $CACHE/.lock"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/decant-pg-ext.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

current() { # dir source
  [ "$force" = 0 ] && [ -f "$1/.decant-installed" ] &&
    grep -qx "layout=$LAYOUT" "$1/.decant-installed" && grep -qx "source=$2" "$1/.decant-installed"
}

fetch() { # file sha256 -> $WORK/file
  local out=$WORK/$1
  curl -fsS --retry 3 -m 300 -o "$out" "$POOL/$1" || die "could not download $POOL/$1"
  echo "$2  $out" | sha256sum -c --quiet - >/dev/null 2>&1 ||
    die "$1: SHA-256 differs from Debian's index ($2): not installing it"
}

# Keeps the bundle's extension files (control, install and update scripts) only, checks
# that the control file's default version is the release named, and records the marker.
finish() { # name version source files-dir
  local name=$1 version=$2 src=$3 from=$4 dir=$CACHE/$1-$2 stage
  [ -f "$from/$name.control" ] || die "$name $version: no $name.control in $from"
  [ -s "$from/$name--$version.sql" ] || die "$name $version: no install script $name--$version.sql"
  grep -q "^default_version = '$version'" "$from/$name.control" ||
    die "$name $version: $name.control says $(grep default_version "$from/$name.control")"
  stage=$(mktemp -d "$CACHE/.staging.XXXXXX")
  cp "$from/$name.control" "$from/$name"--*.sql "$stage/"
  chmod 755 "$stage"
  chmod 644 "$stage"/*
  printf 'layout=%s\nsource=%s\nversion=%s\n' "$LAYOUT" "$src" "$version" >"$stage/.decant-installed"
  rm -rf "$dir"
  mv "$stage" "$dir"
  echo "extension $name $version: $dir ($(ls "$dir" | wc -l) files)"
}

from_deb() { # name version deb sha256 major
  local name=$1 version=$2 deb=$3 sha=$4 major=$5 src="debian:$3"
  if current "$CACHE/$name-$version" "$src"; then echo "extension $name $version: $CACHE/$name-$version"; return; fi
  log "$name $version: $deb"
  fetch "$deb" "$sha"
  dpkg-deb -x "$WORK/$deb" "$WORK/deb-$version"
  finish "$name" "$version" "$src" "$WORK/deb-$version/usr/share/postgresql/$major/extension"
}

from_source() { # name version orig sha256
  local name=$1 version=$2 orig=$3 sha=$4 src="debian:$3" tree
  if current "$CACHE/$name-$version" "$src"; then echo "extension $name $version: $CACHE/$name-$version"; return; fi
  [ -x "$PG_CONFIG" ] || die "$name $version: no $PG_CONFIG to build with (apt-get install postgresql-server-dev-15)"
  log "$name $version: building $orig with PGXS ($PG_CONFIG)"
  fetch "$orig" "$sha"
  mkdir "$WORK/src-$version"
  tar -xzf "$WORK/$orig" -C "$WORK/src-$version"
  tree=$(find "$WORK/src-$version" -maxdepth 2 -name Makefile -printf '%h\n' | head -n 1)
  [ -n "$tree" ] || die "$name $version: no Makefile in $orig"
  make -s -C "$tree" NO_BGW=1 PG_CONFIG="$PG_CONFIG" >/dev/null ||
    die "$name $version: make failed (PGXS of $PG_CONFIG)"
  make -s -C "$tree" NO_BGW=1 PG_CONFIG="$PG_CONFIG" DESTDIR="$WORK/root-$version" install >/dev/null ||
    die "$name $version: make install failed"
  finish "$name" "$version" "$src" "$WORK/root-$version$("$PG_CONFIG" --sharedir)/extension"
}

from_deb pg_partman 4.5.1 postgresql-13-partman_4.5.1-1_amd64.deb \
  b8451825b3f2992acaff81c8581e51254b05b326e5f3e45d2dca2d1f815f643a 13
from_deb pg_partman 4.7.2 postgresql-15-partman_4.7.2-1_amd64.deb \
  ffb6e6befd4d6e19d0f93e92517aee482f5394f1850d63052530e81893fa927c 15
from_source pg_partman 5.2.4 pg-partman_5.2.4.orig.tar.gz \
  462464d83389ef20256b982960646a1572341c0beb09eeff32b4a69f04e31b76
