#!/usr/bin/env bash
# A real single-node Kubernetes management cluster from upstream binaries, for tests.
#
#   tools/e2e/cluster.sh up DIR      start (or finish starting) the cluster; waits for Node Ready
#   tools/e2e/cluster.sh down DIR    tear everything down, even after a failed `up`; checks nothing is left
#   tools/e2e/cluster.sh logs DIR [COMPONENT]   tail every component's log (or one log whole)
#   tools/e2e/cluster.sh env DIR     print shell exports (KUBECONFIG, addresses) for the cluster
#   tools/e2e/cluster.sh kubectl DIR ARGS...   the peers' kubectl against the cluster
#
# Everything lives under DIR: pki/, kubeconfig, logs/, etcd/, containerd/, kubelet/, cni/, pids/.
# Control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler run as host
# processes on 127.0.0.1. The node: containerd (own config, socket, root and state under
# DIR), kubelet (cgroupfs, its own cgroupRoot), kube-proxy (iptables), bridge CNI with
# host-local IPAM on the node's podCIDR. The apiserver advertises an address that lives in
# a network namespace we create (a veth pair on a private /24); netnsfwd forwards it to
# 127.0.0.1. Cluster DNS: svcdns (tools/e2e/go/svcdns, the harness's CoreDNS) answers
# <svc>.<ns>.svc.cluster.local and <hostname>.<svc>.<ns>.svc.cluster.local on port 53 of that
# same address, from the apiserver's Services and EndpointSlices. See tests/e2e/README.md.
#
# Binaries: $(tools/peers.sh --bin-dir) (TCPC_E2E_BIN_DIR overrides); Debian's etcd,
# containerd, runc, CNI plugins, iptables, conntrack. Must run as root.
set -euo pipefail

# shellcheck source=tools/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------
# Fixed layout. Every address below exists only on interfaces this script creates:
#   10.213.0.0/24  veth pair: host end .1 (node InternalIP), namespace end .2 (apiserver
#                  advertise address, forwarded to 127.0.0.1:6443 / :2379; and the cluster
#                  DNS, svcdns listening on .2:53 inside the namespace: nothing on the host's
#                  own port 53 changes)
#   10.214.0.0/16  pod network (the node gets a /24 from the controller-manager)
#   10.215.0.0/24  Service ClusterIPs (routed into our veth as a sink, so a packet that
#                  kube-proxy did not rewrite can never leave the host)
NODE_NAME=${E2E_NODE_NAME:-tcpc-e2e}
HOST_IP=10.213.0.1
ADV_IP=10.213.0.2
CLUSTER_CIDR=10.214.0.0/16
SERVICE_CIDR=10.215.0.0/24
KUBERNETES_SVC_IP=10.215.0.1
# The kubelet's clusterDNS/clusterDomain: pods (dnsPolicy ClusterFirst) reach svcdns through
# the bridge and our veth, like they reach the apiserver at ADV_IP:6443.
DNS_IP=$ADV_IP
CLUSTER_DOMAIN=cluster.local
APISERVER_PORT=6443
ETCD_PORT=2379
# A second etcd a scenario may start on 127.0.0.1 (tests/e2e/tenants.sh: dataStoreOverrides); pods
# reach it at ADV_IP through the forwarder like the first one.
SPARE_ETCD_PORT=2479
# Database servers of the DataStore scenarios (tests/e2e/datastores.sh), on 127.0.0.1 as well.
PG_PORT=5479
MYSQL_PORT=3379
AUTH_ETCD_PORT=2579
NATS_PORT=4279

# cluster_vars DIR: derive names from DIR (so two DIRs never collide on names).
cluster_vars() {
  DIR=$(realpath -m "$1")
  ID=$(printf '%s' "$DIR" | sha256sum | cut -c1-6)
  NETNS=tcpce2e-$ID
  VETH_HOST=te2e${ID}h
  VETH_NS=te2e${ID}n
  BRIDGE=te2e${ID}br
  CGROUP=tcpc-e2e-$ID
  GUARD_CHAIN=TCPCE2E-$ID
  KUBECONFIG_FILE=$DIR/kubeconfig
  PKI=$DIR/pki
  LOGS=$DIR/logs
  PIDS=$DIR/pids
  CTR_SOCK=$DIR/containerd/containerd.sock
}

# ---------------------------------------------------------------------------------------
# Prerequisites

