# Shared settings of the test cluster's scripts (build.sh, up.sh, down.sh, map.sh); sourced.
# Everything is overridable from the environment:
#   K8S_CACHE      built binaries and Go caches, kept between runs  (/var/cache/decant/k8s)
#   K8S_BIN        the binaries and kwok's assets                   ($K8S_CACHE/bin)
#   K8S_RUN        one cluster's state: pki, etcd data, logs        (${TMPDIR:-/tmp}/decant-k8s)
#   K8S_PORT_BASE  first of 7 loopback ports (13 with a real node)  (16440: etcd 16440/16441,
#                  kube-apiserver 16443, controller-manager 16444, scheduler 16445, kwok 16446;
#                  the real node's: kubelet +7 on the node IP, its healthz +8, kube-proxy's
#                  healthz +9 and metrics +10, CoreDNS's health +12; CoreDNS serves NODE_IP:53)
#   K8S_NODE       kwok (fake nodes, pods without containers) or real (kubelet + containerd)
#   K8S_IMAGES     image.sh's root file systems and OCI archives     ($K8S_CACHE/images)
#   the real node: NODE_NAME (decant-node-0), POD_CIDR (10.88.0.0/16; its .1 is the node IP, on
#                  the bridge NODE_BRIDGE, decant0); one real node per machine
#   versions: KUBE_VERSION ETCD_VERSION KWOK_VERSION HELM_VERSION, and the real node's
#             CONTAINERD_VERSION CRICTL_VERSION COREDNS_VERSION
K8S_CACHE=${K8S_CACHE:-/var/cache/decant/k8s}
K8S_BIN=${K8S_BIN:-$K8S_CACHE/bin}
K8S_RUN=${K8S_RUN:-${TMPDIR:-/tmp}/decant-k8s}
K8S_PORT_BASE=${K8S_PORT_BASE:-16440}
KUBE_VERSION=${KUBE_VERSION:-1.36.3}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
KWOK_VERSION=${KWOK_VERSION:-0.8.0}
HELM_VERSION=${HELM_VERSION:-3.22.0}
# The real node's (build.sh node).
CONTAINERD_VERSION=${CONTAINERD_VERSION:-2.4.2}
CRICTL_VERSION=${CRICTL_VERSION:-1.36.0}
COREDNS_VERSION=${COREDNS_VERSION:-1.15.0}

K8S_NODE=${K8S_NODE:-kwok}
K8S_IMAGES=${K8S_IMAGES:-$K8S_CACHE/images}
NODE_NAME=${NODE_NAME:-decant-node-0}
POD_CIDR=${POD_CIDR:-10.88.0.0/16}
NODE_BRIDGE=${NODE_BRIDGE:-decant0}
NODE_IP=${POD_CIDR%.*/*}.1

ETCD_PORT=$K8S_PORT_BASE
ETCD_PEER_PORT=$((K8S_PORT_BASE + 1))
API_PORT=$((K8S_PORT_BASE + 3))
KCM_PORT=$((K8S_PORT_BASE + 4))
SCHED_PORT=$((K8S_PORT_BASE + 5))
KWOK_PORT=$((K8S_PORT_BASE + 6))
KUBELET_PORT=$((K8S_PORT_BASE + 7))
KUBELET_HEALTHZ_PORT=$((K8S_PORT_BASE + 8))
PROXY_HEALTHZ_PORT=$((K8S_PORT_BASE + 9))
PROXY_METRICS_PORT=$((K8S_PORT_BASE + 10))
DNS_HEALTH_PORT=$((K8S_PORT_BASE + 12))
CTRD=$K8S_RUN/containerd          # containerd's root/, state/, config.toml and socket
CTRD_SOCK=$CTRD/containerd.sock
CGROUP_ROOT=/decant-$NODE_NAME    # the pods' cgroups, in every hierarchy

KUBECONFIG_FILE=$K8S_RUN/kubeconfig
PKI=$K8S_RUN/pki

# Go builds keep their caches beside the binaries unless the caller chose others.
export GOMODCACHE=${GOMODCACHE:-$K8S_CACHE/go/mod}
export GOCACHE=${GOCACHE:-$K8S_CACHE/go/cache}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
export PATH=$K8S_BIN:/usr/local/go/bin:$PATH

die() { echo "k8s: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
