#!/usr/bin/env bash
# Container images for the real node's pods, without any registry (pods name them
# `local/NAME:TAG` with `imagePullPolicy: Never`; containerd knows them as docker.io/local/NAME:TAG):
#   image.sh pause                              the pod sandbox, local/pause:1 (up.sh makes it)
#   image.sh base SUITE                         Debian SUITE minbase (debootstrap, made once) as an
#                                               OCI archive for buildah: $K8S_IMAGES/base/debian_SUITE.oci.tar
#   image.sh NAME:TAG [--suite SUITE] [--cmd CMD] [PKG ...] [--add SRC=DEST ...] [--run CMD] [--env K=V ...]
#                                               that minbase (bookworm) plus PKG (apt-get in a chroot)
#                                               plus the files or trees SRC copied to DEST, then CMD
#                                               run in a chroot of it (e.g. useradd); K=V in its
#                                               environment
#   image.sh NAME:TAG --dockerfile FILE [--context DIR] [--build-arg K=V ...] [--volume H:C ...]
#                                               `buildah bud` of FILE; a build argument DEBIAN_SUITE
#                                               gets the local base archive (FROM ${DEBIAN_SUITE})
# Node images are kept as $K8S_IMAGES/node/NAME_TAG.oci.tar (one layer, packed by umoci) and
# imported into containerd now if the node is up, else by the next up.sh. With --key KEY an
# image whose archive was made with the same KEY is not made again. One line an image.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
[ $# -ge 1 ] || die "usage: image.sh pause | base SUITE | NAME:TAG [--suite S] [PKG ...] [--add SRC=DEST ...] | NAME:TAG --dockerfile FILE"
[ "$(id -u)" = 0 ] || die "image.sh needs root (debootstrap, chroot)"
mkdir -p "$K8S_IMAGES/base" "$K8S_IMAGES/node" "$K8S_IMAGES/rootfs" "$K8S_IMAGES/logs"
T0=$(now)
LOG=$K8S_IMAGES/logs/image.log
: > "$LOG"
run() { echo "+ $*" >> "$LOG"; "$@" >> "$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; die "failed: $* (log: $LOG)"; }; }
need() { local c; for c; do command -v "$c" > /dev/null || die "$c not found (apt-get install umoci debootstrap buildah)"; done; }

mirror() { # the Debian mirror apt uses here (not the security one)
  { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) print $i }' /etc/apt/sources.list 2>/dev/null
  } | grep -v -- -security | head -n 1 || true
}