check_prerequisites() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  local c
  for c in etcd containerd runc containerd-shim-runc-v2 ctr iptables ip6tables ip conntrack openssl jq sha256sum; do
    command -v "$c" >/dev/null || die "$c not found (tools/peers.sh debian installs it)"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    die "CNI plugins missing in /usr/lib/cni (Debian containernetworking-plugins)"
  BIN=$(peers_bin_dir)
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    [[ -x $BIN/$c ]] || die "$BIN/$c missing: run tools/peers.sh kubernetes"
  done
  (( ${#CTR_SOCK} < 100 )) || die "DIR is too long for a unix socket path: $CTR_SOCK"
}

# ---------------------------------------------------------------------------------------
# PKI: a throwaway CA (cluster), an etcd CA and a front-proxy CA, made with openssl.

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# new_ca NAME CN
new_ca() {
  local name=$1 cn=$2
  [[ -f $PKI/$name.crt ]] && return 0
  new_key "$PKI/$name.key"
  openssl req -x509 -new -key "$PKI/$name.key" -subj "/CN=$cn" -days 3650 -out "$PKI/$name.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# new_cert CA NAME SUBJECT EXT_KEY_USAGE [SAN]   (SAN like "DNS:a,IP:1.2.3.4")
new_cert() {
  local ca=$1 name=$2 subj=$3 eku=$4 san=${5:-}
  [[ -f $PKI/$name.crt ]] && return 0
  new_key "$PKI/$name.key"
  local ext; ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    if [[ -n $san ]]; then echo "subjectAltName=$san"; fi
  } > "$ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" 2>/dev/null |
    openssl x509 -req -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial -days 3650 \
      -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext"
}

make_pki() {
  mkdir -p "$PKI"
  new_ca ca kubernetes-ca
  new_ca etcd-ca etcd-ca
  new_ca front-proxy-ca front-proxy-ca
  [[ -f $PKI/sa.key ]] || { new_key "$PKI/sa.key"; openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  new_cert etcd-ca etcd-server "/CN=etcd-server" serverAuth,clientAuth \
    "DNS:localhost,IP:127.0.0.1,IP:$ADV_IP,IP:$HOST_IP"
  new_cert etcd-ca apiserver-etcd-client "/O=system:masters/CN=kube-apiserver-etcd-client" clientAuth
  new_cert ca apiserver "/CN=kube-apiserver" serverAuth \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$KUBERNETES_SVC_IP,IP:$ADV_IP,IP:$HOST_IP"
  new_cert ca apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  new_cert front-proxy-ca front-proxy-client "/CN=front-proxy-client" clientAuth
  new_cert ca admin "/O=system:masters/CN=kubernetes-admin" clientAuth
  new_cert ca controller-manager "/CN=system:kube-controller-manager" clientAuth
  new_cert ca scheduler "/CN=system:kube-scheduler" clientAuth
  new_cert ca kube-proxy "/CN=system:kube-proxy" clientAuth
  new_cert ca kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  # svcdns: only lists Services and EndpointSlices (ClusterRole system:e2e-dns, apply_dns_rbac)
  new_cert ca dns "/CN=system:e2e-dns" clientAuth
}

# write_kubeconfig FILE CERT_NAME
write_kubeconfig() {
  local file=$1 name=$2
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$PKI/$name.crt")
    client-key-data: $(base64 -w0 "$PKI/$name.key")
contexts:
- name: e2e
  context: {cluster: e2e, user: $name}
current-context: e2e
EOF
}

make_kubeconfigs() {
  mkdir -p "$DIR/kubeconfigs"
  local n
  for n in controller-manager scheduler kube-proxy kubelet; do
    write_kubeconfig "$DIR/kubeconfigs/$n.kubeconfig" "$n"
  done
  write_kubeconfig "$KUBECONFIG_FILE" admin
}

# ---------------------------------------------------------------------------------------
# Host state we change: sysctls (saved and restored), netns + veth, routes, guard chain.

# save_sysctl KEY: remember the value before our first change (restored by `down`).
save_sysctl() {
  local key=$1 file=$DIR/saved-sysctls
  grep -q "^$key=" "$file" 2>/dev/null || echo "$key=$(sysctl -n "$key")" >> "$file"
}

network_up() {
  save_sysctl net.ipv4.ip_forward
  save_sysctl net.ipv4.conf.all.route_localnet
  sysctl -qw net.ipv4.ip_forward=1
  if [[ ! -e /run/netns/$NETNS ]]; then
    ip netns add "$NETNS"
  fi
  ip -n "$NETNS" link set lo up
  if ! ip link show "$VETH_HOST" >/dev/null 2>&1; then
    ip link add "$VETH_HOST" type veth peer name "$VETH_NS" netns "$NETNS"
    ip addr add "$HOST_IP/24" dev "$VETH_HOST"
    ip -n "$NETNS" addr add "$ADV_IP/24" dev "$VETH_NS"
  fi
  ip link set "$VETH_HOST" up
  ip -n "$NETNS" link set "$VETH_NS" up
  ip -n "$NETNS" route replace default via "$HOST_IP"
  # Sink: ClusterIPs not rewritten by kube-proxy go into our namespace and die there.
  ip route replace "$SERVICE_CIDR" dev "$VETH_HOST"
  # Guard: pod traffic may only be forwarded to our bridge or our veth, nowhere else.
  if ! iptables -w -L "$GUARD_CHAIN" -n >/dev/null 2>&1; then
    iptables -w -N "$GUARD_CHAIN"
    iptables -w -A "$GUARD_CHAIN" -o "$BRIDGE" -j RETURN
    iptables -w -A "$GUARD_CHAIN" -o "$VETH_HOST" -j RETURN
    iptables -w -A "$GUARD_CHAIN" -j DROP
  fi
  iptables -w -C FORWARD -i "$BRIDGE" -j "$GUARD_CHAIN" 2>/dev/null ||
    iptables -w -I FORWARD 1 -i "$BRIDGE" -j "$GUARD_CHAIN"
}

# ---------------------------------------------------------------------------------------
# cgroups: /CGROUP/host holds every process we start (so `down` finds shims and strays),
# /CGROUP is the kubelet's cgroupRoot (it makes /CGROUP/kubepods).

cgroup_controllers() {
  local d
  for d in /sys/fs/cgroup/*/; do
    d=${d%/}
    # every v1 hierarchy, and the hybrid v2 one at unified/ (runc and the kubelet use it too)
    if [[ -f $d/cgroup.procs ]]; then printf '%s\n' "$d"; fi
  done
}

cgroups_up() {
  local c
  for c in $(cgroup_controllers); do
    mkdir -p "$c/$CGROUP/host"
    if [[ -f $c/cpuset.cpus ]]; then
      local sub
      for sub in "$c/$CGROUP" "$c/$CGROUP/host"; do
        [[ -n $(<"$sub/cpuset.cpus") ]] || cat "$c/cpuset.cpus" > "$sub/cpuset.cpus"
        [[ -n $(<"$sub/cpuset.mems") ]] || cat "$c/cpuset.mems" > "$sub/cpuset.mems"
      done
    fi
  done
}

# enter_host_cgroup PID: move PID into /CGROUP/host in every hierarchy.
enter_host_cgroup() {
  local c
  for c in $(cgroup_controllers); do
    echo "$1" > "$c/$CGROUP/host/cgroup.procs" 2>/dev/null || true
  done
}

# ---------------------------------------------------------------------------------------
# Processes

pid_alive() { [[ -f $PIDS/$1.pid ]] && kill -0 "$(<"$PIDS/$1.pid")" 2>/dev/null; }

# start_daemon NAME COMMAND...: run in the background in our cgroup, log to logs/NAME.log,
# record the PID. Does nothing when NAME is already running.
start_daemon() {
  local name=$1; shift
  if pid_alive "$name"; then
    log "$name already running (pid $(<"$PIDS/$name.pid"))"
    return 0
  fi
  mkdir -p "$LOGS" "$PIDS"
  echo "=== $(date -Is) $*" >> "$LOGS/$name.log"
  setsid "$@" >> "$LOGS/$name.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$PIDS/$name.pid"
  enter_host_cgroup "$pid"
  log "started $name (pid $pid)"
}

start_etcd() {
  mkdir -p "$DIR/etcd"
  chmod 700 "$DIR/etcd"
  start_daemon etcd etcd --name e2e --data-dir "$DIR/etcd" \
    --listen-client-urls "https://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster e2e=http://127.0.0.1:2380 \
    --listen-metrics-urls http://127.0.0.1:2381 \
    --cert-file "$PKI/etcd-server.crt" --key-file "$PKI/etcd-server.key" \
    --client-cert-auth --trusted-ca-file "$PKI/etcd-ca.crt" \
    --snapshot-count 10000 --quota-backend-bytes 2147483648 --unsafe-no-fsync
}

etcd_healthy() { curl -sf http://127.0.0.1:2381/health | has '"health":"true"'; }

start_forwarder() {
  start_daemon netnsfwd "$E2E_TOOLS/netnsfwd" -netns "/run/netns/$NETNS" \
    -listen "$ADV_IP:$APISERVER_PORT" -to "127.0.0.1:$APISERVER_PORT" \
    -listen "$ADV_IP:$ETCD_PORT" -to "127.0.0.1:$ETCD_PORT" \
    -listen "$ADV_IP:$SPARE_ETCD_PORT" -to "127.0.0.1:$SPARE_ETCD_PORT" \
    -listen "$ADV_IP:$PG_PORT" -to "127.0.0.1:$PG_PORT" \
    -listen "$ADV_IP:$MYSQL_PORT" -to "127.0.0.1:$MYSQL_PORT" \
    -listen "$ADV_IP:$AUTH_ETCD_PORT" -to "127.0.0.1:$AUTH_ETCD_PORT" \
    -listen "$ADV_IP:$NATS_PORT" -to "127.0.0.1:$NATS_PORT"
}

start_apiserver() {
  start_daemon kube-apiserver "$BIN/kube-apiserver" \
    --bind-address=127.0.0.1 --secure-port=$APISERVER_PORT --advertise-address=$ADV_IP \
    --etcd-servers=https://127.0.0.1:$ETCD_PORT --etcd-cafile="$PKI/etcd-ca.crt" \
    --etcd-certfile="$PKI/apiserver-etcd-client.crt" --etcd-keyfile="$PKI/apiserver-etcd-client.key" \
    --etcd-prefix=/registry \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
    --requestheader-username-headers=X-Remote-User \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range=$SERVICE_CIDR --service-node-port-range=30000-32767 \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false --v=1
}

apiserver_ready() { curl -sf --cacert "$PKI/ca.crt" "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null; }

# apply_dns_rbac: svcdns's identity (the dns client certificate, user system:e2e-dns) may
# read Services and EndpointSlices, nothing else.
apply_dns_rbac() {
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:e2e-dns"}
rules:
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:e2e-dns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:e2e-dns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:e2e-dns"}
EOF
}

# start_dns: svcdns listens on DNS_IP:53 inside our namespace (so the host's port 53 is
# untouched); it lists from the apiserver and forwards other names to the nameservers of
# the host's resolv.conf from the host namespace.
start_dns() {
  start_daemon svcdns "$E2E_TOOLS/svcdns" -netns "/run/netns/$NETNS" -listen "$DNS_IP:53" \
    -server "https://127.0.0.1:$APISERVER_PORT" -ca "$PKI/ca.crt" -cert "$PKI/dns.crt" -key "$PKI/dns.key" \
    -zone "$CLUSTER_DOMAIN" -resolv /etc/resolv.conf
}

# dns_ready: svcdns has listed the Services (the apiserver's own one resolves).
dns_ready() { "$E2E_TOOLS/svcdns" -listen "$DNS_IP:53" -lookup "kubernetes.default.svc.$CLUSTER_DOMAIN"; }

start_controller_manager() {
  start_daemon kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$DIR/kubeconfigs/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/kubeconfigs/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$DIR/kubeconfigs/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false \
    --allocate-node-cidrs=true --cluster-cidr=$CLUSTER_CIDR --node-cidr-mask-size=24 \
    --service-cluster-ip-range=$SERVICE_CIDR \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
    --use-service-account-credentials=true --controllers='*,bootstrapsigner,tokencleaner' \
    --profiling=false --v=1
}

start_scheduler() {
  start_daemon kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$DIR/kubeconfigs/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/kubeconfigs/scheduler.kubeconfig" \
    --authorization-kubeconfig="$DIR/kubeconfigs/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1
}

write_containerd_config() {
  mkdir -p "$DIR/containerd" "$DIR/cni/net.d"
  cat > "$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
oom_score = 0
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CTR_SOCK"

[ttrpc]
  address = "$DIR/containerd/containerd-ttrpc.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$E2E_PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: without this every sandbox fails with
  # "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  # pod network namespaces are mounted under DIR, so \`down\` finds them
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  tolerate_missing_hugetlb_controller = true
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$DIR/containerd/runc"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
    max_conf_num = 1
EOF
}

ctr_() { ctr --address "$CTR_SOCK" "$@"; }

start_containerd() {
  pid_alive containerd || write_containerd_config
  start_daemon containerd containerd --config "$DIR/containerd/config.toml"
}

containerd_ready() { ctr_ version; }

write_kubelet_config() {
  mkdir -p "$DIR/kubelet" "$LOGS/pods"
  cat > "$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $HOST_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CTR_SOCK
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP
cgroupsPerQOS: true
# this host is cgroup v1; kubelets >= v1.35 refuse it unless told otherwise
failCgroupV1: false
failSwapOn: false
podLogsDir: $LOGS/pods
# pods with dnsPolicy Default (and hostNetwork ones without ClusterFirstWithHostNet) get this;
# ClusterFirst pods get clusterDNS (svcdns, start_dns) with the cluster search list
resolvConf: /etc/resolv.conf
clusterDNS: [$DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
registerNode: true
serializeImagePulls: false
# the images are imported, never pulled: never garbage-collect them, never evict
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
maxPods: 50
staticPodPath: ""
rotateCertificates: false
serverTLSBootstrap: false
EOF
}

start_kubelet() {
  # the kubelet reads its config once: a kubelet left running by an `up` before a config
  # change (clusterDNS, ...) keeps the old one until `down` + `up`
  pid_alive kubelet || write_kubelet_config
  start_daemon kubelet "$BIN/kubelet" --config="$DIR/kubelet/config.yaml" \
    --kubeconfig="$DIR/kubeconfigs/kubelet.kubeconfig" --root-dir="$DIR/kubelet" \
    --cert-dir="$DIR/kubelet/pki" --hostname-override="$NODE_NAME" --node-ip="$HOST_IP" --v=1
}

kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

node_pod_cidr() { kubectl_ get node "$NODE_NAME" -o jsonpath='{.spec.podCIDR}' 2>/dev/null; }
node_has_pod_cidr() { [[ -n $(node_pod_cidr) ]]; }

write_cni_config() {
  local cidr=$1
  mkdir -p "$DIR/cni/net.d" "$DIR/cni/ipam"
  # containerd 1.6 reloads its CNI config on WRITE events in conf_dir and ignores CREATE
  # (so a file renamed in is never seen): write it in place, and only when it changes.
  cat > "$DIR/cni/conflist.tmp" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "tcpc-e2e-$ID",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$DIR/cni/ipam",
        "ranges": [[{"subnet": "$cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
  if cmp -s "$DIR/cni/conflist.tmp" "$DIR/cni/net.d/10-tcpc-e2e.conflist"; then
    rm -f "$DIR/cni/conflist.tmp"
  else
    cat "$DIR/cni/conflist.tmp" > "$DIR/cni/net.d/10-tcpc-e2e.conflist"
    rm -f "$DIR/cni/conflist.tmp"
  fi
}

start_kube_proxy() {
  # kube-proxy exits when its config file changes under it: never rewrite it while it runs
  pid_alive kube-proxy || write_kube_proxy_config
  start_daemon kube-proxy "$BIN/kube-proxy" --config="$DIR/kube-proxy/config.yaml" --v=1
}

write_kube_proxy_config() {
  mkdir -p "$DIR/kube-proxy"
  cat > "$DIR/kube-proxy/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $DIR/kubeconfigs/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
mode: iptables
clusterCIDR: $CLUSTER_CIDR
# NodePorts answer on loopback only
nodePortAddresses: ["127.0.0.0/8"]
iptables:
  localhostNodePorts: true
# root here lacks CAP_SYS_RESOURCE; leave the host's conntrack sysctls alone
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

node_ready() {
  [[ $(kubectl_ get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

# ---------------------------------------------------------------------------------------
# up

# Host directories the node components create outside DIR (paths fixed in their code).
HOST_DIRS=(/var/log/containers /var/lib/cni/results /var/lib/cni /run/netns /run/containerd/s /run/containerd)

# remember_host_dirs: note which of HOST_DIRS exist before our first `up`.
remember_host_dirs() {
  [[ -f $DIR/preexisting-dirs ]] && return 0
  local d
  for d in "${HOST_DIRS[@]}"; do if [[ -d $d ]]; then echo "$d"; fi; done > "$DIR/preexisting-dirs"
}

# remove_new_host_dirs: our CNI cache entries, then HOST_DIRS we created, if empty.
remove_new_host_dirs() {
  local f cid
  for f in /var/lib/cni/results/"tcpc-e2e-$ID"-*; do
    [[ -f $f ]] || continue
    cid=${f#/var/lib/cni/results/tcpc-e2e-$ID-}; cid=${cid%-eth0}
    rm -f "$f" "/var/lib/cni/results/cni-loopback-$cid-lo"
  done
  [[ -f $DIR/preexisting-dirs ]] || return 0
  local d
  for d in "${HOST_DIRS[@]}"; do
    grep -qxF "$d" "$DIR/preexisting-dirs" && continue
    [[ -d $d && -z $(ls -A "$d") ]] || continue
    mountpoint -q "$d" && umount "$d" 2>/dev/null  # `ip netns add` bind-mounts /run/netns on itself
    rmdir "$d" 2>/dev/null || true
  done
  rm -f "$DIR/preexisting-dirs"
}

cmd_up() {
  local t0; t0=$(now)
  check_prerequisites
  mkdir -p "$DIR" "$LOGS" "$PIDS"
  remember_host_dirs
  E2E_TOOLS=$("$e2e_here/images.sh" tools)  # builds netnsfwd, svcdns, probe, pause (cached)
  make_pki
  make_kubeconfigs
  network_up
  cgroups_up

  start_etcd
  start_containerd
  # images are hashed/imported in the background while the control plane comes up
  wait_for "containerd" 30 containerd_ready || die "containerd not up; see $LOGS/containerd.log"
  "$e2e_here/images.sh" import "$DIR" >> "$LOGS/images.log" 2>&1 &
  local import_pid=$!
  wait_for "etcd health" 30 etcd_healthy || die "etcd not healthy; see $LOGS/etcd.log"
  start_forwarder
  start_apiserver
  wait_for "kube-apiserver /readyz" 60 apiserver_ready || die "apiserver not ready; see $LOGS/kube-apiserver.log"
  log "apiserver ready after $(elapsed "$t0")s"
  apply_dns_rbac || die "applying the svcdns RBAC failed"
  start_dns
  start_controller_manager
  start_scheduler

  start_kubelet
  wait_for "node $NODE_NAME registered" 60 node_pod_cidr || die "node not registered; see $LOGS/kubelet.log"
  wait_for "podCIDR of node $NODE_NAME" 30 node_has_pod_cidr || die "no podCIDR; see $LOGS/kube-controller-manager.log"
  local cidr; cidr=$(node_pod_cidr)
  write_cni_config "$cidr"
  start_kube_proxy
  wait_for "node $NODE_NAME Ready" 120 node_ready || die "node not Ready; see $LOGS/kubelet.log"
  wait_for "default ServiceAccount" 60 kubectl_ get serviceaccount default -n default ||
    die "no default ServiceAccount; see $LOGS/kube-controller-manager.log"
  wait_for "svcdns answering on $DNS_IP:53" 30 dns_ready || die "svcdns not answering; see $LOGS/svcdns.log"
  wait "$import_pid" || die "image import failed; see $LOGS/images.log"
  grep -h 'images imported' "$LOGS/images.log" | tail -n 1 >&2
  sleep 1
  local name
  for name in etcd netnsfwd kube-apiserver svcdns kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    pid_alive "$name" || die "$name exited; see $LOGS/$name.log"
  done
  log "cluster up: node $NODE_NAME Ready (podCIDR $cidr) in $(elapsed "$t0")s; KUBECONFIG=$KUBECONFIG_FILE"
}

# ---------------------------------------------------------------------------------------
# down: best effort at every step; reports what is left at the end.

# cgroup_tree_pids: every PID in /CGROUP and below (any hierarchy).
cgroup_tree_pids() {
  local c
  for c in $(cgroup_controllers); do
    if [[ -d $c/$CGROUP ]]; then find "$c/$CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done | sort -un
}

# pids_using_dir: processes whose command line or cwd mention DIR (strays outside the cgroup).
pids_using_dir() {
  local p ancestors=" " a=$$
  while [[ $a -gt 1 ]]; do ancestors+="$a "; a=$(awk '{print $4}' "/proc/$a/stat" 2>/dev/null || echo 1); done
  grep -laF -- "$DIR/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 | while read -r p; do
    [[ $ancestors == *" $p "* || $p == "$BASHPID" ]] || echo "$p"
  done
}

stop_daemon() {
  local name=$1
  if pid_alive "$name"; then
    kill -TERM "$(<"$PIDS/$name.pid")" 2>/dev/null || true
  fi
}

kill_everything() {
  local name
  # the kubelet first, so it does not restart what we stop
  stop_daemon kubelet
  for name in kube-proxy kube-scheduler kube-controller-manager svcdns kube-apiserver netnsfwd containerd etcd; do
    stop_daemon "$name"
  done
  # pod processes are throwaway: SIGKILL them now (containerd shims then exit by themselves)
  local c
  for c in $(cgroup_controllers); do
    if [[ -d $c/$CGROUP/kubepods ]]; then
      # shellcheck disable=SC2046
      kill -KILL $(find "$c/$CGROUP/kubepods" -name cgroup.procs -exec cat {} + 2>/dev/null) 2>/dev/null
    fi
  done
  local i pids
  for i in $(seq 1 20); do
    pids=$( { cgroup_tree_pids; pids_using_dir; for name in "$PIDS"/*.pid; do [[ -f $name ]] && cat "$name"; done; } |
      sort -un | while read -r p; do kill -0 "$p" 2>/dev/null && echo "$p"; done || true)
    [[ -z $pids ]] && return 0
    (( i > 6 )) && { kill -KILL $pids 2>/dev/null || true; }
    sleep 0.25
  done
  log "still alive after SIGKILL: $pids"
}

# mounts_under_dir: mount points under DIR, deepest first.
mounts_under_dir() {
  awk -v d="$DIR/" '{ gsub(/\\040/, " ", $5); if (index($5, d) == 1) print $5 }' /proc/self/mountinfo | sort -r
}

unmount_everything() {
  local m i
  for i in 1 2 3; do
    while read -r m; do
      [[ -n $m ]] && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; }
    done < <(mounts_under_dir)
    [[ -z $(mounts_under_dir) ]] && return 0
  done
}

# delete_chains IPTABLES TABLE: drop every rule that jumps to KUBE-*/CNI-*/our guard
# from any chain, then flush and delete those chains.
delete_chains() {
  local ipt=$1 table=$2 rule chain
  local pattern="KUBE-|CNI-|$GUARD_CHAIN"
  "$ipt" -w -t "$table" -S 2>/dev/null | grep -E -- "^-A [A-Z]+ .*-j ($pattern)" | grep -vE "^-A ($pattern)" |
    while read -r rule; do
      eval "\"\$ipt\" -w -t \"\$table\" ${rule/-A /-D }" 2>/dev/null || true
    done
  for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" { print $2 }' | grep -E "^($pattern)"); do
    "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
  done
  for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" { print $2 }' | grep -E "^($pattern)"); do
    "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
  done
}

iptables_clean() {
  local ipt table
  for ipt in iptables ip6tables; do
    for table in filter nat mangle raw; do
      delete_chains "$ipt" "$table"
    done
  done
  if command -v nft >/dev/null; then
    local fam
    for fam in ip ip6; do nft delete table "$fam" kube-proxy 2>/dev/null || true; done
  fi
}

network_down() {
  ip route del "$SERVICE_CIDR" dev "$VETH_HOST" 2>/dev/null || true
  ip link del "$VETH_HOST" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  ip netns del "$NETNS" 2>/dev/null || true
  # host ends of pod veths whose namespaces were torn down with the bridge gone
  local l
  for l in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    [[ -n $(ip -o link show "$l" | grep -F "master $BRIDGE ") ]] && ip link del "$l" 2>/dev/null || true
  done
  if [[ -f $DIR/saved-sysctls ]]; then
    local kv
    while read -r kv; do sysctl -qw "$kv" 2>/dev/null || true; done < "$DIR/saved-sysctls"
    rm -f "$DIR/saved-sysctls"
  fi
}

cgroups_down() {
  local c d
  for c in $(cgroup_controllers); do
    [[ -d $c/$CGROUP ]] || continue
    find "$c/$CGROUP" -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null || true; done
  done
}

# remove_stale_shim_sockets: containerd 1.6 puts shim sockets in /run/containerd/s whatever
# its state dir; a SIGKILLed shim leaves its socket. Remove sockets nobody listens on.
remove_stale_shim_sockets() {
  [[ -d /run/containerd/s ]] || return 0
  local listening f
  listening=$(awk 'NR > 1 && $8 != "" { print $8 }' /proc/net/unix | sed 's/^@//' | sort -u)
  for f in /run/containerd/s/*; do
    [[ -S $f ]] || continue
    grep -qxF "$f" <<< "$listening" || rm -f "$f"
  done
  rmdir /run/containerd/s /run/containerd 2>/dev/null || true
}

# remove_runtime_state: everything but pki/ and logs/ (a new `up` starts from an empty etcd).
remove_runtime_state() {
  rm -rf "$DIR/etcd" "$DIR/containerd" "$DIR/kubelet" "$DIR/cni" "$DIR/kube-proxy" "$PIDS"
  find /var/log/containers -maxdepth 1 -type l -lname "$LOGS/*" -delete 2>/dev/null || true
}

# leftovers: print what `down` failed to remove; non-empty output means failure.
leftovers() {
  local p
  p=$( { cgroup_tree_pids; pids_using_dir; } | sort -un | while read -r x; do kill -0 "$x" 2>/dev/null && echo "$x"; done || true)
  [[ -n $p ]] && echo "processes: $(echo $p)"
  [[ -n $(mounts_under_dir) ]] && echo "mounts: $(mounts_under_dir | tr '\n' ' ')"
  [[ -e /run/netns/$NETNS ]] && echo "netns: $NETNS"
  ip link show "$VETH_HOST" >/dev/null 2>&1 && echo "link: $VETH_HOST"
  ip link show "$BRIDGE" >/dev/null 2>&1 && echo "link: $BRIDGE"
  local ch
  ch=$(for t in filter nat mangle raw; do iptables -w -t "$t" -S 2>/dev/null; ip6tables -w -t "$t" -S 2>/dev/null; done |
    awk '$1 == "-N" { print $2 }' | grep -E "^(KUBE-|CNI-|$GUARD_CHAIN)" | sort -u | tr '\n' ' ' || true)
  [[ -n $ch ]] && echo "iptables chains: $ch"
  local c
  for c in $(cgroup_controllers); do [[ -d $c/$CGROUP ]] && echo "cgroup: $c/$CGROUP"; done
  return 0
}

cmd_down() {
  check_root_only
  local t0; t0=$(now)
  # each step runs with errexit off (the `||` context): a failing step never stops the rest
  local step
  for step in kill_everything unmount_everything iptables_clean network_down cgroups_down \
      remove_runtime_state remove_stale_shim_sockets unmount_everything cgroups_down remove_new_host_dirs; do
    local ts; ts=$(now)
    "$step" || log "down: $step reported an error (continuing)"
    [[ ${E2E_DEBUG:-0} == 1 ]] && log "down: $step took $(elapsed "$ts")s"
  done
  local left; left=$(leftovers)
  if [[ -n $left ]]; then
    log "down left these behind:"
    printf '%s\n' "$left" >&2
    return 1
  fi
  log "down: nothing left ($(elapsed "$t0")s); logs kept in $LOGS"
}

check_root_only() { [[ $(id -u) == 0 ]] || die "must run as root"; }

# ---------------------------------------------------------------------------------------

cmd_logs() {
  local one=${1:-}
  if [[ -n $one ]]; then
    cat "$LOGS/$one.log"
    return
  fi
  local f
  for f in "$LOGS"/*.log; do
    [[ -f $f ]] || continue
    printf '\n===== %s (last 30 lines) =====\n' "$f"
    tail -n 30 "$f"
  done
  if [[ -d $LOGS/pods ]]; then
    printf '\n===== pod logs under %s =====\n' "$LOGS/pods"
    find "$LOGS/pods" -name '*.log' | sort
  fi
}

cmd_env() {
  cat <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export E2E_DIR=$DIR
export E2E_NODE_NAME=$NODE_NAME
export E2E_ADVERTISE_IP=$ADV_IP
export E2E_DNS_IP=$DNS_IP
export E2E_CLUSTER_DOMAIN=$CLUSTER_DOMAIN
export E2E_ETCD_URL=https://$ADV_IP:$ETCD_PORT
export E2E_ETCD_CA=$PKI/etcd-ca.crt
export E2E_SPARE_ETCD_PORT=$SPARE_ETCD_PORT
export E2E_PG_PORT=$PG_PORT
export E2E_MYSQL_PORT=$MYSQL_PORT
export E2E_AUTH_ETCD_PORT=$AUTH_ETCD_PORT
export E2E_NATS_PORT=$NATS_PORT
export E2E_ETCD_CA_KEY=$PKI/etcd-ca.key
export E2E_CONTAINERD_SOCK=$CTR_SOCK
export E2E_BIN_DIR=$(peers_bin_dir)
EOF
}

main() {
  local cmd=${1:-}; shift || true
  [[ -n $cmd && -n ${1:-} ]] || { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
  cluster_vars "$1"; shift
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    logs) cmd_logs "$@" ;;
    env) cmd_env ;;
    kubectl) BIN=$(peers_bin_dir); kubectl_ "$@" ;;
    *) die "unknown command $cmd" ;;
  esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
