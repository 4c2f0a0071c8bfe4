#!/usr/bin/env bash
# Build every binary of the test cluster into $K8S_BIN (default /var/cache/decant/k8s/bin), from the
# Go module proxy only (no download of prebuilt binaries):
#   kube-apiserver kube-controller-manager kube-scheduler kubectl   k8s.io/kubernetes
#   etcd                                   go.etcd.io/etcd/server/v3 (a main calling etcdmain)
#   kwok, kwok-crds.yaml, kwok-stages.yaml sigs.k8s.io/kwok
#   helm                                   helm.sh/helm/v3
# k8s.io/kubernetes requires its staging modules (k8s.io/api, client-go, ...) at v0.0.0 and
# replaces them with ./staging/...; a throwaway module under $K8S_CACHE/src/kube replaces each
# one with its published v0.MINOR.PATCH instead. Idempotent: a part whose binaries exist and
# whose recorded version ($K8S_BIN/.versions) matches is skipped. One line a part.
# The real node's parts (kubelet, kube-proxy; containerd, ctr, its runc shim; crictl; pause;
# CoreDNS) only when asked: build.sh node.
# Usage: build.sh [etcd|kwok|helm|kube|node|kubelet|containerd|crictl|pause|coredns ...]
#        (default: etcd kwok helm kube)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v go >/dev/null || die "go not found (expected /usr/local/go/bin/go)"
mkdir -p "$K8S_BIN" "$K8S_CACHE/src" "$K8S_CACHE/logs"
STAMPS=$K8S_BIN/.versions
LOG=$K8S_CACHE/logs/build.log
touch "$STAMPS"
: > "$LOG"
T0=$(now)

fresh() { # NAME VERSION FILE...: NAME was built at VERSION and every FILE is there
  local name=$1 ver=$2 f; shift 2
  grep -qx "$name $ver" "$STAMPS" || return 1
  for f; do [ -s "$K8S_BIN/$f" ] || return 1; done
}
stamp() { { grep -v "^$1 " "$STAMPS" || true; echo "$1 $2"; } > "$STAMPS.tmp"; mv "$STAMPS.tmp" "$STAMPS"; }
run() { echo "+ $*" >> "$LOG"; "$@" >> "$LOG" 2>&1 || { tail -n 25 "$LOG" >&2; die "failed: $* (log: $LOG)"; }; }
modinfo() { # MODULE@VERSION FIELD: a field of `go mod download -json` (Dir, GoMod)
  (cd / && go mod download -json "$1") | sed -n 's/^[[:space:]]*"'"$2"'": "\(.*\)",\{0,1\}$/\1/p'
}

