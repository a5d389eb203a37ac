#!/usr/bin/env bash
# Acceptance test of the e2e harness (tools/e2e). Needs root and the peers
# (tools/peers.sh kubernetes debian sealed-secrets-controller kubeseal).
#
#   tests/e2e/smoke.sh [DIR]     DIR defaults to a fresh /tmp/tcpc-e2e.XXXXXX
#
#   1. cluster up (images built/imported, Node Ready)
#   2. a kube-apiserver as a Deployment + Service (hand-written fixtures, openssl certs in a
#      Secret, the management etcd under --etcd-prefix): wait Available, then /readyz through
#      the ClusterIP and the loopback NodePort from the host, and through the ClusterIP from a
#      pod running our probe image
#   3. the sealed-secrets controller with a test key pair; a SealedSecret made by
#      `kubeseal --cert` becomes a Secret
#   4. cluster down, and nothing is left
# Timings are printed as "TIMING name seconds" lines and written to DIR/timings.
# E2E_KEEP=1 leaves the cluster running (no step 4) for debugging.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tools/e2e/lib.sh
source "$repo/tools/e2e/lib.sh"
cluster=$repo/tools/e2e/cluster.sh

DIR=$(realpath -m "${1:-$(mktemp -d /tmp/tcpc-e2e.XXXXXX)}")
mkdir -p "$DIR"
WORK=$DIR/smoke
TENANT_CLUSTER_IP=10.215.0.100
TENANT_NODE_PORT=31643

timing() { printf 'TIMING %s %s\n' "$1" "$2" | tee -a "$DIR/timings" >&2; }
step() { log "---- $*"; }

cleanup() {
  local rc=$?
  if (( rc != 0 )); then
    log "FAILED (exit $rc); component logs:"
    "$cluster" logs "$DIR" >&2 || true
    [[ -n ${KUBECONFIG:-} && -f ${KUBECONFIG:-} ]] &&
      { kubectl get pods -A -o wide >&2; kubectl get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -n 30 >&2; } || true
  fi
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    log "E2E_KEEP=1: cluster left running; stop it with: $cluster down $DIR"
  else
    "$cluster" down "$DIR" || rc=1
  fi
  exit "$rc"
}

cluster_up() {
  step "cluster up in $DIR"
  local t0; t0=$(now)
  "$cluster" up "$DIR"
  timing cluster_up "$(elapsed "$t0")"
  eval "$("$cluster" env "$DIR")"
  BIN=$(peers_bin_dir)
  PATH=$BIN:$PATH
  export PATH KUBECONFIG
}

cluster_rss_mb() {
  local pids p total=0 kb
  pids=$(for c in /sys/fs/cgroup/pids/tcpc-e2e-*; do find "$c" -name cgroup.procs -exec cat {} +; done 2>/dev/null | sort -un)
  for p in $pids; do
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$(( total + ${kb:-0} ))
  done
  echo $(( total / 1024 ))
}

# ---- tenant apiserver --------------------------------------------------------------------

