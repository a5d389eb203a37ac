#!/usr/bin/env bash
# A throwaway loopback Kubernetes control plane (etcd + kube-apiserver) for tests.
#
#   tools/apiserver.sh start DIR   make a CA and certs under DIR, start Debian's etcd and
#                                  our kube-apiserver on 127.0.0.1 (free ports), write
#                                  DIR/kubeconfig (admin, system:masters), wait for /readyz
#   tools/apiserver.sh stop DIR    kill what `start` started (by the PIDs in DIR) and
#                                  remove its data (etcd data, keys); logs stay
#
# Everything lives in DIR: pki/, etcd-data/, *.pid, etcd.log, kube-apiserver.log, env
# (shell-sourceable: APISERVER_URL, ETCD_URL, KUBECONFIG). Several instances may run
# at once in different DIRs. Nothing listens on anything but 127.0.0.1.
#
# Binaries: kube-apiserver from $KUBE_APISERVER, else $TCPC_PEERS_BIN/kube-apiserver,
# else the bin dir of tools/peers.sh; etcd from $ETCD, else `etcd` on PATH (Debian's
# etcd-server, installed by `tools/peers.sh debian`).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
READY_TIMEOUT=${TCPC_APISERVER_TIMEOUT:-60}

log() { printf 'apiserver.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# A TCP port on 127.0.0.1 nobody listens on, not in $taken. The caller retries
# the whole start if another process grabs it first (see start()).
taken=" "
free_port() {
  local port hex i
  for i in $(seq 1 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ $taken == *" $port "* ]] && continue
    hex=$(printf ':%04X ' "$port")
    # Column 2 is local_address (ip:port in hex); skip ports in any state.
    if ! awk 'NR > 1 { print $2 " " }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -- "$hex" >/dev/null; then
      taken+="$port "
      echo "$port"
      return 0
    fi
  done
  die "no free port found"
}

# alive PIDFILE NAME: the process in PIDFILE runs and is NAME (guards against PID reuse).
alive() {
  local pid
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -- "$2" >/dev/null
}

# Whether the process this script just started (PID in file $1) is still running, before or
# after its exec: until the forked shell has exec'ed, its command line is this script's, so
# `alive` (which matches the name) would call a starting process dead under load.
running() {
  local pid state
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ -n $pid ]] || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

