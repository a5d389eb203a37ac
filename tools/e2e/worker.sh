#!/usr/bin/env bash
# A worker host for the e2e harness, joining a tenant cluster with `kubeadm join` the way an
# outside VM would.
#
#   tools/e2e/worker.sh up CLUSTER_DIR NAME         network namespace, mount namespace, containerd, images
#   tools/e2e/worker.sh join CLUSTER_DIR NAME VERSION JOIN_COMMAND…
#                                                   run JOIN_COMMAND (`kubeadm join …` as tcpc printed it,
#                                                   with kubeadm of VERSION) and the kubelet of VERSION as
#                                                   kubeadm's systemd drop-in would start it
#   tools/e2e/worker.sh cni CLUSTER_DIR NAME CIDR   bridge CNI on the node's podCIDR
#   tools/e2e/worker.sh exec CLUSTER_DIR NAME CMD…  run CMD on the worker (its namespaces)
#   tools/e2e/worker.sh cut CLUSTER_DIR NAME        the kubelet's port refuses connections from outside the worker
#   tools/e2e/worker.sh down CLUSTER_DIR NAME       stop and remove everything of the worker
#
# The worker is a host of its own on the harness machine:
#   network    namespace tcpcw-ID, a veth to the host on 10.216.0.0/24 (host .1, worker .2), default
#              route via the host: the tenant's endpoint is reached through the host, where the
#              management cluster's kube-proxy DNATs it (externalIP, NodePort) as for any outside
#              client; pod traffic leaves masqueraded behind the worker address (bridge ipMasq),
#              the tenant API server reaches the kubelet at the worker address (InternalIP)
#   files      a private mount namespace (held by one `sleep`) in which /etc/kubernetes,
#              /var/lib/kubelet and /var/log are directories under CLUSTER_DIR/workers/NAME:
#              kubeadm and the kubelet write fixed paths, and nothing of the host's changes;
#              /etc/hosts names the worker (node name tcpc-e2e-NAME)
#   processes  containerd (own config, root, state and socket) and the kubelet, both in the
#              cluster's cgroup tree (daemons in /CGROUP/host, pods under the kubelet's cgroupRoot
#              /CGROUP/worker-NAME), so `cluster.sh down` removes whatever this `down` missed
# One worker at a time (the subnet is fixed). Must run as root, with the cluster up.
set -euo pipefail

# shellcheck source=tools/e2e/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

W_HOST_IP=10.216.0.1
W_IP=10.216.0.2
W_SUBNET=10.216.0.0/24

worker_vars() {
  WNAME=$1
  [[ $WNAME =~ ^[a-z0-9]{1,5}$ ]] || die "worker name: 1 to 5 lowercase letters or digits"
  W=$DIR/workers/$WNAME
  WNETNS=tcpcw-$ID-$WNAME
  WVETH_HOST=tw$ID${WNAME}h
  WVETH_NS=tw$ID${WNAME}n
  WBRIDGE=tw${ID}br
  WSOCK=$W/containerd/containerd.sock
  WCGROUP=$CGROUP/worker-$WNAME
  HOLDER=worker-$WNAME-ns
  WNODE=tcpc-e2e-$WNAME
}

holder_pid() { [[ -f $PIDS/$HOLDER.pid ]] && cat "$PIDS/$HOLDER.pid"; }
# in_worker CMD…: run CMD in the worker's network and mount namespaces.
in_worker() { nsenter -t "$(holder_pid)" -m -n -- "$@"; }

worker_network_up() {
  [[ -e /run/netns/$WNETNS ]] || ip netns add "$WNETNS"
  ip -n "$WNETNS" link set lo up
  if ! ip link show "$WVETH_HOST" >/dev/null 2>&1; then
    ip link add "$WVETH_HOST" type veth peer name "$WVETH_NS" netns "$WNETNS"
    ip addr add "$W_HOST_IP/24" dev "$WVETH_HOST"
    ip -n "$WNETNS" addr add "$W_IP/24" dev "$WVETH_NS"
  fi
  ip link set "$WVETH_HOST" up
  ip -n "$WNETNS" link set "$WVETH_NS" up
  ip -n "$WNETNS" route replace default via "$W_HOST_IP"
  # forwarding is per network namespace: the worker routes its pods' traffic
  ip netns exec "$WNETNS" sysctl -qw net.ipv4.ip_forward=1
  # Service traffic between two pods of the worker's bridge goes through kube-proxy's rules
  ip netns exec "$WNETNS" sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # the cluster's guard lets pod traffic out to our bridge and veth only: the tenant API
  # server (a pod) must also reach the worker's kubelet
  iptables -w -C "$GUARD_CHAIN" -o "$WVETH_HOST" -j RETURN 2>/dev/null ||
    iptables -w -I "$GUARD_CHAIN" 1 -o "$WVETH_HOST" -j RETURN
}