# SUITE: the debootstrap minbase tree, made once (~150 s) and kept.
rootfs() {
  local suite=$1 dir=$K8S_IMAGES/rootfs/$1 m
  [ -e "$dir/.done" ] && return
  need debootstrap
  m=${DEBIAN_MIRROR:-$(mirror)}
  [ -n "$m" ] || die "no Debian mirror in apt's sources (set DEBIAN_MIRROR)"
  rm -rf "$dir"; mkdir -p "$dir"
  run debootstrap --variant=minbase "$suite" "$dir" "$m"
  chroot "$dir" apt-get clean; rm -rf "$dir"/var/lib/apt/lists/*
  touch "$dir/.done"
}

# DIR TAG ARCHIVE CONFIG...: DIR packed as one layer into an OCI archive, with umoci's CONFIG flags.
pack() {
  local dir=$1 tag=$2 archive=$3 oci; shift 3
  need umoci
  oci=$(mktemp -d "$K8S_IMAGES/.oci.XXXXXX")
  tar -C "$dir" --numeric-owner --exclude=./.done -cf "$oci.layer.tar" .
  run umoci init --layout "$oci/l"
  run umoci new --image "$oci/l:$tag"
  run umoci raw add-layer --image "$oci/l:$tag" "$oci.layer.tar"
  run umoci config --image "$oci/l:$tag" "$@"
  run umoci gc --layout "$oci/l"
  tar -C "$oci/l" -cf "$archive.tmp" .; mv "$archive.tmp" "$archive"
  rm -rf "$oci" "$oci.layer.tar"
}

# NAME ARCHIVE: into the running node's containerd, if there is one.
import() {
  if [ -S "$CTRD_SOCK" ] && "$K8S_BIN/ctr" -a "$CTRD_SOCK" version > /dev/null 2>&1; then
    run "$K8S_BIN/ctr" -a "$CTRD_SOCK" -n k8s.io images import --base-name "docker.io/local/$1" "$2"
    echo imported
  else
    echo "up.sh imports it"
  fi
}

ENV_FLAGS=(--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.env LANG=C.UTF-8)
if [ "$1" = base ]; then
  [ $# -eq 2 ] || die "usage: image.sh base SUITE"
  archive=$K8S_IMAGES/base/debian_$2.oci.tar
  [ -s "$archive" ] && { echo "image: debian:$2 up to date"; exit 0; }
  rootfs "$2"
  pack "$K8S_IMAGES/rootfs/$2" "$2" "$archive" --config.cmd /bin/sh "${ENV_FLAGS[@]}"
  echo "image: debian:$2 in $(since "$T0")s ($archive)"
  exit 0
fi

ref=$1; shift
[ "$ref" != pause ] || ref=pause:1
name=${ref%%:*} tag=${ref#*:}
[ "$tag" != "$ref" ] && [ -n "$name" ] && [ -n "$tag" ] || die "not NAME:TAG: $ref"
suite=bookworm pkgs="" adds=() runs=() cmd=/bin/sh dockerfile="" context=. key="" bud=() envs=()
while [ $# -gt 0 ]; do
  case $1 in
    --add) [ $# -ge 2 ] && [ "${2#*=}" != "$2" ] || die "--add SRC=DEST"; adds+=("$2"); shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --run) runs+=("$2"); shift 2 ;;
    --env) envs+=(--config.env "$2"); shift 2 ;;
    --cmd) cmd=$2; shift 2 ;;
    --key) key=$2; shift 2 ;;
    --dockerfile) dockerfile=$2; shift 2 ;;
    --context) context=$2; shift 2 ;;
    --build-arg) bud+=(--build-arg "$2"); shift 2 ;;
    --volume) bud+=(--volume "$2"); shift 2 ;;
    -*) die "unknown option $1" ;;
    *) pkgs="$pkgs $1"; shift ;;
  esac
done
archive=$K8S_IMAGES/node/${name}_$tag.oci.tar
if [ -n "$key" ] && [ -s "$archive" ] && [ "$(cat "$archive.key" 2>/dev/null)" = "$key" ]; then
  echo "image: local/$name:$tag up to date"; exit 0
fi
rm -f "$archive.key"

if [ -n "$dockerfile" ]; then
  # buildah keeps its own store under $K8S_IMAGES (its layers make the next build quick).
  need buildah
  "$0" base "$suite" > /dev/null
  store=(--root "$K8S_IMAGES/buildah/root" --runroot "$K8S_IMAGES/buildah/run" --storage-driver vfs)
  run buildah "${store[@]}" bud --isolation chroot --network host --layers -f "$dockerfile" \
    --build-arg "DEBIAN_SUITE=oci-archive:$K8S_IMAGES/base/debian_$suite.oci.tar" "${bud[@]}" \
    -t "localhost/decant-build/$name:$tag" "$context"
  run buildah "${store[@]}" push "localhost/decant-build/$name:$tag" "oci-archive:$archive.tmp:$tag"
  run buildah "${store[@]}" rmi --prune # the layers of earlier builds, superseded
  mv "$archive.tmp" "$archive"
else
  work=$(mktemp -d "$K8S_IMAGES/.work.XXXXXX")
  cleanup() { if mountpoint -q "$work/proc"; then umount "$work/proc"; fi; rm -rf "$work"; }
  trap cleanup EXIT
  if [ "$name" = pause ]; then
    [ -s "$K8S_BIN/pause" ] || die "$K8S_BIN/pause missing: run build.sh pause"
    cp "$K8S_BIN/pause" "$work/pause"
    pack "$work" "$tag" "$archive" --config.entrypoint /pause
  else
    rootfs "$suite"
    cp -a "$K8S_IMAGES/rootfs/$suite/." "$work/"
    if [ -n "$pkgs" ]; then # apt-get in a chroot: this machine's network and resolver, no daemon started
      cp /etc/resolv.conf "$work/etc/resolv.conf"
      printf '#!/bin/sh\nexit 101\n' > "$work/usr/sbin/policy-rc.d"; chmod +x "$work/usr/sbin/policy-rc.d"
      mount -t proc proc "$work/proc"
      run chroot "$work" env DEBIAN_FRONTEND=noninteractive sh -c \
        "apt-get update -q && apt-get install -y -q --no-install-recommends $pkgs && apt-get clean && rm -rf /var/lib/apt/lists/*"
      umount "$work/proc"
      rm -f "$work/usr/sbin/policy-rc.d"; : > "$work/etc/resolv.conf"
    fi
    for a in "${adds[@]}"; do # a directory's content merges into DEST
      src=${a%%=*} dest=$work${a#*=}
      if [ -d "$src" ]; then mkdir -p "$dest"; cp -a "$src/." "$dest/"
      else mkdir -p "$(dirname "$dest")"; cp -a "$src" "$dest"; fi
    done
    for c in "${runs[@]}"; do run chroot "$work" sh -c "$c"; done
    pack "$work" "$tag" "$archive" --config.cmd "$cmd" "${ENV_FLAGS[@]}" "${envs[@]}"
  fi
fi
[ -z "$key" ] || echo "$key" > "$archive.key"
how=$(import "$name" "$archive")
echo "image: local/$name:$tag in $(since "$T0")s, $(du -m "$archive" | cut -f1) MiB; $how"
