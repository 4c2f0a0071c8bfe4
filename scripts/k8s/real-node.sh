# The real node of the test cluster (K8S_NODE=real), sourced by up.sh and down.sh: containerd 2
# (its own root, state and socket under $CTRD; Debian's runc; CNI bridge $NODE_BRIDGE on
# $POD_CIDR), kubelet registered as $NODE_NAME at $NODE_IP (the bridge's address), kube-proxy
# (iptables) for ClusterIP Services and CoreDNS on $NODE_IP:53 as the pods' cluster DNS (it runs
# here, reading the API with the admin kubeconfig). Pods get addresses in $POD_CIDR, which exist
# only in the network namespaces the node makes; they reach this machine at $NODE_IP.
# Images come from image.sh (no registry): up.sh imports every $K8S_IMAGES/node/*.oci.tar; a
# pull of anything else goes to a closed loopback port.
# Needs root, runc and Debian's containernetworking-plugins; cgroup v1 or v2.
NODE_COMPONENTS="coredns containerd kubelet kube-proxy"
CNI_BIN=${CNI_BIN:-$(for d in /usr/lib/cni /opt/cni/bin; do [ -x "$d/bridge" ] && echo "$d" && break; done)}
NODE_SYSCTLS="net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes"

node_requirements() {
  local f
  [ "$(id -u)" = 0 ] || die "the real node needs root (containers, cgroups, a bridge)"
  for f in kubelet kube-proxy containerd containerd-shim-runc-v2 ctr crictl pause coredns; do
    [ -s "$K8S_BIN/$f" ] || die "$K8S_BIN/$f missing: run build.sh node first"
  done
  command -v runc > /dev/null || die "runc not found (apt-get install runc)"
  [ -n "$CNI_BIN" ] || die "no CNI plugins (apt-get install containernetworking-plugins)"
  reclaim_stale_node
}

# One real node a machine: its bridge names the state directory of the run that made it (the
# bridge's alias). A run killed before down.sh (a stopped session, SIGKILL) leaves the bridge,
# mounts, iptables rules and sysctls behind, which would keep every later node from starting:
# those are cleaned up by down.sh on that directory (removed unless it is ours). A node that
# still listens on its address, or whose components still run, is another's, and refused.
reclaim_stale_node() {
  local owner c pid exe
  ip link show "$NODE_BRIDGE" > /dev/null 2>&1 || return 0
  # Seen from any PID or mount namespace: a live node's CoreDNS and kubelet listen on its address.
  [ -z "$(ss -Hltun "src $NODE_IP" 2>/dev/null)" ] ||
    die "another real node is up: something listens on $NODE_IP, the bridge $NODE_BRIDGE's address (one a machine)"
  owner=$(cat "/sys/class/net/$NODE_BRIDGE/ifalias" 2>/dev/null || true); owner=${owner#decant-k8s-run:}
  # A bridge made before it carried its alias: the directory under which containerd's state is mounted.
  [ -n "$owner" ] || owner=$(awk '$2 ~ /\/containerd\/state\// { sub(/\/containerd\/state\/.*/, "", $2); print $2; exit }' /proc/mounts)
  # Only a node's state directory is cleaned up (it holds our CNI list); else the bridge alone.
  if [ -z "$owner" ] || [ ! -e "$owner/cni/net.d/10-decant.conflist" ]; then
    local bin p
    bin=$(realpath -m "$K8S_BIN")
    for p in /proc/[0-9]*; do
      exe=$(readlink "$p/exe" 2>/dev/null) || continue
      case "${exe% (deleted)}" in "$bin/kubelet" | "$bin/containerd")
        die "the bridge $NODE_BRIDGE exists and $exe runs (pid ${p#/proc/}): another real node is up (one a machine)" ;;
      esac
    done
    echo "k8s: the bridge $NODE_BRIDGE of a stopped run, without its state: removing it" >&2
    ip link del "$NODE_BRIDGE" || die "could not remove the bridge $NODE_BRIDGE"
    return 0
  fi
  for c in $NODE_COMPONENTS etcd kube-apiserver; do
    pid=$(cat "$owner/pids/$c.pid" 2>/dev/null) || continue
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
    [ "$(basename "${exe% (deleted)}")" != "$c" ] ||
      die "another real node is up (its $c runs, state in $owner): one a machine; stop it with K8S_RUN=$owner $HERE/down.sh"
  done
  echo "k8s: a real node left by a stopped run (state in $owner): cleaning it up" >&2
  local purge=--purge
  [ "$(realpath -m "$owner")" != "$(realpath -m "$K8S_RUN")" ] || purge=""
  K8S_RUN=$owner "$HERE/down.sh" $purge || die "down.sh on the state in $owner failed"
  ! ip link show "$NODE_BRIDGE" > /dev/null 2>&1 || die "could not remove the bridge $NODE_BRIDGE left by $owner"
}