worker_cgroup_up() {
  local c
  for c in $(cgroup_controllers); do
    mkdir -p "$c/$WCGROUP"
    if [[ -f $c/cpuset.cpus ]]; then
      [[ -n $(<"$c/$WCGROUP/cpuset.cpus") ]] || cat "$c/cpuset.cpus" > "$c/$WCGROUP/cpuset.cpus"
      [[ -n $(<"$c/$WCGROUP/cpuset.mems") ]] || cat "$c/cpuset.mems" > "$c/$WCGROUP/cpuset.mems"
    fi
  done
}

# The mount namespace: a private copy of the host's mounts with the three fixed directories
# bound to ours. kubeadm and the kubelet need the mount points to exist on the host.
worker_mounts_up() {
  pid_alive "$HOLDER" && return 0
  # a new host: nothing of an earlier worker of this name (another cluster's CA, say)
  rm -rf "$W/etc-kubernetes" "$W/var-lib-kubelet" "$W/var-log" "$W/containerd" "$W/cni"
  mkdir -p "$W/etc-kubernetes" "$W/var-lib-kubelet" "$W/var-log"
  # a host resolves its own name (kubeadm's preflight looks it up)
  { cat /etc/hosts; printf '%s\t%s\n' "$W_IP" "$WNODE"; } > "$W/hosts"
  local d
  for d in /etc/kubernetes /var/lib/kubelet; do
    if [[ ! -d $d ]]; then mkdir -p "$d"; echo "$d" >> "$W/created-host-dirs"; fi
  done
  start_daemon "$HOLDER" nsenter --net="/run/netns/$WNETNS" unshare --mount --propagation private -- sh -c "
    mount --bind '$W/etc-kubernetes' /etc/kubernetes &&
    mount --bind '$W/var-lib-kubelet' /var/lib/kubelet &&
    mount --bind '$W/var-log' /var/log &&
    mount --bind '$W/hosts' /etc/hosts &&
    exec sleep infinity"
  wait_for "worker $WNAME mount namespace" 10 worker_mounted || die "worker mount namespace not set up; see $LOGS/$HOLDER.log"
}
worker_mounted() { in_worker findmnt -n /var/lib/kubelet >/dev/null; }

worker_containerd_up() {
  (
    DIR=$W CTR_SOCK=$WSOCK
    pid_alive "worker-$WNAME-containerd" || write_containerd_config
  )
  start_daemon "worker-$WNAME-containerd" nsenter -t "$(holder_pid)" -m -n -- containerd --config "$W/containerd/config.toml"
  wait_for "worker $WNAME containerd" 30 ctr --address "$WSOCK" version || die "worker containerd not up; see $LOGS/worker-$WNAME-containerd.log"
}

cmd_worker_up() {
  local t0; t0=$(now)
  worker_network_up
  worker_cgroup_up
  worker_mounts_up
  worker_containerd_up
  "$e2e_here/images.sh" import "$W" "$E2E_PAUSE_IMAGE" localhost/tcpc-e2e/probe:v1 ${WORKER_IMAGES:-} >> "$LOGS/worker-$WNAME-images.log" 2>&1 ||
    die "importing images into worker $WNAME failed; see $LOGS/worker-$WNAME-images.log"
  log "worker $WNAME up at $W_IP in $(elapsed "$t0")s"
}

# kubelet_args VERSION: what kubeadm's systemd drop-in (10-kubeadm.conf) passes, then this host's
# KUBELET_EXTRA_ARGS: the address, and a drop-in directory with what this harness host needs.
write_kubelet_dropin() {
  mkdir -p "$W/kubelet.conf.d"
  cat > "$W/kubelet.conf.d/50-harness-host.conf" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# this host's facts: cgroup v1 and cgroupfs, pods under the cluster's cgroup tree, no swap check
cgroupRoot: /$WCGROUP
failCgroupV1: false
failSwapOn: false
resolvConf: /etc/resolv.conf
# images are imported, never pulled, on a shared disk: never garbage-collect or evict
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
EOF
}

start_worker_kubelet() {
  local kubelet=$1 flags
  flags=$(sed -n 's/^KUBELET_KUBEADM_ARGS="\(.*\)"$/\1/p' "$W/var-lib-kubelet/kubeadm-flags.env")
  write_kubelet_dropin
  # shellcheck disable=SC2086
  start_daemon "worker-$WNAME-kubelet" nsenter -t "$(holder_pid)" -m -n -- "$kubelet" \
    --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf \
    --config=/var/lib/kubelet/config.yaml $flags \
    --config-dir="$W/kubelet.conf.d" --node-ip="$W_IP" --v=1
}