tenant_pki() {
  local d=$WORK/tenant-pki
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" \
    -subj /CN=tenant-ca -days 1 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/apiserver.key" -subj /CN=kube-apiserver 2>/dev/null |
    openssl x509 -req -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 1 -out "$d/apiserver.crt" \
      -extfile <(printf 'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:tenant-apiserver.e2e-tenant.svc,IP:127.0.0.1,IP:%s\n' "$TENANT_CLUSTER_IP") 2>/dev/null
  # etcd client certificate from the management etcd CA
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/etcd-client.key" -subj /CN=tenant-e2e 2>/dev/null |
    openssl x509 -req -CA "$E2E_ETCD_CA" -CAkey "$E2E_ETCD_CA_KEY" -CAcreateserial -days 1 -out "$d/etcd-client.crt" \
      -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
  cp "$E2E_ETCD_CA" "$d/etcd-ca.crt"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/sa.key" 2>/dev/null
  openssl pkey -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

render() { envsubst < "$here/fixtures/$1"; }

tenant_apiserver() {
  step "tenant kube-apiserver as a Deployment"
  tenant_pki
  export TENANT_CLUSTER_IP TENANT_NODE_PORT ETCD_URL=$E2E_ETCD_URL
  KUBE_APISERVER_IMAGE="registry.k8s.io/kube-apiserver:$(kubernetes_version)"
  export KUBE_APISERVER_IMAGE
  export PROBE_IMAGE=localhost/tcpc-e2e/probe:v1
  kubectl create namespace e2e-tenant
  wait_for "default ServiceAccount in e2e-tenant" 30 kubectl -n e2e-tenant get serviceaccount default
  local d=$WORK/tenant-pki
  kubectl -n e2e-tenant create secret generic tenant-pki \
    --from-file="$d/ca.crt" --from-file="$d/apiserver.crt" --from-file="$d/apiserver.key" \
    --from-file="$d/etcd-ca.crt" --from-file="$d/etcd-client.crt" --from-file="$d/etcd-client.key" \
    --from-file="$d/sa.pub" --from-file="$d/sa.key"
  local t0; t0=$(now)
  render tenant-apiserver.yaml | kubectl apply -f -
  kubectl -n e2e-tenant wait deployment/tenant-apiserver --for=condition=Available --timeout=120s
  timing apply_to_available "$(elapsed "$t0")"
  "$TOOLS/probe" -cacert "$d/ca.crt" -retry-for 30s -expect-body ok "https://$TENANT_CLUSTER_IP:6443/readyz"
  timing apply_to_clusterip_readyz "$(elapsed "$t0")"
  "$TOOLS/probe" -cacert "$d/ca.crt" -retry-for 30s -expect-body ok "https://127.0.0.1:$TENANT_NODE_PORT/readyz"
  curl -sS --fail --cacert "$d/ca.crt" "https://127.0.0.1:$TENANT_NODE_PORT/readyz?verbose" | tail -n 3
  log "tenant /readyz answers through ClusterIP $TENANT_CLUSTER_IP:6443 and NodePort 127.0.0.1:$TENANT_NODE_PORT"

  step "probe pod -> ClusterIP"
  render probe-pod.yaml | kubectl apply -f -
  kubectl -n e2e-tenant wait pod/probe --for=jsonpath='{.status.phase}'=Succeeded --timeout=90s
  kubectl -n e2e-tenant logs probe | sed -n 1,2p
}

# ---- sealed secrets ----------------------------------------------------------------------

# sealed_secrets_crd: the SealedSecret CRD from the sealed-secrets Go module that
# tools/peers/sealed-secrets pins (downloaded into the module cache if needed; never committed).
sealed_secrets_crd() {
  local mod f
  mod=$(cd "$repo/tools/peers/sealed-secrets" && GOFLAGS=-mod=mod go mod download -json github.com/bitnami/sealed-secrets | jq -r .Dir)
  for f in "$mod/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml" $(find "$mod" -name '*sealedsecrets*.yaml' 2>/dev/null); do
    if [[ -f $f ]] && grep -q 'kind: CustomResourceDefinition' "$f"; then printf '%s\n' "$f"; return 0; fi
  done
  die "no SealedSecret CRD found under $mod"
}

sealed_secrets() {
  step "sealed-secrets controller + kubeseal --cert"
  local d=$WORK/sealed-secrets ver
  mkdir -p "$d"
  ver=$(sealed_secrets_version)
  export SEALED_SECRETS_IMAGE="docker.io/bitnami/sealed-secrets-controller:${ver#v}"
  openssl req -x509 -newkey rsa:4096 -nodes -keyout "$d/tls.key" -out "$d/tls.crt" -days 1 \
    -subj "/O=sealed-secret/CN=sealed-secret" 2>/dev/null
  kubectl -n kube-system create secret tls e2e-sealed-secrets-key --cert="$d/tls.crt" --key="$d/tls.key"
  kubectl -n kube-system label secret e2e-sealed-secrets-key sealedsecrets.bitnami.com/sealed-secrets-key=active
  local crd; crd=$(sealed_secrets_crd)
  log "CRD from $crd"
  kubectl apply -f "$crd"
  kubectl wait crd/sealedsecrets.bitnami.com --for=condition=Established --timeout=30s
  local t0; t0=$(now)
  render sealed-secrets-controller.yaml | kubectl apply -f -
  kubectl -n kube-system wait deployment/sealed-secrets-controller --for=condition=Available --timeout=90s
  timing sealed_secrets_controller_available "$(elapsed "$t0")"

  kubectl create namespace e2e-sealed
  kubectl -n e2e-sealed create secret generic demo --from-literal=password=hunter2-e2e --dry-run=client -o yaml |
    kubeseal --cert "$d/tls.crt" --format yaml > "$d/demo-sealed.yaml"
  grep -q 'kind: SealedSecret' "$d/demo-sealed.yaml"
  t0=$(now)
  kubectl apply -f "$d/demo-sealed.yaml"
  wait_for "Secret e2e-sealed/demo unsealed" 60 kubectl -n e2e-sealed get secret demo ||
    { kubectl -n kube-system logs deploy/sealed-secrets-controller | tail -n 20 >&2; die "SealedSecret was not unsealed"; }
  timing sealedsecret_to_secret "$(elapsed "$t0")"
  local got; got=$(kubectl -n e2e-sealed get secret demo -o jsonpath='{.data.password}' | base64 -d)
  [[ $got == hunter2-e2e ]] || die "unsealed password is '$got'"
  log "SealedSecret e2e-sealed/demo unsealed to the expected Secret"
}

# ---- teardown check ----------------------------------------------------------------------

verify_nothing_left() {
  step "down + nothing left"
  # the value before the cluster's first `up`, which `down` must restore
  local ip_forward_before
  ip_forward_before=$(sed -n 's/^net.ipv4.ip_forward=//p' "$DIR/saved-sysctls")
  local t0; t0=$(now)
  "$cluster" down "$DIR"
  timing cluster_down "$(elapsed "$t0")"
  local bad=0
  if pgrep -f -- "$DIR/" >/dev/null; then log "processes left: $(pgrep -af -- "$DIR/")"; bad=1; fi
  if grep -qF " $DIR/" /proc/self/mountinfo; then log "mounts left"; bad=1; fi
  if ip netns list | has '^tcpce2e-'; then log "netns left: $(ip netns list)"; bad=1; fi
  if ip link show | has -E ': te2e'; then log "links left"; bad=1; fi
  if { iptables-save; ip6tables-save; } 2>/dev/null | has -E '^:(KUBE-|CNI-|TCPCE2E-)'; then log "iptables chains left"; bad=1; fi
  if ls -d /sys/fs/cgroup/*/tcpc-e2e-* >/dev/null 2>&1; then log "cgroups left"; bad=1; fi
  if ls /var/lib/cni/results/tcpc-e2e-* >/dev/null 2>&1; then log "CNI results left"; bad=1; fi
  if find /var/log/containers -lname "$DIR/*" 2>/dev/null | has .; then log "container log links left"; bad=1; fi
  if [[ $(sysctl -n net.ipv4.ip_forward) != "$ip_forward_before" ]]; then log "ip_forward not restored"; bad=1; fi
  (( bad == 0 )) || die "teardown left state behind"
  log "teardown verified: no processes, mounts, netns, links, chains or cgroups left"
}

main() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  : > "$DIR/timings"
  trap cleanup EXIT
  mkdir -p "$WORK"
  TOOLS=$("$repo/tools/e2e/images.sh" tools)
  cluster_up
  timing cluster_rss_mb_idle "$(cluster_rss_mb)"
  tenant_apiserver
  sealed_secrets
  timing cluster_rss_mb_loaded "$(cluster_rss_mb)"
  if [[ ${E2E_KEEP:-0} != 1 ]]; then
    trap - EXIT
    verify_nothing_left
  fi
  log "SMOKE PASSED"
  cat "$DIR/timings"
  echo "1 passed, 0 failed"
}

main