# Commands of k8s.io/kubernetes (NAME: the part, its stamp and its module under src/).
build_kubernetes() {
  local name=$1 bins=$2
  if fresh "$name" "$KUBE_VERSION" $bins; then echo "$name $KUBE_VERSION: up to date"; return; fi
  local t src=$K8S_CACHE/src/$name gomod staging=v0.${KUBE_VERSION#1.} ld="" p cmds=""
  t=$(now)
  gomod=$(modinfo "k8s.io/kubernetes@v$KUBE_VERSION" GoMod)
  [ -s "$gomod" ] || die "k8s.io/kubernetes@v$KUBE_VERSION: no go.mod"
  rm -rf "$src"; mkdir -p "$src"
  {
    echo "module decantk8s/$name"; echo
    grep -m1 '^go ' "$gomod"; echo
    grep '^godebug ' "$gomod" || true; echo
    echo "require k8s.io/kubernetes v$KUBE_VERSION"; echo
    echo "replace ("
    awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// { print "\t" $1 " => " $1 " " v }' "$gomod"
    echo ")"
  } > "$src/go.mod"
  # The control plane's module resolved the same graph: its go.sum spares most look-ups.
  [ "$name" = kube ] || [ ! -s "$K8S_CACHE/src/kube/go.sum" ] || cp "$K8S_CACHE/src/kube/go.sum" "$src/"
  for p in $bins; do cmds="$cmds k8s.io/kubernetes/cmd/$p"; done
  (cd "$src" && run go get -tool $(for p in $cmds; do echo "$p@v$KUBE_VERSION"; done))
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=${KUBE_VERSION%%.*}"
    ld="$ld -X $p.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2) -X $p.gitTreeState=clean"
  done
  (cd "$src" && run go build -trimpath -ldflags "-s -w $ld" -o "$K8S_BIN/" $cmds)
  stamp "$name" "$KUBE_VERSION"
  echo "$name $KUBE_VERSION: built $bins in $(since "$t")s"
}

build_kube() { build_kubernetes kube "kube-apiserver kube-controller-manager kube-scheduler kubectl"; }
build_kubelet() { build_kubernetes kubelet "kubelet kube-proxy"; }

# A Go command installed from the module proxy: NAME VERSION BINS ENV... -- go install ARGS.
go_install() {
  local name=$1 ver=$2 bins=$3 t; shift 3
  if fresh "$name" "$ver" $bins; then echo "$name $ver: up to date"; return; fi
  t=$(now)
  run env CGO_ENABLED=0 GOBIN="$K8S_BIN" "$@"
  stamp "$name" "$ver"
  echo "$name $ver: built $bins in $(since "$t")s"
}

# The real node's runtime (tests that run pods: kubelet, containerd, runc from Debian).
build_containerd() {
  local m=github.com/containerd/containerd/v2 v=v$CONTAINERD_VERSION ld
  ld="-s -w -X $m/version.Version=$v -X $m/version.Package=$m"
  # The snapshotters that need cgo (btrfs, devmapper, zfs) are left out: overlayfs serves.
  go_install containerd "$CONTAINERD_VERSION" "containerd ctr" go install -trimpath -ldflags "$ld" \
    -tags "urfave_cli_no_docs no_btrfs no_devmapper no_zfs osusergo netgo" "$m/cmd/containerd@$v" "$m/cmd/ctr@$v"
  go_install containerd-shim "$CONTAINERD_VERSION" containerd-shim-runc-v2 go install -trimpath -ldflags "$ld" \
    -tags "urfave_cli_no_docs no_grpc osusergo netgo" "$m/cmd/containerd-shim-runc-v2@$v"
}
build_crictl() {
  go_install crictl "$CRICTL_VERSION" crictl go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@v$CRICTL_VERSION"
}
build_coredns() {
  go_install coredns "$COREDNS_VERSION" coredns go install -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@v$COREDNS_VERSION"
}
# The sandbox's process: kubernetes' own pause.c, static.
build_pause() {
  if fresh pause "$KUBE_VERSION" pause; then echo "pause $KUBE_VERSION: up to date"; return; fi
  local t dir
  t=$(now)
  command -v gcc >/dev/null || die "gcc not found (apt-get install gcc libc6-dev)"
  dir=$(modinfo "k8s.io/kubernetes@v$KUBE_VERSION" Dir)
  [ -s "$dir/build/pause/linux/pause.c" ] || die "k8s.io/kubernetes@v$KUBE_VERSION: no build/pause/linux/pause.c"
  run gcc -Os -static -Wall -DVERSION="v$KUBE_VERSION" -o "$K8S_BIN/pause" "$dir/build/pause/linux/pause.c"
  run strip "$K8S_BIN/pause"
  stamp pause "$KUBE_VERSION"
  echo "pause $KUBE_VERSION: built pause in $(since "$t")s"
}

build_etcd() {
  if fresh etcd "$ETCD_VERSION" etcd; then echo "etcd $ETCD_VERSION: up to date"; return; fi
  local t src=$K8S_CACHE/src/etcd
  t=$(now)
  rm -rf "$src"; mkdir -p "$src"
  printf 'module decantk8s/etcd\n\ngo 1.26.0\n' > "$src/go.mod"
  cat > "$src/main.go" <<'GO'
// Command etcd is the etcd server of go.etcd.io/etcd/server/v3 (etcdmain), as etcd's own main.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$src" && run go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" && run go mod tidy &&
    run go build -trimpath -ldflags "-s -w" -o "$K8S_BIN/etcd" .)
  stamp etcd "$ETCD_VERSION"
  echo "etcd $ETCD_VERSION: built etcd in $(since "$t")s"
}

build_kwok() {
  if fresh kwok "$KWOK_VERSION" kwok kwok-crds.yaml kwok-stages.yaml; then
    echo "kwok $KWOK_VERSION: up to date"; return
  fi
  local t dir k f
  t=$(now)
  run env GOBIN="$K8S_BIN" go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  dir=$(modinfo "sigs.k8s.io/kwok@v$KWOK_VERSION" Dir)
  # The CRDs that up.sh enables (per-pod and cluster-wide exec and port-forward rules).
  for k in execs clusterexecs portforwards clusterportforwards; do
    f=$dir/kustomize/crd/bases/kwok.x-k8s.io_$k.yaml
    [ -s "$f" ] || die "kwok $KWOK_VERSION: $f missing"
    echo "---"; cat "$f"
  done > "$K8S_BIN/kwok-crds.yaml"
  # Stages: nodes become Ready and renew a lease; pods become Running, complete, go on delete.
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -s "$dir/kustomize/stage/$f" ] || die "kwok $KWOK_VERSION: stage $f missing"
    echo "---"; cat "$dir/kustomize/stage/$f"
  done > "$K8S_BIN/kwok-stages.yaml"
  stamp kwok "$KWOK_VERSION"
  echo "kwok $KWOK_VERSION: built kwok in $(since "$t")s"
}

build_helm() {
  if fresh helm "$HELM_VERSION" helm; then echo "helm $HELM_VERSION: up to date"; return; fi
  local t gomod kmin ld
  t=$(now)
  gomod=$(modinfo "helm.sh/helm/v3@v$HELM_VERSION" GoMod)
  kmin=$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2]; exit }' "$gomod")
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
  ld="$ld -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  if [ -n "$kmin" ]; then
    ld="$ld -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kmin"
    ld="$ld -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kmin"
  fi
  run env GOBIN="$K8S_BIN" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  stamp helm "$HELM_VERSION"
  echo "helm $HELM_VERSION: built helm in $(since "$t")s"
}

parts=${*:-etcd kwok helm kube}
parts=${parts/node/containerd crictl pause kubelet coredns}
for part in $parts; do
  case $part in
    etcd|kwok|helm|kube|kubelet|containerd|crictl|pause|coredns) "build_$part" ;;
    *) die "unknown part $part (etcd kwok helm kube; node: containerd crictl pause kubelet coredns)" ;;
  esac
done
echo "build: done in $(since "$T0")s; $K8S_BIN holds $(du -sm "$K8S_BIN" | cut -f1) MiB"
