#!/usr/bin/env bash
# Makes, in DEST, a PostgreSQL installation that offers extensions its package does not:
# the packaged installation of MAJOR (Debian's 15, or a major of install-pg-versions.sh)
# seen through links, its server programs hard-linked (the server finds share/ and lib/
# relative to its own path, and would follow a symbolic link back to the package's), lib/
# linked, share/ mirrored with an extension directory of its own holding the packaged
# extensions plus the files of each EXTDIR (install-pg-extensions.sh's bundles, or a
# test's own). An extension the EXTDIRs bring replaces the packaged one of that name;
# where several EXTDIRs hold a control file of one extension, the last one's is the
# default and the others' versions stay installable (secondary control files).
# The tests' servers and the demo's use it. Prints DEST's server program directory.
#
# Usage: scripts/pg-installation.sh MAJOR DEST [EXTDIR...]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 MAJOR DEST [EXTDIR...]" >&2; exit 2; }
major=$1 dest=$2
shift 2
cache=${DECANT_PG_CACHE:-/var/cache/decant/pg}
if [ "$major" = 15 ]; then  # Debian's layout, under /usr
  prefix=/usr bin=lib/postgresql/15/bin share=share/postgresql/15 lib=lib/postgresql/15/lib
else
  prefix=$cache/$major bin=bin share=share/postgresql lib=lib
fi
[ -x "$prefix/$bin/postgres" ] || { echo "pg-installation: no PostgreSQL $major in $prefix/$bin" >&2; exit 1; }

mkdir -p "$dest/$bin" "$dest/$share/extension" "$(dirname "$dest/$lib")"
for f in "$prefix/$bin"/*; do
  [ -f "$f" ] || continue
  ln -f "$f" "$dest/$bin/" 2>/dev/null || cp -p "$f" "$dest/$bin/"
done
ln -sfn "$prefix/$lib" "$dest/$lib"
for f in "$prefix/$share"/*; do
  [ "$(basename "$f")" = extension ] || ln -sfn "$f" "$dest/$share/"
done

ext=$dest/$share/extension
brought=" "
for dir in "$@"; do
  for c in "$dir"/*.control; do
    name=$(basename "$c" .control)
    [[ $name == *--* ]] || brought+="$name "
  done
done
for f in "$prefix/$share/extension"/*; do
  name=$(basename "$f")
  name=${name%%--*}
  name=${name%.control}
  [[ $brought == *" $name "* ]] || ln -sfn "$f" "$ext/"
done
default_of() { sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$1"; }
for dir in "$@"; do
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    if [[ $name == *.control && $name != *--* ]] && [ -e "$ext/$name" ]; then
      # An earlier EXTDIR's default stays installable through a secondary control file,
      # which may name neither a default version nor a directory.
      grep -v -e '^default_version' -e '^directory' "$ext/$name" >"$ext/${name%.control}--$(default_of "$ext/$name").control"
      rm -f "$ext/$name"
    fi
    rm -f "$ext/$name"
    cp "$f" "$ext/$name"
  done
done
# The new default's own version needs no secondary control file.
for c in "$ext"/*.control; do
  name=$(basename "$c" .control)
  [[ $name == *--* ]] && continue
  rm -f "$ext/$name--$(default_of "$c").control"
done
chmod -R a+rX "$dest"
echo "$dest/$bin"
