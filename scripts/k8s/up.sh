#!/usr/bin/env bash
# Start a real Kubernetes control plane on 127.0.0.1 for tests: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, and its nodes:
# - K8S_NODE=kwok (default): kwok's fake nodes (K8S_NODES, 1) run pods without containers. kwok
#   also serves the kubelet API for `kubectl exec` (a local process here) and `kubectl
#   port-forward` (a local address) from its Exec/PortForward objects: see map.sh.
# - K8S_NODE=real: one real node (real-node.sh: kubelet, containerd, runc, CNI, kube-proxy,
#   CoreDNS) whose pods are containers of image.sh's images. Needs root; one per machine.
# Writes $K8S_RUN/kubeconfig and $K8S_RUN/env (source it: KUBECONFIG, PATH, helm's dirs) and
# waits until every node is Ready and the default service account exists.
# Fresh etcd data each start unless K8S_KEEP_DATA=1. Idempotent: a cluster already up is left
# alone. Quiet: one line when up; on failure the tail of the failing component's log,
# everything stopped again, exit 1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
K8S_NODES=${K8S_NODES:-1}
TIMEOUT=${K8S_UP_TIMEOUT:-120}
CONTROL_PLANE="etcd kube-apiserver kube-controller-manager kube-scheduler"
case $K8S_NODE in
  kwok) COMPONENTS="$CONTROL_PLANE kwok"; PORTS="$KWOK_PORT" ;;
  real) . "$HERE/real-node.sh"; COMPONENTS="$CONTROL_PLANE $NODE_COMPONENTS"
        PORTS="$KUBELET_PORT $KUBELET_HEALTHZ_PORT $PROXY_HEALTHZ_PORT $PROXY_METRICS_PORT $DNS_HEALTH_PORT" ;;
  *) die "K8S_NODE is kwok or real, not $K8S_NODE" ;;
esac
for f in $CONTROL_PLANE kubectl; do
  [ -s "$K8S_BIN/$f" ] || die "$K8S_BIN/$f missing: run build.sh first"
done
[ "$K8S_NODE" = real ] || for f in kwok kwok-crds.yaml kwok-stages.yaml; do
  [ -s "$K8S_BIN/$f" ] || die "$K8S_BIN/$f missing: run build.sh first"
done
BIN_REAL=$(realpath "$K8S_BIN")
T0=$(now)

alive() { # NAME: the recorded process of NAME runs our binary
  local pid exe
  pid=$(cat "$K8S_RUN/pids/$1.pid" 2>/dev/null) || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe% (deleted)}" = "$BIN_REAL/$1" ]
}
n=0; for c in $COMPONENTS; do alive "$c" && n=$((n + 1)); done
if [ "$n" -eq "$(echo $COMPONENTS | wc -w)" ] && [ -s "$K8S_RUN/env" ]; then echo "k8s: already up ($K8S_RUN/env)"; exit 0; fi
[ "$n" -eq 0 ] || "$HERE/down.sh"
[ "$K8S_NODE" != real ] || node_requirements

for p in $ETCD_PORT $ETCD_PEER_PORT $API_PORT $KCM_PORT $SCHED_PORT $PORTS; do
  [ -z "$(ss -Hltn "sport = :$p")" ] || die "127.0.0.1:$p is in use (set K8S_PORT_BASE)"