kill_pidfile() {
  local pidfile=$1 name=$2 pid i
  if alive "$pidfile" "$name"; then
    pid=$(<"$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do alive "$pidfile" "$name" || break; sleep 0.1; done
    alive "$pidfile" "$name" && kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do alive "$pidfile" "$name" || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
}

make_pki() {
  local pki=$1
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=tcpc-throwaway-ca" -keyout ca.key -out ca.crt 2>/dev/null
    cat > server.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    cat > client.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kube-apiserver" \
      -keyout server.key -out server.csr 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:masters/CN=tcpc-admin" \
      -keyout admin.key -out admin.csr 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext ./*.srl
  )
}

write_kubeconfig() {
  local dir=$1 url=$2 b64='base64 -w0'
  cat > "$dir/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: throwaway
  cluster:
    server: $url
    certificate-authority-data: $($b64 <"$dir/pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $($b64 <"$dir/pki/admin.crt")
    client-key-data: $($b64 <"$dir/pki/admin.key")
contexts:
- name: throwaway
  context:
    cluster: throwaway
    user: admin
    namespace: default
current-context: throwaway
EOF
  chmod 600 "$dir/kubeconfig.tmp"
  mv -f "$dir/kubeconfig.tmp" "$dir/kubeconfig"
}

# try_start DIR: one attempt; returns 3 if a port was taken under us (retry), 1 on other failure.
try_start() {
  local dir=$1
  local etcd_port etcd_peer_port api_port
  etcd_port=$(free_port); etcd_peer_port=$(free_port); api_port=$(free_port)
  local etcd_url="http://127.0.0.1:$etcd_port" api_url="https://127.0.0.1:$api_port"

  rm -rf "$dir/etcd-data"
  "$etcd" --name throwaway --data-dir "$dir/etcd-data" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "throwaway=http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster-state new --log-level warn \
    </dev/null >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"

  local i ok=0
  for i in $(seq 1 100); do
    if curl -fsS --max-time 1 "$etcd_url/health" >/dev/null 2>&1; then ok=1; break; fi
    running "$dir/etcd.pid" || break
    sleep 0.1
  done
  if ((!ok)); then
    kill_pidfile "$dir/etcd.pid" etcd
    grep -q 'address already in use' "$dir/etcd.log" && return 3
    tail -n 20 "$dir/etcd.log" >&2
    log "etcd did not become healthy (log: $dir/etcd.log)"
    return 1
  fi

  local pki=$dir/pki
  "$apiserver" \
    --etcd-servers="$etcd_url" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --tls-cert-file="$pki/server.crt" --tls-private-key-file="$pki/server.key" \
    --client-ca-file="$pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --authorization-mode=RBAC --allow-privileged=true --enable-bootstrap-token-auth \
    --endpoint-reconciler-type=none \
    --cert-dir="$dir/apiserver-certs" \
    --profiling=false \
    </dev/null >"$dir/kube-apiserver.log" 2>&1 &
  echo $! >"$dir/kube-apiserver.pid"

  local deadline=$((SECONDS + READY_TIMEOUT)) code
  while ((SECONDS < deadline)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$pki/ca.crt" \
      --cert "$pki/admin.crt" --key "$pki/admin.key" "$api_url/readyz" 2>/dev/null || true)
    if [[ $code == 200 ]]; then
      write_kubeconfig "$dir" "$api_url"
      printf 'APISERVER_URL=%s\nETCD_URL=%s\nKUBECONFIG=%s\n' "$api_url" "$etcd_url" "$dir/kubeconfig" >"$dir/env"
      return 0
    fi
    running "$dir/kube-apiserver.pid" || break
    sleep 0.25
  done
  local busy=0
  grep -q 'address already in use' "$dir/kube-apiserver.log" && busy=1
  kill_pidfile "$dir/kube-apiserver.pid" kube-apiserver
  kill_pidfile "$dir/etcd.pid" etcd
  ((busy)) && return 3
  tail -n 30 "$dir/kube-apiserver.log" >&2
  log "kube-apiserver not ready within ${READY_TIMEOUT}s (log: $dir/kube-apiserver.log)"
  return 1
}

start() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if alive "$dir/kube-apiserver.pid" kube-apiserver || alive "$dir/etcd.pid" etcd; then
    die "an instance already runs in $dir (stop it first)"
  fi

  local bin=${TCPC_PEERS_BIN:-}
  [[ -n $bin ]] || bin=$("$here/peers.sh" --bin-dir)
  apiserver=${KUBE_APISERVER:-$bin/kube-apiserver}
  etcd=${ETCD:-$(command -v etcd || true)}
  [[ -x $apiserver ]] || die "kube-apiserver not found at $apiserver (run tools/peers.sh kubernetes)"
  [[ -n $etcd && -x $etcd ]] || die "etcd not found (run tools/peers.sh debian)"
  command -v openssl >/dev/null || die "openssl not found (run tools/peers.sh debian)"
  command -v curl >/dev/null || die "curl not found"

  make_pki "$dir/pki"
  local attempt rc
  for attempt in 1 2 3 4 5; do
    rc=0
    try_start "$dir" || rc=$?
    case $rc in
      0) echo "$dir/kubeconfig"; return 0 ;;
      3) log "a port was taken while starting (attempt $attempt); retrying with new ports" ;;
      *) exit 1 ;;
    esac
  done
  die "could not find free ports after 5 attempts"
}

stop() {
  local dir=$1
  [[ -d $dir ]] || return 0
  kill_pidfile "$dir/kube-apiserver.pid" kube-apiserver
  kill_pidfile "$dir/etcd.pid" etcd
  rm -rf "$dir/etcd-data" "$dir/pki" "$dir/apiserver-certs" "$dir/kubeconfig" "$dir/env"
}

(($# == 2)) || usage
case $1 in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