cgroup_hierarchies() { awk '($3 == "cgroup" || $3 == "cgroup2") && $2 ~ /^\/sys\/fs\/cgroup/ { print $2 }' /proc/mounts; }

# After the control plane: the node's components, until the node is Ready. Uses up.sh's
# start/wait_for/fail/kc.
start_real_node() {
  mkdir -p "$K8S_RUN/cni/net.d" "$CTRD" "$K8S_RUN/kubelet" "$K8S_RUN/coredns"
  # kubelet (overcommit, panic, keys) and the bridge plugin (ip_forward) change sysctls: saved, down.sh restores.
  [ -s "$K8S_RUN/sysctl.saved" ] || sysctl $NODE_SYSCTLS 2>/dev/null | tr -d ' ' > "$K8S_RUN/sysctl.saved"

  current=""
  ip link add "$NODE_BRIDGE" type bridge || fail "ip link add $NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" alias "decant-k8s-run:$(realpath -m "$K8S_RUN")" || fail "ip link set $NODE_BRIDGE alias"
  ip addr replace "$NODE_IP/${POD_CIDR#*/}" dev "$NODE_BRIDGE" && ip link set "$NODE_BRIDGE" up || fail "ip addr $NODE_IP"
  cat > "$K8S_RUN/cni/net.d/10-decant.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "decant-$NODE_NAME", "plugins": [
  {"type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$K8S_RUN/cni/ipam",
            "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF

  # CoreDNS answers cluster.local from the API and nothing else (NXDOMAIN): test pods have no
  # business resolving names outside the cluster.
  cat > "$K8S_RUN/coredns/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:$DNS_HEALTH_PORT
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KC decant-test
        pods insecure
    }
    cache 30
}
.:53 {
    bind $NODE_IP
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF
  start coredns -conf "$K8S_RUN/coredns/Corefile"
  wait_for healthy curl -sf --max-time 2 "http://127.0.0.1:$DNS_HEALTH_PORT/health"

  # containerd: CRI with runc (cgroupfs), the CNI list above, the sandbox image local/pause:1,
  # its streaming server (exec, port-forward) on a free loopback port, no NRI.
  # restrict_oom_score_adj: a negative oom_score_adj (pause asks -998) needs CAP_SYS_RESOURCE,
  # which a sandboxed machine may lack ("can't get final child's PID from pipe: EOF").
  cat > "$CTRD/config.toml" <<EOF
version = 3
imports = []
root = "$CTRD/root"
state = "$CTRD/state"
[grpc]
  address = "$CTRD_SOCK"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$CTRD/registries"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "docker.io/local/pause:1"
[plugins.'io.containerd.cri.v1.runtime']
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$CNI_BIN"]
    conf_dir = "$K8S_RUN/cni/net.d"
    max_conf_num = 1
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$CTRD/runc"
        SystemdCgroup = false
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
EOF
  # Every registry is a closed loopback port: a pull of an image the node lacks fails at once
  # and sends nothing off this machine.
  mkdir -p "$CTRD/registries/_default"
  printf 'server = "http://127.0.0.1:9"\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n' \
    > "$CTRD/registries/_default/hosts.toml"
  start containerd --config "$CTRD/config.toml"
  wait_for serving "$K8S_BIN/ctr" -a "$CTRD_SOCK" version
  [ -s "$K8S_IMAGES/node/pause_1.oci.tar" ] || "$HERE/image.sh" pause > /dev/null || fail "image.sh pause"
  local have a r
  have=$("$K8S_BIN/ctr" -a "$CTRD_SOCK" -n k8s.io images ls -q 2>/dev/null)
  for a in "$K8S_IMAGES"/node/*.oci.tar; do
    r=$(basename "$a" .oci.tar); r=docker.io/local/${r%_*}:${r##*_}
    echo "$have" | grep -qx "$r" || "$K8S_BIN/ctr" -a "$CTRD_SOCK" -n k8s.io images import \
      --base-name "${r%:*}" "$a" >> "$K8S_RUN/logs/images.log" 2>&1 || fail "importing $a"
  done

  # kubelet: cgroupfs driver (cgroup v1 allowed), pods under $CGROUP_ROOT, files under
  # $K8S_RUN/kubelet, API on $NODE_IP:$KUBELET_PORT (client certificates of our CA), no image
  # GC, eviction only when nearly full, no iptables chains of its own.
  local h f
  for h in $(cgroup_hierarchies); do
    mkdir -p "$h$CGROUP_ROOT"
    for f in cpuset.cpus cpuset.mems; do # v1 cpuset: a new group starts empty
      [ ! -e "$h$CGROUP_ROOT/$f" ] || [ -n "$(cat "$h$CGROUP_ROOT/$f")" ] || cat "$h/$f" > "$h$CGROUP_ROOT/$f"
    done
  done
  cat > "$K8S_RUN/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authentication: {anonymous: {enabled: false}, webhook: {enabled: false}, x509: {clientCAFile: $PKI/ca.crt}}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$CTRD_SOCK
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
podLogsDir: $K8S_RUN/kubelet/logs
volumePluginDir: $K8S_RUN/kubelet/volume-plugins
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
serializeImagePulls: false
makeIPTablesUtilChains: false
EOF
  start kubelet --config="$K8S_RUN/kubelet/config.yaml" --kubeconfig="$KC" --root-dir="$K8S_RUN/kubelet" \
    --cert-dir="$K8S_RUN/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
  wait_for healthy curl -sf --max-time 2 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz"
  wait_for "a Ready node" kc wait --for=condition=Ready --timeout=5s "node/$NODE_NAME"

  # kube-proxy: ClusterIP Services by iptables rules (down.sh removes them); conntrack sysctls
  # and localhost NodePorts left alone.
  start kube-proxy --kubeconfig="$KC" --hostname-override="$NODE_NAME" --proxy-mode=iptables \
    --cluster-cidr="$POD_CIDR" --nodeport-addresses=primary --iptables-localhost-nodeports=false \
    --healthz-bind-address="127.0.0.1:$PROXY_HEALTHZ_PORT" --metrics-bind-address="127.0.0.1:$PROXY_METRICS_PORT" \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0
  wait_for healthy curl -sf --max-time 2 "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz"
}

# kubelet's serving certificate for $NODE_IP, signed by the cluster's CA (in $PKI).
node_certificate() {
  [ -s "$PKI/kubelet.crt" ] && return
  (
    cd "$PKI"
    openssl req -newkey rsa:2048 -nodes -keyout kubelet.key -out kubelet.csr -subj "/CN=$NODE_NAME"
    printf '%b\n' "subjectAltName=IP:$NODE_IP,IP:127.0.0.1,DNS:$NODE_NAME\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment" > kubelet.ext
    openssl x509 -req -in kubelet.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -out kubelet.crt -extfile kubelet.ext
  ) >> "$K8S_RUN/logs/pki.log" 2>&1 || { cat "$K8S_RUN/logs/pki.log" >&2; die "openssl failed (kubelet)"; }
}

# down.sh, before the control plane: the node's components (uses down.sh's stop/stop_pids/ours),
# every pod sandbox through crictl (containers killed, CNI teardown, network namespaces gone),
# any shim of ours left, the sysctls, the bridge, the empty pod cgroups, the mounts under $K8S_RUN.
stop_real_node() {
  local ipt c h
  if [ -e "$K8S_RUN/pids/kube-proxy.pid" ]; then
    stop kube-proxy
    "$K8S_BIN/kube-proxy" --cleanup >> "$K8S_RUN/logs/kube-proxy-cleanup.log" 2>&1 || true
    for ipt in iptables ip6tables; do # --cleanup leaves KUBE-FIREWALL empty, still jumped to
      if ! command -v $ipt > /dev/null || $ipt -S KUBE-FIREWALL 2>/dev/null | grep -q '^-A'; then continue; fi
      for c in INPUT OUTPUT; do $ipt -D $c -j KUBE-FIREWALL 2>/dev/null || true; done
      $ipt -X KUBE-FIREWALL 2>/dev/null || true
    done
  fi
  stop kubelet
  if ours containerd > /dev/null; then
    timeout 60 "$K8S_BIN/crictl" -r "unix://$CTRD_SOCK" --timeout 30s rmp -fa >> "$K8S_RUN/logs/crictl.log" 2>&1 || true
  fi
  stop containerd
  local shim p exe left=()
  shim=$(realpath -m "$K8S_BIN/containerd-shim-runc-v2")
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    [ "${exe% (deleted)}" = "$shim" ] && tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "-address $CTRD_SOCK " &&
      left+=("${p#/proc/}")
  done
  stop_pids "${left[@]}"
  stop coredns
  if [ -s "$K8S_RUN/sysctl.saved" ]; then sysctl -q -p "$K8S_RUN/sysctl.saved" || true; rm -f "$K8S_RUN/sysctl.saved"; fi
  # The bridge, when it is this run's (or names none: made before bridges carried their run).
  local alias
  alias=$(cat "/sys/class/net/$NODE_BRIDGE/ifalias" 2>/dev/null || true)
  if [ -z "$alias" ] || [ "${alias#decant-k8s-run:}" = "$(realpath -m "$K8S_RUN")" ]; then
    ip link del "$NODE_BRIDGE" 2>/dev/null || true
  fi
  for h in $(cgroup_hierarchies); do # rmdir: empty ones only
    [ -d "$h$CGROUP_ROOT" ] && find "$h$CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  # kubelet's mounts (its root-dir bound on itself, the pods' secret and token tmpfs) outlive it.
  awk -v r="$(realpath -m "$K8S_RUN")/" 'index($2 "/", r) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
}