done
mkdir -p "$K8S_RUN/logs" "$K8S_RUN/pids"
rm -f "$K8S_RUN"/logs/*.log
[ "${K8S_KEEP_DATA:-0}" = 1 ] || rm -rf "$K8S_RUN/etcd"

# Certificates and keys, made once per $K8S_RUN: a CA, one serving certificate for every
# component (127.0.0.1), an admin client certificate (system:masters), the service-account key.
if [ ! -s "$PKI/sa.pub" ]; then
  rm -rf "$PKI"; mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=decant-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    sign() { # NAME SUBJECT EXTENSIONS
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
      printf '%b\n' "$3" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -out "$1.crt" -extfile "$1.ext"
    }
    sign serving "/CN=decant-test" "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
    sign admin "/O=system:masters/CN=kubernetes-admin" "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment"
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) > "$K8S_RUN/logs/pki.log" 2>&1 || { cat "$K8S_RUN/logs/pki.log" >&2; die "openssl failed"; }
fi
[ "$K8S_NODE" != real ] || node_certificate

b64() { base64 -w0 < "$1"; }
cat > "$KUBECONFIG_FILE.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: decant-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: decant-test-admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: decant-test
  context:
    cluster: decant-test
    user: decant-test-admin
current-context: decant-test
EOF
chmod 600 "$KUBECONFIG_FILE.tmp"; mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
KC=$KUBECONFIG_FILE
kc() { "$K8S_BIN/kubectl" --kubeconfig "$KC" "$@"; }

current=""
fail() {
  echo "k8s: $*" >&2
  [ -z "$current" ] || tail -n 20 "$K8S_RUN/logs/$current.log" >&2 || true
  "$HERE/down.sh" >/dev/null 2>&1 || true
  exit 1
}
start() { # NAME ARG...: a new session, so that no terminal signal reaches it
  current=$1; shift
  setsid "$K8S_BIN/$current" "$@" >> "$K8S_RUN/logs/$current.log" 2>&1 < /dev/null &
  echo $! > "$K8S_RUN/pids/$current.pid"
  local i # until the child has exec'd (slow on a loaded machine): alive() reads its exe
  for i in $(seq 100); do alive "$current" || ! kill -0 $! 2>/dev/null && break; sleep 0.05; done
}
wait_for() { # WHAT CMD...: until CMD succeeds, while the component just started lives
  local what=$1 deadline=$(($(date +%s) + TIMEOUT)); shift
  until "$@" > /dev/null 2>&1; do
    alive "$current" || fail "$current exited before $what"
    [ "$(date +%s)" -lt "$deadline" ] || fail "$current: not $what after ${TIMEOUT}s"
    sleep 0.2
  done
}
healthz() { curl -sf --max-time 2 --cacert "$PKI/ca.crt" "https://127.0.0.1:$1/healthz"; }
TLS=(--tls-cert-file="$PKI/serving.crt" --tls-private-key-file="$PKI/serving.key")
DELEGATE=(--kubeconfig="$KC" --authentication-kubeconfig="$KC" --authorization-kubeconfig="$KC")

start etcd --name=decant-test --data-dir="$K8S_RUN/etcd" --log-level=warn \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="decant-test=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync
wait_for healthy sh -c "curl -sf --max-time 2 http://127.0.0.1:$ETCD_PORT/health | grep -q '\"health\":\"true\"'"

start kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" "${TLS[@]}" \
  --client-ca-file="$PKI/ca.crt" --authorization-mode=Node,RBAC --allow-privileged=true \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
  --kubelet-client-certificate="$PKI/admin.crt" --kubelet-client-key="$PKI/admin.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --enable-priority-and-fairness=false --profiling=false
wait_for ready curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" \
  --key "$PKI/admin.key" "https://127.0.0.1:$API_PORT/readyz"

start kube-controller-manager "${DELEGATE[@]}" --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  "${TLS[@]}" --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --leader-elect=false --kube-api-qps=100 --kube-api-burst=200 \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics
start kube-scheduler "${DELEGATE[@]}" --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
  "${TLS[@]}" --leader-elect=false --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics

# kwok's fake nodes (K8S_NODES), Ready at once; kwok serves their kubelet API.
start_kwok() {
  # kwok's rule CRDs must be served before kwok watches them.
  current=kube-apiserver
  kc apply --server-side -f "$K8S_BIN/kwok-crds.yaml" > "$K8S_RUN/logs/kwok-crds.log" 2>&1 ||
    fail "kubectl apply kwok CRDs: $(tail -n 3 "$K8S_RUN/logs/kwok-crds.log")"
  wait_for "serving kwok CRDs" kc wait --for=condition=Established --timeout=5s \
    crd/execs.kwok.x-k8s.io crd/clusterexecs.kwok.x-k8s.io \
    crd/portforwards.kwok.x-k8s.io crd/clusterportforwards.kwok.x-k8s.io
  cp "$K8S_BIN/kwok-stages.yaml" "$K8S_RUN/kwok.yaml"
  start kwok --kubeconfig="$KC" --config="$K8S_RUN/kwok.yaml" --manage-all-nodes=true \
    --node-ip=127.0.0.1 --node-port="$KWOK_PORT" --server-address="127.0.0.1:$KWOK_PORT" "${TLS[@]}" \
    --node-lease-duration-seconds=40 --cidr=10.244.0.1/16 \
    --enable-crds=Exec,ClusterExec,PortForward,ClusterPortForward

  for i in $(seq 0 $((K8S_NODES - 1))); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
  done > "$K8S_RUN/nodes.yaml"
  kc apply -f "$K8S_RUN/nodes.yaml" > "$K8S_RUN/logs/nodes.log" 2>&1 ||
    fail "kubectl apply nodes: $(tail -n 3 "$K8S_RUN/logs/nodes.log")"

  current=kwok
  wait_for healthy healthz "$KWOK_PORT"
  wait_for "Ready nodes" kc wait --for=condition=Ready --timeout=5s node --all
}

for c in kube-controller-manager kube-scheduler; do
  current=$c; port=$KCM_PORT; [ "$c" = kube-scheduler ] && port=$SCHED_PORT
  wait_for healthy healthz "$port"
done
if [ "$K8S_NODE" = real ]; then start_real_node; else start_kwok; fi
current=kube-controller-manager
wait_for "making the default service account" kc -n default get serviceaccount default

cat > "$K8S_RUN/env" <<EOF
export KUBECONFIG=$KC
export PATH=$K8S_BIN:\$PATH
export HELM_CACHE_HOME=$K8S_RUN/helm/cache HELM_CONFIG_HOME=$K8S_RUN/helm/config HELM_DATA_HOME=$K8S_RUN/helm/data
export K8S_CACHE=$K8S_CACHE K8S_BIN=$K8S_BIN K8S_RUN=$K8S_RUN K8S_PORT_BASE=$K8S_PORT_BASE K8S_NODE=$K8S_NODE
EOF
[ "$K8S_NODE" != real ] || echo "export CONTAINER_RUNTIME_ENDPOINT=unix://$CTRD_SOCK CONTAINERD_ADDRESS=$CTRD_SOCK CONTAINERD_NAMESPACE=k8s.io" >> "$K8S_RUN/env"
echo "k8s: up in $(since "$T0")s, api https://127.0.0.1:$API_PORT, $K8S_NODE node; . $K8S_RUN/env"