# cmd_worker_join VERSION kubeadm join ARGS…: the join command as printed, with the flags this
# host needs (its CRI socket, its node name; preflight checks that look at the shared machine
# are warnings), and the kubelet started once kubeadm wrote its configuration (kubeadm starts
# it with systemd, which this host does not run for us).
cmd_worker_join() {
  local version=$1; shift
  [[ ${1:-} == kubeadm && ${2:-} == join ]] || die "expected a 'kubeadm join …' command, got: ${1:-} ${2:-}"
  shift 2
  local kubeadm=$BIN/kubeadm-$version kubelet=$BIN/kubelet-$version
  [[ -x $kubeadm && -x $kubelet ]] || die "no kubeadm/kubelet $version in $BIN (tools/peers.sh kubernetes)"
  local t0; t0=$(now)
  in_worker "$kubeadm" join "$@" --cri-socket "unix://$WSOCK" --node-name "$WNODE" \
    --ignore-preflight-errors=all --v=1 > "$LOGS/worker-$WNAME-kubeadm.log" 2>&1 &
  local join=$!
  local deadline=$(( $(date +%s) + 120 ))
  until [[ -s $W/var-lib-kubelet/config.yaml && -s $W/var-lib-kubelet/kubeadm-flags.env ]]; do
    kill -0 "$join" 2>/dev/null || { wait "$join" || true; tail -n 30 "$LOGS/worker-$WNAME-kubeadm.log" >&2; die "kubeadm join ended before writing the kubelet configuration"; }
    (( $(date +%s) < deadline )) || { kill "$join"; die "kubeadm join wrote no kubelet configuration in 120 s"; }
    sleep 0.2
  done
  start_worker_kubelet "$kubelet"
  if ! wait "$join"; then
    tail -n 40 "$LOGS/worker-$WNAME-kubeadm.log" >&2
    tail -n 20 "$LOGS/worker-$WNAME-kubelet.log" >&2
    die "kubeadm join failed; see $LOGS/worker-$WNAME-kubeadm.log"
  fi
  log "kubeadm join of $WNAME done in $(elapsed "$t0")s"
}

cmd_worker_cni() {
  local cidr=$1
  mkdir -p "$W/cni/net.d" "$W/cni/ipam"
  # containerd reloads on WRITE events (see cluster.sh write_cni_config): write in place
  cat > "$W/cni/net.d/10-worker.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "tcpc-e2e-$ID-$WNAME",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$WBRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$W/cni/ipam",
        "ranges": [[{"subnet": "$cidr"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
}

cmd_worker_down() {
  local name c p i
  stop_daemon "worker-$WNAME-kubelet"
  stop_daemon "worker-$WNAME-containerd"
  for c in $(cgroup_controllers); do
    [[ -d $c/$WCGROUP ]] || continue
    # shellcheck disable=SC2046
    kill -KILL $(find "$c/$WCGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null) 2>/dev/null || true
  done
  for i in $(seq 1 20); do
    p=""
    for name in "worker-$WNAME-kubelet" "worker-$WNAME-containerd"; do pid_alive "$name" && p+=" $name"; done
    [[ -z $p ]] && break
    (( i > 8 )) && for name in $p; do kill -KILL "$(<"$PIDS/$name.pid")" 2>/dev/null || true; done
    sleep 0.25
  done
  # shims of the worker's containerd (their command line names its state under W)
  for p in $(grep -laF -- "$W/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [[ $p == "$$" || $p == "$BASHPID" ]] || kill -KILL "$p" 2>/dev/null || true
  done
  stop_daemon "$HOLDER"
  for i in $(seq 1 20); do pid_alive "$HOLDER" || break; sleep 0.25; done
  for c in $(cgroup_controllers); do
    [[ -d $c/$WCGROUP ]] && find "$c/$WCGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  iptables -w -D "$GUARD_CHAIN" -o "$WVETH_HOST" -j RETURN 2>/dev/null || true
  ip link del "$WVETH_HOST" 2>/dev/null || true
  ip netns del "$WNETNS" 2>/dev/null || true
  rm -f /var/lib/cni/results/"tcpc-e2e-$ID-$WNAME"-* 2>/dev/null || true
  if [[ -f $W/created-host-dirs ]]; then
    while read -r p; do rmdir "$p" 2>/dev/null || true; done < "$W/created-host-dirs"
  fi
  # kept for reading: the pods' logs (var-log) and what kubeadm wrote (etc-kubernetes, no keys)
  rm -rf "$W/containerd" "$W/var-lib-kubelet" "$W/cni" "$W/etc-kubernetes/pki"
  local left=""
  [[ -e /run/netns/$WNETNS ]] && left+=" netns:$WNETNS"
  ip link show "$WVETH_HOST" >/dev/null 2>&1 && left+=" link:$WVETH_HOST"
  for c in $(cgroup_controllers); do [[ -d $c/$WCGROUP ]] && left+=" cgroup:$c/$WCGROUP"; done
  pid_alive "$HOLDER" && left+=" process:$HOLDER"
  [[ -z $left ]] || die "worker $WNAME down left:$left"
  log "worker $WNAME down: nothing left"
}

worker_main() {
  local cmd=${1:-}
  [[ -n $cmd && -n ${2:-} && -n ${3:-} ]] || { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
  check_root_only
  cluster_vars "$2"
  worker_vars "$3"
  shift 3
  BIN=$(peers_bin_dir)
  case $cmd in
    up) cmd_worker_up ;;
    join) cmd_worker_join "$@" ;;
    cni) cmd_worker_cni "$@" ;;
    exec) in_worker "$@" ;;
    cut) in_worker iptables -w -I INPUT -i "$WVETH_NS" -p tcp --dport 10250 -j REJECT --reject-with tcp-reset ;;
    down) cmd_worker_down ;;
    *) die "unknown command $cmd" ;;
  esac
}

worker_main "$@"
