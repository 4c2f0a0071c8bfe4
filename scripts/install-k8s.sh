#!/usr/bin/env bash
# Builds the test cluster's binaries (kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, etcd, kwok, helm; the real node's kubelet, kube-proxy, containerd, ctr, its runc
# shim, crictl, pause, CoreDNS) from the Go module proxy, cached under /var/cache/decant/k8s
# (K8S_CACHE): 7-15 min on 2 cores the first time for the control plane, about 16 more for the
# node's, nothing the next. See scripts/k8s/.
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin:${HOME:-/root}/go/bin"
command -v go >/dev/null || { echo "install-k8s: Go is needed (1.26 or newer)" >&2; exit 1; }
exec bash "$(dirname "$0")/k8s/build.sh" etcd kwok helm kube node
