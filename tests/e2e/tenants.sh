#!/usr/bin/env bash
# Tenant scenarios: what `tcpc render` produced, running on the e2e harness cluster.
# Needs root, the peers (tools/peers.sh kubernetes debian sealed-secrets-controller kubeseal;
# KUBERNETES_EXTRA_VERSIONS for the upgrade), Go, openssl, jq, curl, envsubst.
#
#   tests/e2e/tenants.sh [DIR]     DIR defaults to a fresh /tmp/tcpc-e2e.XXXXXX
#
# Scenarios (each one PASS/FAIL in the summary; a failure does not stop the later ones):
#   render      a test repo (fresh age identity, sealing certificate of the controller key we
#               install, DataStore `default` = the harness etcd with its CA imported) -> tcpc render
#   apply       management bundles (kubectl apply -k) -> Deployments Available; apply -> /readyz time
#   service     tenant /readyz through the ClusterIP (TLS-verified against the svc DNS SAN), the
#               address (externalIP) and the NodePort on 127.0.0.1
#   kubeconfig  the unsealed admin.conf creates and reads a namespace; the tenant bundle applied
#               with it; kubeadm RBAC and kube-public/cluster-info exist
#   worker-join a worker host (tools/e2e/worker.sh: own network and mount namespaces, containerd,
#               kubelet) runs the `kubeadm join` line `tcpc join-command --create-token` printed,
#               through alpha's address as an outside VM would; its Node turns Ready; alpha's
#               kube-proxy and CoreDNS (tenant bundle) run on it; a pod on it resolves
#               kubernetes.default.svc.<clusterDomain> and reads /version through that Service
#               with its ServiceAccount token; `kubectl logs`/`exec` reach
#               its kubelet directly (no konnectivity) and fail when the kubelet's port is
#               closed to the outside
#   sa-rotation the worker joins alpha again; `tcpc rotate sa-key` add and sign, each applied and
#               rolled out: every earlier token still authenticates, CoreDNS keeps its pods and
#               its API watch (a new Service resolves), no Unauthorized in its log; the record
#               names the step and the companion reports two verifying keys (/openid/v1/jwks)
#   worker-konnectivity
#               the same worker joins trusting (spec.addons.konnectivity): the agent of its tenant
#               bundle runs there; with the kubelet's port closed to the outside, logs and exec
#               still work (the tunnel), and fail once the agent is deleted; the server's
#               identity may create TokenReviews and not read Secrets
#   internal-ca the internalCACertificatesConfigMap certificate in all three paths of every
#               control-plane container, SSL_CERT_DIR set; kube-apiserver trusts it: an OIDC
#               issuer served with a certificate of that CA authenticates our JWT (kubectl --token)
#   datastore-override
#               trusting keeps its Events in a second etcd (spec.dataStoreOverrides, same CA as
#               the shared one): its kube-apiserver health-checks that etcd, and an Event created
#               in the tenant is stored there under the tenant's prefix, not in the shared etcd
#   write-limits
#               edge re-rendered with spec.writePermissions (blockCreation, blockDeletion): the
#               tenant bundle's ValidatingAdmissionPolicy refuses creates and deletes outside
#               kube-system, lets reads, updates, access reviews and kube-system through;
#               re-rendered without it, the policy objects leave the bundle (pruned as GitOps
#               would) and creates pass again
#   hardening   the tenant namespaces enforce Pod Security "restricted"; every control-plane
#               process runs as 65532 without capabilities, escalation or a writable root, with
#               seccomp and no SA token; its 0600 keys are readable through the fsGroup only
#   companion   the companion (tcpc install companion) reports every tenant Ready with valid
#               certificates soon after /readyz; deleted pods: NotReady, an Event, the metric
#   certificates-expiring
#               rotation: git: leaves inside their renewal window turn CertificatesValid False;
#               tcpc render --identity renews them, and after apply the condition clears
#   companion-rotation
#               rotation: companion: edge's leaves (240 s, test only) issued and renewed by the
#               companion; kube-apiserver serves each renewal, the controller-manager and
#               scheduler keep their Leases on renewed client certificates; /readyz every 200 ms
#               and kubectl with the current admin kubeconfig every second: zero failures over two
#               renewals; then back to rotation: git
#   upgrade     alpha re-rendered one minor up (or with another spec change when no second
#               version is built) and re-applied, then one more to the newest minor when its
#               images are built (v1.36 -> v1.37); /readyz polled every 200 ms: zero failures
#   network-policy
#               kube-router (NetworkPolicy enforcer only; tools/peers.sh kube-router) on the
#               cluster: a pod of another namespace reaches alpha's kube-controller-manager port
#               before, not after; alpha's API server port stays open, its /readyz ok, writes
#               reach its DataStore; kube-router's rules and ipsets are removed afterwards
#   delete      kubectl delete -k; nothing of the tenant left in its namespace
#   teardown    cluster down, nothing left
# Timings as "TIMING name value" lines in DIR/timings. E2E_KEEP=1 keeps the cluster.
# E2E_BREAK=address|internal-ca|... renders deliberately broken tenants (see tests/e2e/repo.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
# shellcheck source=tools/e2e/lib.sh
source "$repo_root/tools/e2e/lib.sh"
# shellcheck source=tests/e2e/repo.sh
source "$here/repo.sh"
source "$here/datastores.sh"
# shellcheck source=tests/e2e/workers.sh
source "$here/workers.sh"
cluster=$repo_root/tools/e2e/cluster.sh

DIR=$(realpath -m "${1:-$(mktemp -d /tmp/tcpc-e2e.XXXXXX)}")
mkdir -p "$DIR"
WORK=$DIR/tenants
REPO=$WORK/repo
OUT=$REPO/out
E2E_K8S_VERSION=$(kubernetes_version)
TENANTS=(e2e-alpha/alpha e2e-edge/edge e2e-trust/trusting)

timing() { printf 'TIMING %s %s\n' "$1" "$2" | tee -a "$DIR/timings" >&2; }
step() { log "---- $*"; }

# ---- scenario bookkeeping ------------------------------------------------------------------

declare -a RESULTS=()
FAILED=0
# scenario NAME FUNCTION: run FUNCTION with errexit in a subshell; record PASS/FAIL; go on.
# E2E_ONLY="NAME…" runs only those (render, apply and teardown always run: the others need them).
scenario() {
  local name=$1 fn=$2 rc t0
  if [[ -n ${E2E_ONLY:-} && " render apply teardown $E2E_ONLY " != *" $name "* ]]; then
    RESULTS+=("SKIP $name (E2E_ONLY)"); LAST_RC=0; return 0
  fi
  step "scenario $name"
  t0=$(now)
  set +e
  ( set -e; "$fn" )
  rc=$?
  set -e
  if (( rc == 0 )); then
    RESULTS+=("PASS $name ($(elapsed "$t0")s)")
  else
    RESULTS+=("FAIL $name ($(elapsed "$t0")s, exit $rc)")
    FAILED=1
    log "scenario $name FAILED"
    diagnostics
  fi
  LAST_RC=$rc   # not a return code: calling scenario in an if/|| would disable errexit inside
}
note() { printf '%s\n' "$*" | tee -a "$WORK/notes" >&2; }

diagnostics() {
  {
    kubectl get pods -A -o wide
    kubectl get events -A --sort-by=.lastTimestamp | tail -n 25
  } >&2 2>&1 || true
}

cleanup() {
  local rc=$?
  kine_servers_down
  kube_router_down
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    log "E2E_KEEP=1: cluster left running; stop it with: $cluster down $DIR"
  else
    "$cluster" down "$DIR" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}

# ---- helpers -------------------------------------------------------------------------------

# tenant_ca NS TCP FILE: the tenant CA certificate (from the admin kubeconfig).
tenant_ca() {
  local kc=$WORK/$2-admin.conf
  [[ -s $kc ]] || admin_conf "$1" "$2" "$kc"
  kubectl --kubeconfig "$kc" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$3"
}

cluster_ip() { kubectl -n "$1" get service "$2" -o jsonpath='{.spec.clusterIP}'; }

# readyz_via_clusterip NS TCP CA: one TLS-verified GET /readyz through the Service's ClusterIP,
# verified against the Service DNS name (a SAN of every tenant apiserver certificate).
readyz_via_clusterip() {
  local ns=$1 tcp=$2 ca=$3 ip port
  ip=$(cluster_ip "$ns" "$tcp"); port=$(kubectl -n "$ns" get service "$tcp" -o jsonpath='{.spec.ports[0].port}')
  curl -sS --fail --max-time 2 --cacert "$ca" --resolve "$tcp.$ns.svc:$port:$ip" "https://$tcp.$ns.svc:$port/readyz" | has -x ok
}

rss_of_pids_kb() {
  local p kb total=0
  for p in "$@"; do
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$(( total + ${kb:-0} ))
  done
  echo "$total"
}

# pod_pids POD_UID: every process in the pod's cgroup (memory hierarchy).
pod_pids() {
  local d
  d=$(find /sys/fs/cgroup/memory/ -maxdepth 6 -type d -name "pod$1" 2>/dev/null | sed -n 1p)
  [[ -n $d ]] || return 0
  find "$d" -name cgroup.procs -exec cat {} + | sort -un
}

# pod_rss_mb POD_UID: RSS of every process in the pod's cgroup.
pod_rss_mb() {
  # shellcheck disable=SC2046
  echo $(( $(rss_of_pids_kb $(pod_pids "$1")) / 1024 ))
}

# pod_smaps_mb POD_UID FIELD: FIELD of /proc/PID/smaps_rollup summed over the pod's processes.
# Pss divides each page among the processes mapping it: the text pages of a release's binaries
# (kube-apiserver's ~80 MB, the controller-manager's ~70 MB, ...), shared through the page cache
# by every pod running that release, count once across those pods, where RSS counts them in
# each. Pss_Anon is what a pod costs on its own (heap, stacks), whatever the fleet.
pod_smaps_mb() {
  local p kb total=0
  for p in $(pod_pids "$1"); do
    kb=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
    total=$(( total + ${kb:-0} ))
  done
  echo $(( total / 1024 ))
}

# container_pid NS POD CONTAINER: host PID of the container's init process.
container_pid() {
  local id
  id=$(kubectl -n "$1" get pod "$2" -o jsonpath="{.status.containerStatuses[?(@.name=='$3')].containerID}")
  id=${id#containerd://}
  [[ -n $id ]] || return 1
  ctr --address "$E2E_CONTAINERD_SOCK" -n k8s.io tasks ls | awk -v id="$id" '$1 == id { print $2 }'
}

# mgmt_dir NS/TCP: the management bundle to apply. With E2E_FIX=prestop (a demonstration of
# the fix for the rollout finding, not a renderer feature), a kustomize overlay that gives
# kube-apiserver a preStop sleep so endpoints are withdrawn before it shuts down.
mgmt_dir() {
  if [[ ,${E2E_FIX:-}, == *,prestop,* ]]; then
    local o=$WORK/fix-overlays/$1
    mkdir -p "$o"
    cat > "$o/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to="$o" "$OUT/$1/management")
patches:
- target: {kind: Deployment, name: $(tcp_of "$1")}
  patch: |-
    - op: test
      path: /spec/template/spec/containers/0/name
      value: kube-apiserver
    - op: add
      path: /spec/template/spec/containers/0/lifecycle
      value: {preStop: {sleep: {seconds: ${E2E_PRESTOP_SECONDS:-5}}}}
YAML
    printf '%s\n' "$o"
  else
    printf '%s\n' "$OUT/$1/management"
  fi
}

# ---- setup ---------------------------------------------------------------------------------

# The second etcd of the datastore-override scenario: a certificate of the harness etcd's CA,
# on 127.0.0.1 at the harness's spare etcd port, which pods reach at the advertise address
# (cluster.sh forwards it like the shared etcd's). It lives under DIR, so `cluster.sh down`
# stops it with everything else.
etcd_client() { printf '%s\n' --cacert "$E2E_ETCD_CA" --cert "$E2E_DIR/pki/apiserver-etcd-client.crt" --key "$E2E_DIR/pki/apiserver-etcd-client.key"; }
# test_etcd NAME CLIENT_PORT PEER_PORT: a one-member etcd in $DIR/NAME on 127.0.0.1, serving a
# certificate of the harness etcd CA for $E2E_ADVERTISE_IP (pods reach it through the forwarder),
# client certificates required; its pid in $DIR/NAME/pid.
test_etcd() {
  local name=$1 port=$2 peer=$3 d=$DIR/$1
  rm -rf "$d"; mkdir -p "$d/data"; chmod 700 "$d/data"
  printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:%s,IP:127.0.0.1\n' "$E2E_ADVERTISE_IP" > "$d/ext.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" -subj "/CN=$name" 2>/dev/null |
    openssl x509 -req -CA "$E2E_ETCD_CA" -CAkey "$E2E_ETCD_CA_KEY" -CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
  etcd --name "$name" --data-dir "$d/data" \
    --listen-client-urls "https://127.0.0.1:$port" --advertise-client-urls "https://$E2E_ADVERTISE_IP:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$name=http://127.0.0.1:$peer" \
    --cert-file "$d/server.crt" --key-file "$d/server.key" --client-cert-auth --trusted-ca-file "$E2E_ETCD_CA" \
    --unsafe-no-fsync > "$d/etcd.log" 2>&1 &
  echo $! > "$d/pid"
}
events_etcd_up() {
  test_etcd events-etcd "$E2E_SPARE_ETCD_PORT" 2480
  E2E_EVENTS_ETCD=$E2E_ADVERTISE_IP:$E2E_SPARE_ETCD_PORT
  export E2E_EVENTS_ETCD
  # shellcheck disable=SC2046
  wait_for "events etcd" 30 curl -sf $(etcd_client) "https://$E2E_EVENTS_ETCD/health" ||
    { cat "$DIR/events-etcd/etcd.log" >&2; die "the events etcd did not start"; }
}
# etcd_count URL KEY: how many keys named KEY the etcd at URL holds (0 or 1).
etcd_count() {
  # shellcheck disable=SC2046
  curl -sS --fail $(etcd_client) "$1/v3/kv/range" \
    -d "{\"key\":\"$(printf %s "$2" | base64 -w0)\",\"count_only\":true}" | jq -r '.count // "0"'
}

# upgrade_from: the older release to start alpha at (KUBERNETES_EXTRA_VERSIONS with images), or empty.
upgrade_from() { older_release_with_images; }

# test_pki: sealed-secrets key pair, internal CA, OIDC serving certificate + signing key.
test_pki() {
  local d=$WORK/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:4096 -nodes -keyout "$d/sealed-secrets.key" -out "$d/sealed-secrets.crt" -days 1 \
    -subj "/O=sealed-secret/CN=sealed-secret" 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/internal-ca.key" -out "$d/internal-ca.crt" \
    -subj "/CN=tcpc e2e internal CA" -days 1 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/oidc-tls.key" -subj "/CN=tcpc-e2e-oidc" 2>/dev/null |
    openssl x509 -req -CA "$d/internal-ca.crt" -CAkey "$d/internal-ca.key" -CAcreateserial -days 1 -out "$d/oidc-tls.crt" \
      -extfile <(printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:%s\n' "$OIDC_CLUSTER_IP") 2>/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/oidc-signing.key" 2>/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/rogue-signing.key" 2>/dev/null
}

sealed_secrets_crd() {
  local mod f
  mod=$(cd "$repo_root/tools/peers/sealed-secrets" && GOFLAGS=-mod=mod go mod download -json github.com/bitnami/sealed-secrets | jq -r .Dir)
  for f in "$mod/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml" $(find "$mod" -name '*sealedsecrets*.yaml' 2>/dev/null); do
    if [[ -f $f ]] && grep -q 'kind: CustomResourceDefinition' "$f"; then printf '%s\n' "$f"; return 0; fi
  done
  die "no SealedSecret CRD found under $mod"
}

sealed_secrets_controller() {
  step "sealed-secrets controller with the test key"
  local d=$WORK/pki ver t0
  ver=$(sealed_secrets_version)
  export SEALED_SECRETS_IMAGE="docker.io/bitnami/sealed-secrets-controller:${ver#v}"
  kubectl -n kube-system create secret tls e2e-sealed-secrets-key --cert="$d/sealed-secrets.crt" --key="$d/sealed-secrets.key"
  kubectl -n kube-system label secret e2e-sealed-secrets-key sealedsecrets.bitnami.com/sealed-secrets-key=active
  kubectl apply -f "$(sealed_secrets_crd)" >/dev/null
  kubectl wait crd/sealedsecrets.bitnami.com --for=condition=Established --timeout=30s
  t0=$(now)
  envsubst < "$here/fixtures/sealed-secrets-controller.yaml" | kubectl apply -f - >/dev/null
  kubectl -n kube-system wait deployment/sealed-secrets-controller --for=condition=Available --timeout=90s
  timing sealed_secrets_controller_available "$(elapsed "$t0")"
}

# create_namespace NS: a tenant namespace that enforces Pod Security "restricted" (as a hardened
# management cluster would): the API server refuses any pod of it that is not compliant.
create_namespace() {
  kubectl create namespace "$1" >/dev/null
  kubectl label namespace "$1" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest pod-security.kubernetes.io/warn=restricted >/dev/null
  wait_for "default ServiceAccount in $1" 30 kubectl -n "$1" get serviceaccount default
}

# oidc_issuer: the OIDC discovery endpoint, served with a certificate of the internal CA,
# behind a Service with a pinned ClusterIP (the tenant apiserver has no cluster DNS).
oidc_issuer() {
  step "OIDC issuer at $OIDC_ISSUER (certificate from the internal CA)"
  local d=$WORK/pki
  kubectl -n e2e-trust create secret generic e2e-oidc \
    --from-file=tls.crt="$d/oidc-tls.crt" --from-file=tls.key="$d/oidc-tls.key" --from-file=signing.key="$d/oidc-signing.key" >/dev/null
  OIDC_CLUSTER_IP=$OIDC_CLUSTER_IP OIDC_ISSUER=$OIDC_ISSUER envsubst < "$here/fixtures/oidc-issuer.yaml" | kubectl apply -f - >/dev/null
}

# ---- scenarios -----------------------------------------------------------------------------

# ---- worker-join ---------------------------------------------------------------------------

# worker_pod DOMAIN: on the worker, `dns` resolves the tenant's kubernetes Service through CoreDNS,
# `version` reads /version through that name (the Service IP, kube-proxy's rules) with the pod's
# ServiceAccount token (both then exit); `shell` stays for exec.
worker_pod() {
  local sa=/var/run/secrets/kubernetes.io/serviceaccount name=kubernetes.default.svc.$1
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: on-worker, namespace: default}
spec:
  nodeName: $WORKER_NODE
  restartPolicy: Never
  containers:
  - name: dns
    image: localhost/tcpc-e2e/probe:v1
    imagePullPolicy: Never
    command: [/usr/local/bin/probe, -retry-for, 120s, -lookup, $name]
  - name: version
    image: localhost/tcpc-e2e/probe:v1
    imagePullPolicy: Never
    command: [/usr/local/bin/probe, -cacert, $sa/ca.crt, -bearer-file, $sa/token, -retry-for, 120s,
              -expect-body, gitVersion, "https://$name/version"]
  - name: shell
    image: localhost/tcpc-e2e/probe:v1
    imagePullPolicy: Never
    command: [/usr/local/bin/probe, -sleep, "0"]
YAML
}

# container_done KUBECONFIG POD CONTAINER: the container exited 0.
container_done() {
  [[ $(kubectl --kubeconfig "$1" get pod "$2" -o jsonpath="{.status.containerStatuses[?(@.name=='$3')].state.terminated.reason}") == Completed ]]
}

# addon_images NS/TCP: the kube-proxy and CoreDNS images the tenant bundle names (imported into the
# worker only).
addon_images() {
  local images
  images=$(grep -rhoE 'image: "?registry\.k8s\.io/(kube-proxy|coredns/coredns):[^" ]+' "$OUT/$1/tenant" | sed 's/^image: "\{0,1\}//' | sort -u)
  [[ $(wc -l <<< "$images") == 2 ]] || { log "$1's tenant bundle should name a kube-proxy and a CoreDNS image: $images"; return 1; }
  echo $images
}

# worker_addons NS/TCP KUBECONFIG ADDR: the tenant bundle's kube-proxy and CoreDNS run on the
# joined worker; a pod there (on-worker, left running) resolves kubernetes.default.svc.<domain> to
# the Service IP (CoreDNS), reads /version through it with its ServiceAccount token (kube-proxy),
# and kubectl logs/exec reach it. Sets SVC_IP.
worker_addons() {
  local t=$1 kc=$2 addr=$3 domain version
  domain=$(sed -n 's/^ *clusterDomain: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$OUT/$t/tenant/configmap-kubelet-config.yaml")
  [[ -n $domain ]] || { log "no clusterDomain in $t's kubelet-config"; return 1; }
  version=$(kubectl --kubeconfig "$kc" get node "$WORKER_NODE" -o jsonpath='{.status.nodeInfo.kubeletVersion}')
  kubectl --kubeconfig "$kc" -n kube-system rollout status daemonset/kube-proxy --timeout=120s >/dev/null
  kubectl --kubeconfig "$kc" -n kube-system wait deployment/coredns --for=condition=Available --timeout=120s >/dev/null ||
    { kubectl --kubeconfig "$kc" -n kube-system get pods -o wide >&2; return 1; }
  timing "worker_join_to_addons_ready_$(tcp_of "$t")" "$(elapsed "$JOIN_T0")"
  log "kube-proxy and CoreDNS of $t's tenant bundle run on $WORKER_NODE"
  worker_pod "$domain" | kubectl --kubeconfig "$kc" apply -f - >/dev/null
  wait_for "the worker pod's checks" 150 eval 'container_done "$kc" on-worker dns && container_done "$kc" on-worker version' ||
    { kubectl --kubeconfig "$kc" describe pod on-worker >&2; kubectl --kubeconfig "$kc" logs on-worker --all-containers >&2 || true; return 1; }
  SVC_IP=$(kubectl --kubeconfig "$kc" get service kubernetes -o jsonpath='{.spec.clusterIP}')
  kubectl --kubeconfig "$kc" logs on-worker -c dns | has -x "$SVC_IP" ||
    { log "kubernetes.default.svc.$domain did not resolve to $SVC_IP"; kubectl --kubeconfig "$kc" logs on-worker -c dns >&2; return 1; }
  kubectl --kubeconfig "$kc" logs on-worker -c version | has '"gitVersion": "'"$version"'"' ||
    { log "the pod's /version is not $version"; kubectl --kubeconfig "$kc" logs on-worker -c version >&2; return 1; }
  log "a pod on $WORKER_NODE resolved kubernetes.default.svc.$domain to $SVC_IP (CoreDNS) and read /version through it (kube-proxy) with its ServiceAccount token; kubectl logs reached the kubelet"
  local sa=/var/run/secrets/kubernetes.io/serviceaccount
  kubectl --kubeconfig "$kc" exec on-worker -c shell -- /usr/local/bin/probe -cacert $sa/ca.crt -bearer-file $sa/token \
    -expect-body gitVersion "https://$addr:6443/version" | has gitVersion
  log "kubectl exec on $WORKER_NODE works"
}

s_worker_join() {
  local t=e2e-alpha/alpha kc=$WORK/alpha-admin.conf images
  images=$(addon_images "$t")
  trap 'worker down || true' EXIT
  WORKER_IMAGES=$images worker_join "$t" "$ALPHA_ADDR"
  worker_addons "$t" "$kc" "$ALPHA_ADDR"
  # without konnectivity the path is alpha's kube-apiserver (a pod of the management cluster)
  # dialling the kubelet: close the kubelet's port to anything outside the worker, logs fail
  worker cut
  if kubectl --kubeconfig "$kc" --request-timeout=8s logs on-worker -c version >/dev/null 2>&1; then
    log "kubectl logs worked with the apiserver-to-kubelet path cut: the check is void"; return 1
  fi
  log "with the kubelet's port closed from outside, kubectl logs fails (no konnectivity: the API server dials the kubelet)"
  kubectl --kubeconfig "$kc" delete pod on-worker --grace-period=1 --timeout=60s >/dev/null
  worker_leave "$kc"
}

# Service-account key rotation with overlap (`tcpc rotate sa-key`) on alpha, with a worker joined
# and the tenant's CoreDNS on it. `add` (a second key verifies) and `sign` (the new key signs) are
# each rendered, applied and rolled out; after each, every token issued before still
# authenticates, CoreDNS kept its pods and still watches the API (a Service created after the
# step resolves through it), and its log has no Unauthorized. `retire` waits for the overlap
# (24 h by default; tests/sa_rotation.rs retires on a real kube-apiserver): alpha stays signing.
s_sa_rotation() {
  local t=e2e-alpha/alpha kc=$WORK/alpha-admin.conf ca=$WORK/alpha-sa-ca.crt images domain step token n coredns ip
  local tokens=()
  images=$(addon_images "$t")
  trap 'worker down || true' EXIT
  WORKER_IMAGES=$images worker_join "$t" "$ALPHA_ADDR"
  worker_addons "$t" "$kc" "$ALPHA_ADDR"
  domain=$(sed -n 's/^ *clusterDomain: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$OUT/$t/tenant/configmap-kubelet-config.yaml")
  kubectl --kubeconfig "$kc" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > "$ca"
  kubectl --kubeconfig "$kc" -n default create serviceaccount sa-probe >/dev/null
  tokens+=("$(kubectl --kubeconfig "$kc" -n default create token sa-probe --duration=2h)")
  coredns=$(kubectl --kubeconfig "$kc" -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[*].metadata.uid}')
  [[ -n $coredns ]] || { log "no CoreDNS pod in alpha"; return 1; }
  # the companion sees what the API server verifies with: one key before, two through add and sign
  wait_for "the companion seeing alpha verify with one service-account key" 30 rcp_field_is e2e-alpha alpha '{.status.serviceAccountKeys}' 1
  for step in add sign; do
    "$TCPC_BIN" rotate sa-key "$t" "$REPO" --identity "$REPO/../age-identity.txt" 2> "$WORK/rotate-$step.log" ||
      { cat "$WORK/rotate-$step.log" >&2; return 1; }
    kubectl apply -k "$(mgmt_dir "$t")" > "$WORK/apply-rotate-$step.log"
    kubectl -n e2e-alpha rollout status deployment/alpha --timeout=240s >/dev/null
    wait_for "old alpha pods gone" 120 bash -c "[[ \$(kubectl -n e2e-alpha get pods -l kamaji.clastix.io/name=alpha -o name | wc -l) == 2 ]]"
    rcp_field_is e2e-alpha alpha '{.spec.serviceAccountKeyRotation}' "$step" || { log "$step: alpha's record does not name the step"; return 1; }
    # pods that started before the sealed-secrets controller unsealed the step's keys read the old
    # ones (once): the companion sees one verifying key and rolls them again (ControlPlaneRolled)
    wait_for "the companion seeing alpha verify with two service-account keys" 150 rcp_field_is e2e-alpha alpha '{.status.serviceAccountKeys}' 2 ||
      { kubectl -n e2e-alpha get rcp alpha -o yaml >&2; return 1; }
    kubectl -n e2e-alpha rollout status deployment/alpha --timeout=240s >/dev/null
    wait_for "old alpha pods gone" 120 bash -c "[[ \$(kubectl -n e2e-alpha get pods -l kamaji.clastix.io/name=alpha -o name | wc -l) == 2 ]]"
    if kubectl -n e2e-alpha get events --field-selector involvedObject.name=alpha -o json |
      jq -e --arg s "$step" '[.items[] | select(.reason == "ControlPlaneRolled" and ((.note // .message) | contains("step " + $s)))] | length > 0' > /dev/null; then
      note "NOTE sa-rotation $step: alpha's pods had started on the previous keys; the companion rolled them"
    fi
    n=0
    for token in "${tokens[@]}"; do
      n=$((n + 1))
      [[ $(kubectl --kubeconfig /dev/null --server "https://$ALPHA_ADDR:6443" --certificate-authority "$ca" --token "$token" \
        auth whoami -o jsonpath='{.status.userInfo.username}') == system:serviceaccount:default:sa-probe ]] ||
        { log "$step: token $n of ${#tokens[@]} was rejected"; return 1; }
    done
    tokens+=("$(kubectl --kubeconfig "$kc" -n default create token sa-probe --duration=2h)")
    [[ $(kubectl --kubeconfig "$kc" -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{.items[*].metadata.uid}') == "$coredns" ]] ||
      { log "$step: CoreDNS pods were replaced"; return 1; }
    kubectl --kubeconfig "$kc" -n default create service clusterip "after-$step" --tcp=80:80 >/dev/null
    ip=$(kubectl --kubeconfig "$kc" -n default get service "after-$step" -o jsonpath='{.spec.clusterIP}')
    wait_for "after-$step.default.svc.$domain resolving through CoreDNS" 60 bash -c \
      "kubectl --kubeconfig '$kc' exec on-worker -c shell -- /usr/local/bin/probe -lookup 'after-$step.default.svc.$domain' | grep -qx '$ip'"
    if kubectl --kubeconfig "$kc" -n kube-system logs -l k8s-app=kube-dns --tail=-1 | has Unauthorized; then
      log "$step: CoreDNS was refused by the API server"; return 1
    fi
    log "sa-key $step: ${#tokens[@]} tokens issued so far, every earlier one still authenticates; CoreDNS kept watching the API"
  done
  [[ $(jq -r '.artefacts | keys | map(select(startswith("sa"))) | join(",")' "$REPO/tcpc.lock.d/e2e-alpha/alpha.json") == sa,sa-previous ]] ||
    { log "the lock does not record the signing phase"; return 1; }
  kubectl -n e2e-alpha get events --field-selector involvedObject.name=alpha -o json |
    jq -e '[.items[] | select(.reason == "ServiceAccountKeys")] | length >= 1' > /dev/null ||
    { log "no ServiceAccountKeys Event on e2e-alpha/alpha"; return 1; }
  kubectl --kubeconfig "$kc" delete pod on-worker --grace-period=1 --timeout=60s >/dev/null
  worker_leave "$kc"
}

# The same worker joining trusting, which has konnectivity beside kube-proxy and CoreDNS: the
# agent (tenant bundle) runs on the worker and tunnels to the server sidecar through trusting's
# address; the addons serve the worker's pod as on alpha, and logs and exec keep working with the
# kubelet's port closed to the outside, and stop once the agent is gone.
s_worker_konnectivity() {
  local t=e2e-trust/trusting kc=$WORK/trusting-admin.conf image images
  image=$(grep -rhoE 'image: "?registry\.k8s\.io/kas-network-proxy/proxy-agent:[^" ]+' "$OUT/$t/tenant" | sed 's/^image: "\{0,1\}//' | sort -u)
  [[ -n $image ]] || { log "trusting's tenant bundle names no konnectivity agent"; return 1; }
  images=$(addon_images "$t")
  trap 'worker down || true' EXIT
  WORKER_IMAGES="$image $images" worker_join "$t" "$TRUST_ADDR"
  kubectl --kubeconfig "$kc" -n kube-system rollout status daemonset/konnectivity-agent --timeout=120s >/dev/null ||
    { kubectl --kubeconfig "$kc" -n kube-system get pods -o wide >&2; return 1; }
  timing worker_join_to_konnectivity_agent_ready "$(elapsed "$JOIN_T0")"
  # the server's identity: TokenReviews, nothing else
  [[ $(kubectl --kubeconfig "$kc" auth can-i create tokenreviews --as system:konnectivity-server 2>/dev/null) == yes ]]
  [[ $(kubectl --kubeconfig "$kc" auth can-i get secrets -A --as system:konnectivity-server || true) == no ]]
  worker_addons "$t" "$kc" "$TRUST_ADDR"
  # the kubelet's port closed to everything outside the worker: only the tunnel reaches it
  worker cut
  kubectl --kubeconfig "$kc" --request-timeout=20s logs on-worker -c dns | has -x "$SVC_IP" ||
    { log "kubectl logs failed through konnectivity"; return 1; }
  kubectl --kubeconfig "$kc" --request-timeout=20s exec on-worker -c shell -- /usr/local/bin/probe -lookup localhost | has -x 127.0.0.1
  log "with the kubelet's port closed from outside, kubectl logs and exec work: trusting's API server goes through konnectivity"
  # foreground: returns once the agent pods are gone from the node, not just from the API
  kubectl --kubeconfig "$kc" -n kube-system delete daemonset konnectivity-agent --cascade=foreground --timeout=120s >/dev/null ||
    { kubectl --kubeconfig "$kc" -n kube-system get pods -o wide >&2; return 1; }
  if kubectl --kubeconfig "$kc" --request-timeout=8s logs on-worker -c dns >/dev/null 2>&1; then
    log "kubectl logs worked without the agent: the check is void"; return 1
  fi
  if kubectl --kubeconfig "$kc" --request-timeout=8s exec on-worker -c shell -- /usr/local/bin/probe -lookup localhost >/dev/null 2>&1; then
    log "kubectl exec worked without the agent: the check is void"; return 1
  fi
  log "with the agent deleted, kubectl logs and exec fail: the path was konnectivity's"
  kubectl --kubeconfig "$kc" delete pod on-worker --grace-period=1 --timeout=60s >/dev/null
  worker_leave "$kc"
}

s_render() {
  local from=${UPGRADE_FROM:-$E2E_K8S_VERSION}
  E2E_COMPANION=1 make_repo "$REPO" "${E2E_ETCD_URL#https://}" "$E2E_ETCD_CA" "$E2E_ETCD_CA_KEY" \
    "$WORK/pki/sealed-secrets.crt" "$WORK/pki/internal-ca.crt" "$from" 2> "$WORK/import.log" ||
    { cat "$WORK/import.log" >&2; return 1; }
  local t0; t0=$(now)
  render_repo "$REPO" 2> "$WORK/render.log" || { cat "$WORK/render.log" >&2; return 1; }
  timing render_3_tenants "$(elapsed "$t0")"
  local t
  for t in "${TENANTS[@]}"; do
    [[ -f $OUT/$t/management/kustomization.yaml && -f $OUT/$t/tenant/kustomization.yaml ]] || { log "no bundles for $t"; return 1; }
  done
  grep -q "image: registry.k8s.io/kube-apiserver:$from" "$OUT/e2e-alpha/alpha/management/deployment-alpha.yaml"
}

# The ConfigMap named by internalCACertificatesConfigMap must reach the cluster for the pods to
# start. If the management bundle does not carry it, apply it from the repository (noted).
ensure_internal_ca_configmap() {
  if grep -rqs 'name: e2e-internal-ca' --include='configmap-*.yaml' "$OUT/e2e-trust/trusting/management/"; then
    return 0
  fi
  note "NOTE renderer: the management bundle of e2e-trust/trusting lacks ConfigMap e2e-internal-ca (internalCACertificatesConfigMap); applied it from the repo"
  awk 'BEGIN{RS="\n---\n"} /kind: ConfigMap/' "$REPO/tenants/trusting.yaml" | kubectl apply -f - >/dev/null
}

s_apply() {
  local t ns tcp pids=() t0
  for t in "${TENANTS[@]}"; do create_namespace "$(ns_of "$t")"; done
  oidc_issuer
  broken internal-ca || ensure_internal_ca_configmap
  # the companion first: the bundles carry RenderedControlPlanes (companion: {} in tcpc.yaml)
  companion_install
  t0=$(now)
  for t in "${TENANTS[@]}"; do
    kubectl apply -k "$(mgmt_dir "$t")" > "$WORK/apply-${t//\//_}.log"
  done
  # /readyz through the Service (ClusterIP, TLS-verified), one waiter per tenant, in parallel
  for t in "${TENANTS[@]}"; do
    ns=$(ns_of "$t"); tcp=$(tcp_of "$t")
    (
      deadline=$(( $(date +%s) + 180 ))
      until [[ -s $WORK/$tcp-ca.crt ]] && readyz_via_clusterip "$ns" "$tcp" "$WORK/$tcp-ca.crt" 2>/dev/null; do
        [[ -s $WORK/$tcp-ca.crt ]] || tenant_ca "$ns" "$tcp" "$WORK/$tcp-ca.crt" 2>/dev/null || true
        (( $(date +%s) < deadline )) || { log "$t: no /readyz within 180 s"; exit 1; }
        sleep 0.2
      done
      timing "apply_to_readyz_$tcp" "$(elapsed "$t0")"
      date +%s.%N > "$WORK/readyz-at-$tcp"
    ) &
    pids+=($!)
  done
  local p bad=0
  for p in "${pids[@]}"; do wait "$p" || bad=1; done
  for t in "${TENANTS[@]}"; do
    kubectl -n "$(ns_of "$t")" wait "deployment/$(tcp_of "$t")" --for=condition=Available --timeout=120s >/dev/null || bad=1
  done
  timing apply_to_all_available "$(elapsed "$t0")"
  (( bad == 0 ))
  # memory per tenant control plane (all processes of each pod): RSS, PSS, anonymous PSS
  local uid name
  for t in "${TENANTS[@]}"; do
    while read -r name uid; do
      timing "rss_mb_${name}" "$(pod_rss_mb "$uid")"
      timing "pss_mb_${name}" "$(pod_smaps_mb "$uid" Pss)"
      timing "anon_mb_${name}" "$(pod_smaps_mb "$uid" Pss_Anon)"
    done < <(kubectl -n "$(ns_of "$t")" get pods -l "kamaji.clastix.io/name=$(tcp_of "$t")" \
      -o jsonpath='{range .items[*]}{.metadata.name} {.metadata.uid}{"\n"}{end}')
  done
}

# ---- the companion (crates/companion) ---------------------------------------------------------

COMPANION_NS=tcpc-system
COMPANION_IMAGE=localhost/tcpc-e2e/companion:v1

# companion_install: `tcpc install companion` applied as printed (image from images.sh).
companion_install() {
  "$TCPC_BIN" install companion "$REPO" --image "$COMPANION_IMAGE" > "$WORK/companion.yaml"
  kubectl apply --server-side -f "$WORK/companion.yaml" > "$WORK/companion-apply.log"
  kubectl wait crd/renderedcontrolplanes.tcpc.dev --for=condition=Established --timeout=60s >/dev/null
}

rcp_field() { kubectl -n "$1" get rcp "$2" -o jsonpath="$3"; }
rcp_phase_is() { [[ $(rcp_field "$1" "$2" '{.status.phase}') == "$3" ]]; }
# rcp_field_is NS TCP JSONPATH VALUE
rcp_field_is() { [[ $(rcp_field "$1" "$2" "$3") == "$4" ]]; }
# rcp_ready_and_valid NS TCP: phase Ready and CertificatesValid True.
rcp_ready_and_valid() {
  rcp_phase_is "$1" "$2" Ready && [[ $(rcp_field "$1" "$2" '{.status.conditions[?(@.type=="CertificatesValid")].status}') == True ]]
}

# companion_metrics: the leader's /metrics.
companion_metrics() {
  local leader ip
  leader=$(kubectl -n "$COMPANION_NS" get lease tcpc-companion -o jsonpath='{.spec.holderIdentity}')
  ip=$(kubectl -n "$COMPANION_NS" get pod "$leader" -o jsonpath='{.status.podIP}')
  curl -sS --fail --max-time 2 "http://$ip:8080/metrics"
}

# companion_metric NS TCP: tcpc_tenant_ready of the tenant, from the leader's /metrics.
companion_metric() {
  companion_metrics | awk -v want="tcpc_tenant_ready{namespace=\"$1\",tenant=\"$2\"}" '$1 == want { print $2 }'
}
companion_metric_is() { [[ $(companion_metric "$1" "$2") == "$3" ]]; }

# The companion (two replicas, one leader) reports every tenant Ready with the version its API
# server answers, within 10 s of the tenant's first /readyz; a tenant whose pods are deleted turns
# NotReady (Event, tcpc_tenant_ready 0) and Ready again.
s_companion() {
  local t ns tcp avail lag leader
  kubectl -n "$COMPANION_NS" rollout status deployment/tcpc-companion --timeout=120s >/dev/null ||
    { kubectl -n "$COMPANION_NS" logs -l app.kubernetes.io/name=tcpc-companion --tail=40 --prefix >&2; return 1; }
  wait_for "the companion's Lease" 30 kubectl -n "$COMPANION_NS" get lease tcpc-companion
  leader=$(kubectl -n "$COMPANION_NS" get lease tcpc-companion -o jsonpath='{.spec.holderIdentity}')
  log "companion leader: $leader"
  for t in "${TENANTS[@]}"; do
    ns=$(ns_of "$t"); tcp=$(tcp_of "$t")
    wait_for "$t Ready in its RenderedControlPlane" 30 rcp_phase_is "$ns" "$tcp" Ready
    rcp_ready_and_valid "$ns" "$tcp" ||
      { log "$t: CertificatesValid is not True"; kubectl -n "$ns" get rcp "$tcp" -o yaml >&2; return 1; }
    [[ $(rcp_field "$ns" "$tcp" '{.status.version}') == "$(rcp_field "$ns" "$tcp" '{.spec.version}')" ]] ||
      { log "$t: status.version $(rcp_field "$ns" "$tcp" '{.status.version}') is not the rendered version"; return 1; }
    [[ $(rcp_field "$ns" "$tcp" '{.status.endpoint}') == "$(rcp_field "$ns" "$tcp" '{.spec.endpoint}')" ]]
    [[ $(rcp_field "$ns" "$tcp" '{.status.observedGeneration}') == "$(rcp_field "$ns" "$tcp" '{.metadata.generation}')" ]]
    # the companion read each certificate from the cluster: the apiserver's serial is there
    [[ -n $(rcp_field "$ns" "$tcp" '{.status.certificates[?(@.name=="apiserver")].notAfter}') ]] ||
      { log "$t: no apiserver certificate in the status"; return 1; }
    avail=$(rcp_field "$ns" "$tcp" '{.status.conditions[?(@.type=="Available")].lastTransitionTime}')
    # lastTransitionTime has whole seconds: the lag is rounded up to the next second at most
    lag=$(awk -v a="$(date -d "$avail" +%s)" -v r="$(cat "$WORK/readyz-at-$tcp")" 'BEGIN { printf "%.1f", a - r }')
    timing "companion_ready_after_readyz_s_$tcp" "$lag"
    awk -v l="$lag" 'BEGIN { exit !(l <= 10) }' || { log "$t: Ready ${lag}s after /readyz (more than 10 s)"; return 1; }
  done
  kubectl get rcp -A >&2
  wait_for "tcpc_tenant_ready 1 for edge" 20 companion_metric_is e2e-edge edge 1
  # NotReady and back: the edge control plane's pods are deleted
  local t0; t0=$(now)
  kubectl -n e2e-edge delete pods -l kamaji.clastix.io/name=edge --wait=false >/dev/null
  wait_for "edge NotReady" 60 rcp_phase_is e2e-edge edge NotReady
  timing companion_notready_after_delete "$(elapsed "$t0")"
  wait_for "tcpc_tenant_ready 0 for edge" 20 companion_metric_is e2e-edge edge 0
  wait_for "edge Ready again" 180 rcp_phase_is e2e-edge edge Ready
  timing companion_ready_again_after_delete "$(elapsed "$t0")"
  companion_metric_is e2e-edge edge 1 || wait_for "tcpc_tenant_ready 1 for edge" 20 companion_metric_is e2e-edge edge 1
  kubectl -n e2e-edge get events --field-selector involvedObject.name=edge -o json |
    jq -e '[.items[] | select(.involvedObject.kind == "RenderedControlPlane") | .reason] | (index("NotReady") != null) and (index("Ready") != null)' >/dev/null ||
    { log "no NotReady and Ready Events on e2e-edge/edge"; kubectl -n e2e-edge get events >&2; return 1; }
  # the companion never logs key material
  ! kubectl -n "$COMPANION_NS" logs -l app.kubernetes.io/name=tcpc-companion --all-containers --tail=-1 | has 'PRIVATE KEY' ||
    { log "the companion logged a private key"; return 1; }
  timing companion_rss_mb "$(companion_rss_mb)"
  companion_costs
}

# companion_reconcile_sum_count: "SUM COUNT" of the leader's reconcile duration histogram.
companion_reconcile_sum_count() {
  companion_metrics | awk '$1 == "tcpc_reconcile_duration_seconds_sum" { s = $2 } $1 == "tcpc_reconcile_duration_seconds_count" { n = $2 } END { print s + 0, n + 0 }'
}

# companion_costs: the leader's CPU share since it started, its mean reconcile time (from its
# /metrics) and its image's size, as TIMING lines.
companion_costs() {
  local leader uid pids tck up
  leader=$(kubectl -n "$COMPANION_NS" get lease tcpc-companion -o jsonpath='{.spec.holderIdentity}')
  uid=$(kubectl -n "$COMPANION_NS" get pod "$leader" -o jsonpath='{.metadata.uid}')
  pids=$(pod_pids "$uid"); tck=$(getconf CLK_TCK); up=$(cut -d' ' -f1 /proc/uptime)
  # /proc/PID/stat after the command's ")": field 12 utime, 13 stime, 20 starttime (ticks)
  timing companion_cpu_percent "$(for p in $pids; do sed 's/^.*) //' "/proc/$p/stat"; done |
    awk -v tck="$tck" -v up="$up" '{ cpu += ($12 + $13) / tck; age = up - $20 / tck } END { if (age > 0) printf "%.2f", 100 * cpu / age }')"
  # the mean of the reconciles of 15 s in a settled state (a resync every 5 s per tenant), not
  # of the cold start's, whose probes wait out unready tenants
  local before after
  before=$(companion_reconcile_sum_count); sleep 15; after=$(companion_reconcile_sum_count)
  timing companion_reconcile_mean_ms "$(awk -v b="$before" -v a="$after" 'BEGIN {
    split(b, x, " "); split(a, y, " "); if (y[2] > x[2]) printf "%.1f", 1000 * (y[1] - x[1]) / (y[2] - x[2]) }')"
  # the image as containerd holds it (compressed layers): its SIZE column, in MiB
  timing companion_image_mib "$(ctr --address "$E2E_CONTAINERD_SOCK" -n k8s.io images ls |
    awk '$1 == "localhost/tcpc-e2e/companion:v1" { v = $4; if ($5 == "KiB") v /= 1024; if ($5 == "GiB") v *= 1024; print v }')"
}

# rotation: git, observed. Edge gets one-day leaves and tcpc.yaml a renewal window of 99.55 % of
# a lifetime (one day and the 5 minutes' backdate): a fresh leaf enters it 90 s after issuance.
# Once it has, the companion reports CertificatesValid=False (phase CertificatesExpiring, an Event,
# the expiry metric) and `tcpc check` fails; `tcpc render --identity` renews the leaves in Git and,
# after apply, the condition clears (within the new leaves' own 90 s).
s_certificates_expiring() {
  local ns=e2e-edge tcp=edge renew=$WORK/render-renew.log expiry issued
  cp "$REPO/tcpc.yaml" "$WORK/tcpc.yaml.before"
  sed -i 's/^pki:$/pki:\n  renewBeforeFraction: 0.9955/' "$REPO/tcpc.yaml"
  # `tcpc check` thresholds inside a one-day renewal window (the resolve stage insists)
  printf 'check:\n  warnDays: 0\n  failDays: 0\n' >> "$REPO/tcpc.yaml"
  tcp_edge "$E2E_K8S_VERSION" | sed 's/^  dataStore: default$/  dataStore: default\n  pki:\n    leafValidityDays: 1/' > "$REPO/tenants/edge.yaml"
  grep -q leafValidityDays "$REPO/tenants/edge.yaml"
  issued=$(now)
  render_repo "$REPO" 2> "$renew" || { cat "$renew" >&2; return 1; }
  apply_edge() {
    kubectl apply -k "$(mgmt_dir $ns/$tcp)" > /dev/null
    kubectl -n $ns rollout status deployment/$tcp --timeout=120s > /dev/null
  }
  apply_edge
  wait_for "edge CertificatesExpiring" 150 rcp_phase_is $ns $tcp CertificatesExpiring
  timing certificates_expiring_after_issue "$(elapsed "$issued")"
  [[ $(rcp_field $ns $tcp '{.status.conditions[?(@.type=="CertificatesValid")].status}') == False ]] ||
    { log "edge: CertificatesValid is not False"; kubectl -n $ns get rcp $tcp -o yaml >&2; return 1; }
  log "edge: $(rcp_field $ns $tcp '{.status.conditions[?(@.type=="CertificatesValid")].message}')"
  # the metric: the apiserver certificate of one day
  expiry=$(companion_metrics | awk -v want="tcpc_certificate_expiry_timestamp_seconds{namespace=\"$ns\",tenant=\"$tcp\",certificate=\"apiserver\"}" '$1 == want { print $2 }')
  [[ -n $expiry ]] || { log "no expiry metric for edge's apiserver certificate"; companion_metrics | grep expiry >&2; return 1; }
  awk -v e="$expiry" -v now="$(date +%s)" 'BEGIN { exit !(e > now && e <= now + 86400) }' ||
    { log "edge: apiserver certificate expiry metric $expiry is not within a day"; return 1; }
  kubectl -n $ns get events --field-selector involvedObject.name=$tcp -o json |
    jq -e '[.items[] | select(.involvedObject.kind == "RenderedControlPlane" and .reason == "CertificatesExpiring")] | length > 0' >/dev/null ||
    { log "no CertificatesExpiring Event on $ns/$tcp"; return 1; }
  # CI's `tcpc check` fails too: new material is due
  if "$TCPC_BIN" check "$REPO" --tenant $ns/$tcp > /dev/null 2> "$WORK/check-expiring.log"; then
    log "tcpc check passed with edge's leaves inside their renewal window"; return 1
  fi
  # renewed in Git: the render a schedule runs
  issued=$(now)
  render_repo "$REPO" 2> "$renew" || { cat "$renew" >&2; return 1; }
  grep -q 'lifetime is left' "$renew" || { log "the render did not renew edge's leaves"; cat "$renew" >&2; return 1; }
  apply_edge
  wait_for "edge Ready with valid certificates" 60 rcp_ready_and_valid $ns $tcp ||
    { kubectl -n $ns get rcp $tcp -o yaml >&2; return 1; }
  timing certificates_valid_after_renewal "$(elapsed "$issued")"
  # back to year-long leaves and the default window for the scenarios that follow
  cp "$WORK/tcpc.yaml.before" "$REPO/tcpc.yaml"
  tcp_edge "$E2E_K8S_VERSION" > "$REPO/tenants/edge.yaml"
  render_repo "$REPO" 2> "$renew" || { cat "$renew" >&2; return 1; }
  apply_edge
}

# companion_rss_mb: RSS of the leader's container, in MB.
companion_rss_mb() {
  local leader uid
  leader=$(kubectl -n "$COMPANION_NS" get lease tcpc-companion -o jsonpath='{.spec.holderIdentity}')
  uid=$(kubectl -n "$COMPANION_NS" get pod "$leader" -o jsonpath='{.metadata.uid}')
  pod_rss_mb "$uid"
}

# companion_owned NS TCP: the Secrets the companion issues for TCP (its record's issuance).
companion_owned() { kubectl -n "$1" get rcp "$2" -o json | jq -r '.spec.issuance[]?.secret'; }
# owned_by_companion NS SECRET...: every SECRET exists with the companion's label.
owned_by_companion() {
  local ns=$1 s; shift
  for s in "$@"; do
    [[ $(kubectl -n "$ns" get secret "$s" -o jsonpath='{.metadata.labels.tcpc\.dev/issued-by}' 2>/dev/null) == tcpc-companion ]] || return 1
  done
}
# served_serial HOST PORT NAME: the serial of the certificate the API server presents.
served_serial() {
  openssl s_client -connect "$1:$2" -servername "$3" < /dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
# secret_serial NS SECRET KEY: the serial of the PEM certificate at KEY.
secret_serial() {
  kubectl -n "$1" get secret "$2" -o jsonpath="{.data.${3//./\\.}}" | base64 -d | openssl x509 -noout -serial | sed 's/^serial=//'
}
# poll_admin_kubectl NS TCP OUT STOP: every second, the admin kubeconfig as the companion holds it
# now (a user fetching it) runs `kubectl get --raw /readyz` against the tenant; "TIME ok|fail".
poll_admin_kubectl() {
  local ns=$1 tcp=$2 out=$3 stop=$4 kc
  kc=$(mktemp "$WORK/admin-kubectl.XXXXXX")
  : > "$out"
  while [[ ! -e $stop ]]; do
    if kubectl -n "$ns" get secret "$tcp-admin-kubeconfig" -o jsonpath='{.data.admin\.conf}' | base64 -d > "$kc" &&
      kubectl --kubeconfig "$kc" --request-timeout=2s get --raw /readyz > /dev/null 2>> "$out.err"; then
      printf '%s ok\n' "$(date +%s.%N)" >> "$out"
    else
      printf '%s fail\n' "$(date +%s.%N)" >> "$out"
    fi
    sleep 1
  done
  rm -f "$kc"
}
# lease_age_s NS LEASE KUBECONFIG: seconds since the tenant Lease was renewed.
lease_age_s() {
  local t
  t=$(kubectl --kubeconfig "$3" -n "$1" get lease "$2" -o jsonpath='{.spec.renewTime}')
  echo $(( $(date +%s) - $(date -d "$t" +%s) ))
}

# rotation: companion. edge's leaves leave Git: the companion issues them from edge's CA Secret,
# 240 s of validity (test only) renewed at half their lifetime. kube-apiserver takes each new
# serving certificate from its files, the controller-manager and scheduler their client
# certificates (kubeconfigs naming files); /readyz through the ClusterIP every 200 ms and kubectl
# with the admin kubeconfig of the moment every second: zero failures over two renewals.
s_companion_rotation() {
  local ns=e2e-edge tcp=edge render=$WORK/render-companion-rotation.log s owned
  cp "$REPO/tcpc.yaml" "$WORK/tcpc.yaml.before-rotation"
  sed -i 's/^pki:$/pki:\n  renewBeforeFraction: 0.5\n  testOnlyLeafValiditySeconds: 240/' "$REPO/tcpc.yaml"
  tcp_edge "$E2E_K8S_VERSION" | sed 's/^  dataStore: default$/  dataStore: default\n  pki:\n    rotation: companion/' > "$REPO/tenants/edge.yaml"
  # the test-only validity is refused unless asked for
  if "$TCPC_BIN" render "$REPO" --identity "$REPO/../age-identity.txt" 2> "$render"; then
    log "testOnlyLeafValiditySeconds was accepted without TCPC_ALLOW_TEST_ONLY=1"; return 1
  fi
  has 'for tests only' "$render" || { cat "$render" >&2; return 1; }
  TCPC_ALLOW_TEST_ONLY=1 render_repo "$REPO" 2> "$render" || { cat "$render" >&2; return 1; }
  kubectl apply -k "$(mgmt_dir $ns/$tcp)" > /dev/null
  mapfile -t owned < <(companion_owned $ns $tcp)
  (( ${#owned[@]} == 6 )) || { log "edge's record asks for ${#owned[*]} Secrets: ${owned[*]}"; return 1; }
  # GitOps prunes the SealedSecrets that left the bundle (and their Secrets go with them); by hand here
  for s in "${owned[@]}"; do
    kubectl -n $ns delete sealedsecret "$s" --ignore-not-found > /dev/null
    # --wait=false: the companion writes its own Secret of that name at once, and kubectl's wait
    # for the name to disappear would never end
    kubectl -n $ns delete secret "$s" --ignore-not-found --wait=false > /dev/null
  done
  local t0; t0=$(now)
  wait_for "the companion's Secrets for edge" 60 owned_by_companion $ns "${owned[@]}" ||
    { kubectl -n "$COMPANION_NS" logs -l app.kubernetes.io/name=tcpc-companion --tail=30 --prefix >&2; return 1; }
  timing companion_issued_after_apply "$(elapsed "$t0")"
  kubectl -n $ns rollout status deployment/$tcp --timeout=180s > /dev/null
  wait_for "edge Ready on the companion's certificates" 120 rcp_ready_and_valid $ns $tcp ||
    { kubectl -n $ns get rcp $tcp -o yaml >&2; return 1; }

  local stop=$WORK/rotation.stop readyz=$WORK/rotation-readyz.log kubectl_log=$WORK/rotation-kubectl.log
  tenant_ca $ns $tcp "$WORK/edge-ca.crt"
  rm -f "$stop"
  poll_readyz $ns $tcp "$WORK/edge-ca.crt" "$readyz" "$stop" &
  local p_readyz=$!
  poll_admin_kubectl $ns $tcp "$kubectl_log" "$stop" &
  local p_kubectl=$!
  # two renewals of the serving certificate by the companion (its Secret), the last one seen
  # served by kube-apiserver (a Git-era pod still terminating may answer for a moment: serials
  # are taken from the companion's Secret, the served one must catch up with the last)
  local issued_serials=() served=() serial start kcm0 kcm
  kcm0=$(secret_serial $ns $tcp-controller-manager-kubeconfig controller-manager.crt)
  serves_the_secret() { [[ $(served_serial 127.0.0.1 "$EDGE_PORT" "$tcp.$ns.svc") == "$(secret_serial $ns $tcp-api-server-certificate apiserver.crt)" ]]; }
  wait_for "edge serving the companion's certificate" 120 serves_the_secret
  issued_serials=("$(secret_serial $ns $tcp-api-server-certificate apiserver.crt)")
  start=$(date +%s)
  while :; do
    serial=$(secret_serial $ns $tcp-api-server-certificate apiserver.crt)
    if [[ -n $serial && $serial != "${issued_serials[-1]}" ]]; then
      issued_serials+=("$serial"); log "the companion renewed edge's serving certificate: $serial ($(( $(date +%s) - start )) s)"
    fi
    serial=$(served_serial 127.0.0.1 "$EDGE_PORT" "$tcp.$ns.svc")
    if [[ -n $serial && " ${issued_serials[*]} " == *" $serial "* && " ${served[*]} " != *" $serial "* ]]; then
      served+=("$serial"); log "edge serves $serial ($(( $(date +%s) - start )) s)"
    fi
    (( ${#issued_serials[@]} >= 3 )) && [[ $serial == "${issued_serials[-1]}" ]] && break
    (( $(date +%s) - start < 720 )) || break
    sleep 2
  done
  # the controller-manager and scheduler still hold their Leases on renewed client certificates
  # super-admin (kept in Git under rotation: companion): reads the Leases whether or not the tenant
  # bundle's RBAC is applied
  local kc=$WORK/edge-rotation-super-admin.conf
  "$TCPC_BIN" kubeconfig "$ns/$tcp" "$REPO" --user super-admin --identity "$REPO/../age-identity.txt" -o "$kc" 2> /dev/null
  kcm=$(secret_serial $ns $tcp-controller-manager-kubeconfig controller-manager.crt)
  local kcm_age sched_age
  kcm_age=$(lease_age_s kube-system kube-controller-manager "$kc"); sched_age=$(lease_age_s kube-system kube-scheduler "$kc")
  sleep 3
  touch "$stop"; wait "$p_readyz" "$p_kubectl" || true
  local polls fails kpolls kfails
  polls=$(wc -l < "$readyz"); fails=$(awk '$2 != "200"' "$readyz" | wc -l)
  kpolls=$(wc -l < "$kubectl_log"); kfails=$(awk '$2 != "ok"' "$kubectl_log" | wc -l)
  timing companion_rotation_issued_serials "${#issued_serials[@]}"
  timing companion_rotation_served_serials "${#served[@]}"
  timing companion_rotation_readyz_polls "$polls"
  timing companion_rotation_readyz_failures "$fails"
  timing companion_rotation_kubectl_calls "$kpolls"
  timing companion_rotation_kubectl_failures "$kfails"
  log "edge: serving certificates issued ${issued_serials[*]}, served ${served[*]}; controller-manager $kcm0 -> $kcm (Lease renewed ${kcm_age}s ago, scheduler's ${sched_age}s ago); /readyz $polls polls, $fails failed; kubectl $kpolls calls, $kfails failed"
  (( fails == 0 )) || awk '$2 != "200"' "$readyz" | sed -n 1,20p >&2
  (( kfails == 0 )) || sed -n 1,20p "$kubectl_log.err" >&2
  (( ${#issued_serials[@]} >= 3 && ${#served[@]} > 0 )) && [[ ${served[-1]} == "${issued_serials[-1]}" ]] ||
    { log "fewer than two renewals in 12 minutes, or the last not served"; return 1; }
  [[ $kcm != "$kcm0" ]] || { log "the controller-manager's certificate was not renewed"; return 1; }
  (( kcm_age <= 15 && sched_age <= 15 )) || { log "a Lease went stale: controller-manager ${kcm_age}s, scheduler ${sched_age}s"; return 1; }
  (( polls >= 300 && fails == 0 && kpolls >= 60 && kfails == 0 ))
  kubectl -n $ns get events --field-selector involvedObject.name=$tcp -o json |
    jq -e '[.items[] | select(.reason == "CertificateRenewed")] | length >= 1' > /dev/null ||
    { log "no CertificateRenewed Event on $ns/$tcp"; kubectl -n $ns get events >&2; return 1; }
  # every renewal in the leader's log, each with its reason
  local renewals
  renewals=$(kubectl -n "$COMPANION_NS" logs -l app.kubernetes.io/name=tcpc-companion --tail=-1 | jq -rR 'fromjson? | select(.tenant == "edge" and .message == "issued" and (.reason | test("renewal window"))) | .secret' | wc -l)
  timing companion_rotation_renewals "$renewals"
  (( renewals >= 12 )) || { log "the companion logged $renewals renewals for edge, expected two of each of its 6 Secrets"; return 1; }
  rcp_ready_and_valid $ns $tcp

  # back to rotation: git for the scenarios that follow: the companion's Secrets give their names
  # back to the sealed ones (the sealed-secrets controller never overwrites a Secret it does not own)
  cp "$WORK/tcpc.yaml.before-rotation" "$REPO/tcpc.yaml"
  tcp_edge "$E2E_K8S_VERSION" > "$REPO/tenants/edge.yaml"
  render_repo "$REPO" 2> "$render" || { cat "$render" >&2; return 1; }
  kubectl apply -k "$(mgmt_dir $ns/$tcp)" > /dev/null
  wait_for "edge's record without issuance" 30 bash -c "[[ -z \$(kubectl -n $ns get rcp $tcp -o jsonpath='{.spec.issuance}') ]]"
  sleep 2
  kubectl -n $ns delete secret -l tcpc.dev/issued-by=tcpc-companion --wait=false > /dev/null
  wait_for "the companion's Secrets gone" 60 bash -c "[[ -z \$(kubectl -n $ns get secret -l tcpc.dev/issued-by=tcpc-companion -o name) ]]"
  # the sealed-secrets controller gave up on those names while the companion's Secrets held them:
  # the SealedSecrets again, fresh
  for s in "${owned[@]}"; do kubectl -n $ns delete sealedsecret "$s" --ignore-not-found > /dev/null; done
  kubectl apply -k "$(mgmt_dir $ns/$tcp)" > /dev/null
  wait_for "edge's sealed Secrets back" 120 bash -c "for s in ${owned[*]}; do kubectl -n $ns get secret \$s > /dev/null || exit 1; done"
  kubectl -n $ns rollout status deployment/$tcp --timeout=180s > /dev/null
  wait_for "edge Ready on Git's certificates" 120 rcp_ready_and_valid $ns $tcp
}

s_service() {
  local ca=$WORK/alpha-ca.crt
  readyz_via_clusterip e2e-alpha alpha "$ca"
  log "alpha /readyz via ClusterIP $(cluster_ip e2e-alpha alpha):6443 (SNI alpha.e2e-alpha.svc)"
  # negative control: the certificate must not verify for a name it does not carry
  if curl -sS --max-time 2 --cacert "$ca" --resolve "wrong.example:6443:$(cluster_ip e2e-alpha alpha)" \
      https://wrong.example:6443/readyz >/dev/null 2>&1; then
    log "TLS verification accepted a name that is not a SAN: the check is void"; return 1
  fi
  curl -sS --fail --max-time 2 --cacert "$ca" "https://$ALPHA_ADDR:6443/readyz" | has -x ok
  log "alpha /readyz via its address https://$ALPHA_ADDR:6443 (externalIP)"
  curl -sS --fail --max-time 2 --cacert "$WORK/edge-ca.crt" "https://127.0.0.1:$EDGE_PORT/readyz" | has -x ok
  log "edge /readyz via NodePort https://127.0.0.1:$EDGE_PORT"
  readyz_via_clusterip e2e-edge edge "$WORK/edge-ca.crt"
  readyz_via_clusterip e2e-trust trusting "$WORK/trusting-ca.crt"
}

# admin.conf (O=kubeadm:cluster-admins, as kubeadm >= v1.29) is powerless until the tenant
# bundle's ClusterRoleBinding kubeadm:cluster-admins exists; kubeadm creates it with
# super-admin.conf (O=system:masters), and so do we. super-admin.conf is not in the cluster
# (tcpc's default): `tcpc kubeconfig --user super-admin` writes it from the encrypted state.
s_kubeconfig() {
  local t ns tcp kc skc server keys
  for t in e2e-alpha/alpha e2e-edge/edge; do
    ns=$(ns_of "$t"); tcp=$(tcp_of "$t"); kc=$WORK/$tcp-admin.conf; skc=$WORK/$tcp-super-admin.conf
    admin_conf "$ns" "$tcp" "$kc"
    keys=$(kubectl -n "$ns" get secret "$tcp-admin-kubeconfig" -o jsonpath='{.data}' | jq -r 'keys | join(",")')
    [[ $keys == admin.conf,admin.svc ]] || { log "$t: admin Secret keys are $keys (super-admin must stay out)"; return 1; }
    "$TCPC_BIN" kubeconfig "$t" --user super-admin --dir "$REPO" --identity "$REPO/../age-identity.txt" -o "$skc"
    [[ $(stat -c %a "$skc") == 600 ]] || { log "$skc is mode $(stat -c %a "$skc")"; return 1; }
    server=$(kubectl --kubeconfig "$kc" config view -o jsonpath='{.clusters[0].cluster.server}')
    log "$t admin.conf server $server"
    # the rendered kubeconfigs as they are: no --server/--insecure overrides
    kubectl --kubeconfig "$skc" --request-timeout=10s apply -k "$OUT/$t/tenant" > "$WORK/tenant-apply-$tcp.log"
    kubectl --kubeconfig "$kc" --request-timeout=10s create namespace e2e-hello >/dev/null
    [[ $(kubectl --kubeconfig "$kc" get namespace e2e-hello -o jsonpath='{.status.phase}') == Active ]]
    local who
    who=$(kubectl --kubeconfig "$kc" auth whoami -o jsonpath='{.status.userInfo.username} {.status.userInfo.groups}')
    [[ $who == "kubernetes-admin "*kubeadm:cluster-admins* ]] || { log "admin.conf is '$who'"; return 1; }
    kubectl --kubeconfig "$kc" -n kube-public get configmap cluster-info -o jsonpath='{.data.kubeconfig}' > "$WORK/$tcp-cluster-info"
    grep -q "server: \"\{0,1\}$server\"\{0,1\}$" "$WORK/$tcp-cluster-info" ||
      { log "cluster-info does not point at $server"; cat "$WORK/$tcp-cluster-info" >&2; return 1; }
    kubectl --kubeconfig "$kc" get clusterrolebinding kubeadm:get-nodes kubeadm:kubelet-bootstrap kubeadm:cluster-admins \
      kubeadm:node-autoapprove-bootstrap kubeadm:node-autoapprove-certificate-rotation >/dev/null
    kubectl --kubeconfig "$kc" -n kube-public get role kubeadm:bootstrap-signer-clusterinfo >/dev/null
    kubectl --kubeconfig "$kc" -n kube-public get rolebinding kubeadm:bootstrap-signer-clusterinfo >/dev/null
    kubectl --kubeconfig "$kc" -n kube-system get configmap kubeadm-config kubelet-config >/dev/null
    # anonymous clients (kubeadm join discovery) may read cluster-info
    curl -sS --fail --max-time 2 --cacert "$WORK/$tcp-ca.crt" "$server/api/v1/namespaces/kube-public/configmaps/cluster-info" >/dev/null
    log "$t: tenant bundle applied (super-admin.conf from tcpc kubeconfig); namespace created/read with admin.conf ($who); kubeadm RBAC + cluster-info present"
  done
}

s_internal_ca() {
  local pod c p pid want got bad=0
  want=$WORK/pki/internal-ca.crt
  pod=$(kubectl -n e2e-trust get pods -l kamaji.clastix.io/name=trusting -o jsonpath='{.items[0].metadata.name}')
  # files first, then trust; both are checked (and reported) even when the first fails
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    pid=$(container_pid e2e-trust "$pod" "$c") || true
    [[ -n $pid ]] || { log "no task for container $c"; bad=1; continue; }
    for p in /etc/ca-certificates /usr/share/ca-certificates /usr/local/share/ca-certificates; do
      got=/proc/$pid/root$p/e2e-internal-ca.crt
      if [[ ! -f $got ]]; then log "$c: $p/e2e-internal-ca.crt missing"; bad=1
      elif ! cmp -s "$got" "$want"; then log "$c: $p/e2e-internal-ca.crt differs from the ConfigMap's certificate"; bad=1
      fi
    done
    tr '\0' '\n' < "/proc/$pid/environ" | has '^SSL_CERT_DIR=.*/usr/local/share/ca-certificates' ||
      { log "$c: SSL_CERT_DIR not set"; bad=1; }
    [[ -f /proc/$pid/root/etc/ssl/certs/ca-certificates.crt ]] || { log "$c: public bundle gone"; bad=1; }
  done
  (( bad == 0 )) && log "internal CA present in all 3 paths of all 3 containers (pod $pod), SSL_CERT_DIR set"

  # the apiserver trusts it: a JWT of our issuer authenticates
  local kc=$WORK/trusting-token.conf token rogue user=""
  token=$("$TOOLS/oidc" token -issuer "$OIDC_ISSUER" -signing-key "$WORK/pki/oidc-signing.key" -audience "$OIDC_AUDIENCE" -subject alice)
  rogue=$("$TOOLS/oidc" token -issuer "$OIDC_ISSUER" -signing-key "$WORK/pki/rogue-signing.key" -audience "$OIDC_AUDIENCE" -subject mallory)
  kubectl config --kubeconfig "$kc" set-cluster trusting --server "https://$TRUST_ADDR:6443" \
    --certificate-authority "$WORK/trusting-ca.crt" --embed-certs >/dev/null
  kubectl config --kubeconfig "$kc" set-context trusting --cluster trusting --user oidc >/dev/null
  kubectl config --kubeconfig "$kc" use-context trusting >/dev/null
  local deadline=$(( $(date +%s) + 60 ))
  while :; do
    user=$(kubectl --kubeconfig "$kc" --token "$token" auth whoami -o jsonpath='{.status.userInfo.username}' 2> "$WORK/whoami.err") || true
    [[ $user == oidc:alice ]] && break
    (( $(date +%s) < deadline )) || {
      log "JWT of our issuer not accepted: $(cat "$WORK/whoami.err")"
      grep -h -i -E 'oidc|x509|jwt' "$DIR"/logs/pods/e2e-trust_trusting-*/kube-apiserver/*.log 2>/dev/null | tail -n 5 >&2 || true
      return 1
    }
    sleep 1
  done
  log "kubectl --token <JWT from $OIDC_ISSUER> auth whoami -> $user"
  if kubectl --kubeconfig "$kc" --token "$rogue" auth whoami >/dev/null 2>&1; then
    log "a JWT signed by an unknown key was accepted: the check is void"; return 1
  fi
  if grep -h 'x509: certificate signed by unknown authority' "$DIR"/logs/pods/e2e-trust_trusting-*/kube-apiserver/*.log 2>/dev/null | has .; then
    log "kube-apiserver logged x509 unknown authority"; return 1
  fi
  kubectl -n e2e-trust logs deploy/e2e-oidc | has '/keys'
  log "kube-apiserver fetched discovery + JWKS over TLS from the internal-CA-signed issuer"
  (( bad == 0 ))
}

# Key files each control-plane container reads (all from 0600 Secret volumes).
declare -A KEY_FILES=(
  [kube-apiserver]="/etc/kubernetes/pki/apiserver.key /etc/kubernetes/pki/sa.key /etc/kubernetes/pki/etcd/server.key /etc/kubernetes/pki/front-proxy-client.key /etc/kubernetes/pki/apiserver-kubelet-client.key"
  [kube-controller-manager]="/etc/kubernetes/pki/ca.key /etc/kubernetes/pki/sa.key /etc/kubernetes/controller-manager.conf"
  [kube-scheduler]="/etc/kubernetes/scheduler.conf"
)
UID_CP=65532   # tcpc's control-plane UID/GID/fsGroup (src/resolve/hardening.rs)

# read_as UID GID FILE: whether a process with exactly UID and GID (no supplementary groups, no
# capabilities) can read FILE, a path inside a container as seen under /proc/PID/root. Root
# opens FILE's directory and hands it over as fd 3, so only the permissions on the way and of
# the file decide (not who may look into another process's /proc entry).
s_datastore_override() {
  # trusting's tenant bundle (kubeadm's RBAC for admin.conf) is not applied: go in as super-admin
  local kc=$WORK/trusting-super-admin.conf key=/e2e-trust_trusting/events/default/e2e-override-probe
  "$TCPC_BIN" kubeconfig e2e-trust/trusting --user super-admin --dir "$REPO" --identity "$REPO/../age-identity.txt" -o "$kc"
  grep -q -- "--etcd-servers-overrides=/events#https://$E2E_EVENTS_ETCD" "$OUT/e2e-trust/trusting/management/deployment-trusting.yaml" ||
    { log "the rendered Deployment has no --etcd-servers-overrides for /events"; return 1; }
  kubectl --kubeconfig "$kc" --request-timeout=10s get --raw '/healthz?verbose' > "$WORK/trusting-healthz"
  grep -q '^\[+\]etcd-override-0 ok' "$WORK/trusting-healthz" || { cat "$WORK/trusting-healthz" >&2; return 1; }
  kubectl --kubeconfig "$kc" --request-timeout=10s create -f - > /dev/null <<'YAML'
apiVersion: v1
kind: Event
metadata:
  name: e2e-override-probe
  namespace: default
involvedObject:
  apiVersion: v1
  kind: Namespace
  name: default
reason: E2EProbe
message: kept by the events etcd
type: Normal
YAML
  local in_events in_shared
  in_events=$(etcd_count "https://$E2E_EVENTS_ETCD" "$key")
  in_shared=$(etcd_count "$E2E_ETCD_URL" "$key")
  log "trusting: Event $key is in the events etcd: $in_events, in the shared etcd: $in_shared"
  [[ $in_events == 1 && $in_shared == 0 ]]
  # and the tenant reads it back through its API
  kubectl --kubeconfig "$kc" -n default get event e2e-override-probe -o jsonpath='{.message}' | has 'kept by the events etcd'
}

# s_write_limits: needs s_kubeconfig's admin and super-admin kubeconfigs of edge.
s_write_limits() {
  local kc=$WORK/edge-admin.conf skc=$WORK/edge-super-admin.conf before=$WORK/edge-tenant-before err=$WORK/write-limits.err
  [[ -s $kc && -s $skc ]] || { log "needs the kubeconfig scenario's edge kubeconfigs"; return 1; }
  tcp_edge "$E2E_K8S_VERSION" |
    sed 's/^  dataStore: default$/  dataStore: default\n  writePermissions:\n    blockCreation: true\n    blockDeletion: true/' > "$REPO/tenants/edge.yaml"
  grep -q blockCreation "$REPO/tenants/edge.yaml"
  rm -rf "$before"; cp -a "$OUT/e2e-edge/edge" "$before"
  render_repo "$REPO" 2> "$WORK/render-write-limits.log" || { cat "$WORK/render-write-limits.log" >&2; return 1; }
  # the RenderedControlPlane records the input fingerprint, which changes with any input
  diff -r -I "^  fingerprint: sha256:" "$before/management" "$OUT/e2e-edge/edge/management" >&2 || { log "writePermissions changed the management bundle"; return 1; }
  kubectl --kubeconfig "$skc" --request-timeout=10s apply -k "$OUT/e2e-edge/edge/tenant" > "$WORK/tenant-apply-write-limits.log"
  # a policy is enforced once the API server has compiled it (asynchronously, about a second)
  refused() { ! "$@" > /dev/null 2> "$err" && grep -q 'spec.writePermissions' "$err"; }
  wait_for "edge refusing creates" 30 refused kubectl --kubeconfig "$kc" -n default create configmap e2e-frozen ||
    { cat "$err" >&2; return 1; }
  log "edge: create refused: $(head -n 1 "$err")"
  refused kubectl --kubeconfig "$kc" delete namespace e2e-hello || { log "delete not refused"; return 1; }
  refused kubectl --kubeconfig "$kc" create namespace e2e-new || { log "cluster-scoped create not refused"; return 1; }
  kubectl --kubeconfig "$kc" label namespace e2e-hello e2e.tcpc.dev/frozen=true --overwrite > /dev/null   # updates pass
  kubectl --kubeconfig "$kc" -n kube-system create configmap e2e-system-write > /dev/null                # kube-system is exempt
  kubectl --kubeconfig "$kc" -n kube-system delete configmap e2e-system-write > /dev/null
  [[ $(kubectl --kubeconfig "$kc" auth can-i create configmaps -n default) == yes ]]                        # RBAC says yes; reviews pass
  kubectl --kubeconfig "$kc" get namespaces > /dev/null
  # lift it: render without the field; what it added leaves the bundle and is pruned, as
  # Argo CD or Flux prune objects that left Git (VAP objects are never subject to a policy)
  local limited=$WORK/edge-tenant-limited added
  rm -rf "$limited"; cp -a "$OUT/e2e-edge/edge/tenant" "$limited"
  tcp_edge "$E2E_K8S_VERSION" > "$REPO/tenants/edge.yaml"
  render_repo "$REPO" 2> "$WORK/render-write-limits.log" || { cat "$WORK/render-write-limits.log" >&2; return 1; }
  diff -r "$before/tenant" "$OUT/e2e-edge/edge/tenant" >&2 || { log "the tenant bundle did not return to its previous state"; return 1; }
  added=$(comm -13 <(ls "$before/tenant") <(ls "$limited"))
  log "edge: writePermissions added $(echo $added)"
  [[ $(grep -lx 'kind: ValidatingAdmissionPolicy' $(printf "$limited/%s " $added) | wc -l) == 2 ]]
  (cd "$limited" && kubectl --kubeconfig "$skc" delete -f $(printf '%s,' $added | sed 's/,$//')) > /dev/null
  wait_for "edge accepting creates again" 30 kubectl --kubeconfig "$kc" -n default create configmap e2e-thawed
  kubectl --kubeconfig "$kc" -n default delete configmap e2e-thawed > /dev/null
}

read_as() {
  local uid=$1 gid=$2 file=$3
  ( exec 3< "$(dirname "$file")" &&
    setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all \
      head -c 1 "/dev/fd/3/$(basename "$file")" ) > /dev/null 2>&1
}

# The rendered control planes run hardened, in namespaces that enforce Pod Security
# "restricted": each process of every control-plane container (seen from the host through
# /proc) has UID/GID 65532, no capabilities, no_new_privs, a seccomp filter, a read-only root
# filesystem and no service-account token; its key files are root-owned, group 65532 (fsGroup),
# mode 0640 (the Secret's 0600 plus the group read the kubelet adds for fsGroup). A process with
# UID and GID 65532 and no privilege reads them; the same UID with another GID cannot (so it
# is the fsGroup that grants it). And the namespaces refuse a non-compliant pod.
s_hardening() {
  local t ns tcp pod c pid st f bad=0 want
  for t in "${TENANTS[@]}"; do
    ns=$(ns_of "$t"); tcp=$(tcp_of "$t")
    [[ $(kubectl get namespace "$ns" -o jsonpath='{.metadata.labels.pod-security\.kubernetes\.io/enforce}') == restricted ]] ||
      { log "$ns does not enforce restricted"; bad=1; }
    pod=$(kubectl -n "$ns" get pods -l "kamaji.clastix.io/name=$tcp" --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')
    for c in kube-apiserver kube-controller-manager kube-scheduler; do
      pid=$(container_pid "$ns" "$pod" "$c") || true
      [[ -n $pid ]] || { log "$t: no task for $c"; bad=1; continue; }
      st=/proc/$pid/status
      # per-container RSS (the default memory requests in src/resolve/hardening.rs are sized on it)
      timing "rss_mb_${tcp}_$c" $(( $(rss_of_pids_kb "$pid") / 1024 ))
      want="$UID_CP $UID_CP $UID_CP $UID_CP"
      [[ $(awk '/^Uid:/ {print $2, $3, $4, $5}' "$st") == "$want" ]] || { log "$t $c: $(grep '^Uid:' "$st")"; bad=1; }
      [[ $(awk '/^Gid:/ {print $2, $3, $4, $5}' "$st") == "$want" ]] || { log "$t $c: $(grep '^Gid:' "$st")"; bad=1; }
      grep -Eq "^Groups:.*\b$UID_CP\b" "$st" || { log "$t $c: fsGroup not among $(grep '^Groups:' "$st")"; bad=1; }
      grep -Eq '^CapEff:\s+0+$' "$st" || { log "$t $c: $(grep '^CapEff:' "$st")"; bad=1; }
      grep -Eq '^CapPrm:\s+0+$' "$st" || { log "$t $c: $(grep '^CapPrm:' "$st")"; bad=1; }
      grep -Eq '^NoNewPrivs:\s+1$' "$st" || { log "$t $c: privilege escalation possible"; bad=1; }
      grep -Eq '^Seccomp:\s+2$' "$st" || { log "$t $c: no seccomp filter ($(grep '^Seccomp:' "$st"))"; bad=1; }
      [[ $(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | cut -d, -f1) == ro ]] || { log "$t $c: root filesystem writable"; bad=1; }
      [[ ! -e /proc/$pid/root/var/run/secrets/kubernetes.io/serviceaccount ]] || { log "$t $c: a service-account token is mounted"; bad=1; }
      for f in ${KEY_FILES[$c]}; do
        [[ $(stat -L -c '%u %g %a' "/proc/$pid/root$f") == "0 $UID_CP 640" ]] ||
          { log "$t $c: $f is $(stat -L -c 'uid %u gid %g mode %a' "/proc/$pid/root$f")"; bad=1; }
        read_as "$UID_CP" "$UID_CP" "/proc/$pid/root$f" || { log "$t $c: UID/GID $UID_CP cannot read $f"; bad=1; }
        if read_as "$UID_CP" $(( UID_CP + 1 )) "/proc/$pid/root$f"; then
          log "$t $c: $f is readable without the fsGroup's GID: the check is void"; bad=1
        fi
      done
    done
    (( bad == 0 )) && log "$t: pod $pod: 3 containers as $UID_CP:$UID_CP, no caps, no_new_privs, seccomp, ro root, no SA token; keys 0640 root:$UID_CP, readable via fsGroup only"
  done
  # negative control: the namespace really enforces (a root pod is refused)
  if kubectl -n e2e-edge run e2e-not-restricted --image=localhost/tcpc-e2e/probe:v1 --image-pull-policy=Never --restart=Never \
      --dry-run=server -o name > "$WORK/not-restricted.log" 2>&1; then
    log "a pod violating Pod Security restricted was admitted in e2e-edge: the check is void"; bad=1
  else
    grep -q 'violates PodSecurity "restricted' "$WORK/not-restricted.log" || { cat "$WORK/not-restricted.log" >&2; bad=1; }
  fi
  (( bad == 0 ))
}

# kube_router_down: stop the NetworkPolicy enforcer and remove its iptables rules and ipsets
# (--cleanup-config removes the rules, then crashes in its service-proxy cleanup, which never
# ran here, before the policy ipsets KUBE-SRC-*/KUBE-DST-* go: those are destroyed here).
kube_router_down() {
  [[ -f $DIR/kube-router.pid ]] || return 0
  local pid i; pid=$(cat "$DIR/kube-router.pid")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
  "$(peers_bin_dir)/kube-router" --cleanup-config > "$DIR/kube-router-cleanup.log" 2>&1 || true
  # What --cleanup-config leaves: every jump into kube-router's chains, then the chains.
  local table chains c
  for table in filter mangle nat; do
    iptables -w -t "$table" -S | grep -E -- '-j KUBE-(NWPLCY|POD-FW|ROUTER)' | sed 's/^-A /-D /' |
      while read -r rule; do eval "iptables -w -t $table $rule" 2>/dev/null || true; done || true
    chains=$(iptables -w -t "$table" -S | awk '$1 == "-N" && $2 ~ /^KUBE-(NWPLCY|POD-FW|ROUTER)/ {print $2}') || true
    for c in $chains; do iptables -w -t "$table" -F "$c" 2>/dev/null || true; done
    for c in $chains; do iptables -w -t "$table" -X "$c" 2>/dev/null || true; done
  done
  for i in 1 2 3 4 5; do
    ipset list -n 2>/dev/null | grep -E '^KUBE-(SRC|DST)-' | xargs -r -n1 ipset destroy 2>/dev/null || true
    ipset list -n 2>/dev/null | has -E '^KUBE-(SRC|DST)-' || break
    sleep 1
  done
  rm -f "$DIR/kube-router.pid"
}

# kube_router_up: kube-router enforcing NetworkPolicies on the management node (firewall only).
kube_router_up() {
  local bin; bin=$(peers_bin_dir)/kube-router
  [[ -x $bin ]] || { log "no $bin (tools/peers.sh kube-router)"; return 1; }
  "$bin" --kubeconfig "$KUBECONFIG" --hostname-override "$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}')" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false --health-port 0 \
    > "$DIR/kube-router.log" 2>&1 &
  echo $! > "$DIR/kube-router.pid"
}

# np_probe URL: from the probe pod of e2e-np, one HTTPS request (any status, 3 s timeout).
np_probe() { kubectl -n e2e-np exec np-probe -- /usr/local/bin/probe -insecure -expect-status 0 -timeout 3s "$1" > /dev/null 2>&1; }

s_network_policy() {
  local bin ns=e2e-alpha tcp=alpha ip kc=$WORK/alpha-np-super-admin.conf
  bin=$(peers_bin_dir)/kube-router
  [[ -x $bin ]] || { log "no $bin (tools/peers.sh kube-router)"; return 1; }
  kubectl -n "$ns" get networkpolicy "$tcp-control-plane" -o name > /dev/null || { log "alpha has no NetworkPolicy"; return 1; }
  ip=$(kubectl -n "$ns" get pods -l "kamaji.clastix.io/name=$tcp" --field-selector=status.phase=Running -o jsonpath='{.items[0].status.podIP}')
  kubectl create namespace e2e-np > /dev/null
  kubectl -n e2e-np run np-probe --image=localhost/tcpc-e2e/probe:v1 --image-pull-policy=Never --restart=Never \
    --command -- /usr/local/bin/probe -sleep 0 > /dev/null
  kubectl -n e2e-np wait --for=condition=Ready pod/np-probe --timeout=60s > /dev/null
  # Without an enforcer the policy is inert: the controller-manager port answers any pod.
  np_probe "https://$ip:10257/healthz" || { log "kube-controller-manager of alpha unreachable without a policy: the check is void"; return 1; }
  kube_router_up
  local t0 closed=0; t0=$(now)
  for _ in $(seq 1 60); do
    if ! np_probe "https://$ip:10257/healthz"; then closed=1; break; fi
    sleep 1
  done
  (( closed )) || { log "kube-router did not close alpha's controller-manager port within 60 s"; tail -n 30 "$DIR/kube-router.log" >&2; return 1; }
  timing network_policy_enforced "$(elapsed "$t0")"
  np_probe "https://$ip:10259/healthz" && { log "alpha's scheduler port is open to other pods"; return 1; }
  np_probe "https://$ip:6443/readyz" || { log "alpha's API server port is closed to other pods"; return 1; }
  tenant_ca "$ns" "$tcp" "$WORK/$tcp-ca.crt"
  readyz_via_clusterip "$ns" "$tcp" "$WORK/$tcp-ca.crt" || { log "alpha /readyz failed under its NetworkPolicy"; return 1; }
  "$TCPC_BIN" kubeconfig "$ns/$tcp" --user super-admin --dir "$REPO" --identity "$REPO/../age-identity.txt" -o "$kc"
  kubectl --kubeconfig "$kc" --request-timeout=10s create configmap e2e-np-write -n default > /dev/null ||
    { log "alpha cannot write to its DataStore under its NetworkPolicy"; return 1; }
  # the probes of the management kubelet (the pod's own node) still pass
  sleep 12
  [[ $(kubectl -n "$ns" get pods -l "kamaji.clastix.io/name=$tcp" -o jsonpath='{.items[0].status.containerStatuses[*].ready}') == "true true true" ]] ||
    { log "alpha's containers turned unready under the policy"; kubectl -n "$ns" get pods -o wide >&2; return 1; }
  log "network-policy: with kube-router enforcing, another namespace's pod no longer reaches alpha's controller-manager/scheduler ports, still its API server; alpha serves and writes"
  kubectl delete namespace e2e-np --wait=false > /dev/null
  kube_router_gone
}

# kube_router_gone: stop kube-router and check none of its iptables rules and ipsets is left.
kube_router_gone() {
  kube_router_down
  if iptables-save | has -E 'KUBE-(ROUTER|NWPLCY|POD-FW)'; then log "kube-router's iptables rules outlived it"; return 1; fi
  if ipset list -n | has -E '^KUBE-(SRC|DST)-'; then
    log "kube-router's ipsets outlived it"; iptables-save | grep -- '--match-set' >&2; ipset list | grep -E '^(Name|References)' >&2; return 1
  fi
}

# poll_readyz NS TCP CA OUT STOPFILE: GET /readyz through the ClusterIP every 200 ms until STOPFILE.
poll_readyz() {
  local ns=$1 tcp=$2 ca=$3 out=$4 stop=$5 ip port code
  ip=$(cluster_ip "$ns" "$tcp"); port=$(kubectl -n "$ns" get service "$tcp" -o jsonpath='{.spec.ports[0].port}')
  : > "$out"
  while [[ ! -e $stop ]]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert "$ca" \
      --resolve "$tcp.$ns.svc:$port:$ip" "https://$tcp.$ns.svc:$port/readyz" 2>/dev/null) || true
    printf '%s %s\n' "$(date +%s.%N)" "${code:-000}" >> "$out"
    sleep 0.2
  done
}

# The upgrade: alpha from the older release it started at to the cluster's, then on to the newest
# minor tcpc accepts when its images were built (KUBERNETES_EXTRA_VERSIONS newer than the
# cluster's: v1.37.2), one minor per hop as Kubernetes requires; /readyz polled through each roll.
s_upgrade() {
  local newer
  upgrade_hop "${UPGRADE_FROM:-}" "$E2E_K8S_VERSION" ""
  newer=$(newer_release_with_images)
  [[ -z $newer ]] || upgrade_hop "$E2E_K8S_VERSION" "$newer" "_to_$newer"
}

# newer_release_with_images: the newest KUBERNETES_EXTRA_VERSIONS release above the cluster's whose
# control-plane images the cluster has, or nothing.
newer_release_with_images() {
  local v refs newest=""
  refs=$(ctr --address "$E2E_CONTAINERD_SOCK" -n k8s.io images ls -q)
  for v in $(kubernetes_extra_versions); do
    [[ $v != "$E2E_K8S_VERSION" && $(printf '%s\n' "$E2E_K8S_VERSION" "$v" | sort -V | tail -n 1) == "$v" ]] || continue
    [[ -z $newest || $(printf '%s\n' "$newest" "$v" | sort -V | tail -n 1) == "$v" ]] || continue
    grep -qx "registry.k8s.io/kube-apiserver:$v" <<< "$refs" &&
      grep -qx "registry.k8s.io/kube-controller-manager:$v" <<< "$refs" &&
      grep -qx "registry.k8s.io/kube-scheduler:$v" <<< "$refs" && newest=$v
  done
  [[ -z $newest ]] || echo "$newest"
}

# upgrade_hop FROM TO SUFFIX: alpha re-rendered at TO (FROM empty: a spec change instead), applied,
# rolled out with /readyz polled through the ClusterIP; timings named upgrade_*SUFFIX.
upgrade_hop() {
  local from=$1 to=$2 sfx=$3 change
  if [[ -n $from ]]; then
    change="version $from -> $to"
    tcp_alpha "$to" > "$REPO/tenants/alpha.yaml"
  else
    change="spec change (no second Kubernetes version built): apiServer extraArgs --v=2"
    note "NOTE upgrade: no KUBERNETES_EXTRA_VERSIONS images; rolled alpha by an extraArgs change instead"
    tcp_alpha "$to" | sed 's/^      replicas: 2$/      replicas: 2\n      extraArgs:\n        apiServer:\n        - --v=2/' > "$REPO/tenants/alpha.yaml"
  fi
  render_repo "$REPO" 2> "$WORK/render-upgrade$sfx.log" || { cat "$WORK/render-upgrade$sfx.log" >&2; return 1; }
  local old_rs stop=$WORK/poll$sfx.stop log_=$WORK/poll$sfx.log t0
  old_rs=$(kubectl -n e2e-alpha get pods -l kamaji.clastix.io/name=alpha -o jsonpath='{.items[*].metadata.labels.pod-template-hash}')
  rm -f "$stop"
  poll_readyz e2e-alpha alpha "$WORK/alpha-ca.crt" "$log_" "$stop" &
  local poller=$!
  sleep 2
  t0=$(now)
  kubectl apply -k "$(mgmt_dir e2e-alpha/alpha)" > "$WORK/apply-upgrade$sfx.log"
  kubectl -n e2e-alpha rollout status deployment/alpha --timeout=240s >/dev/null
  timing "upgrade_rollout$sfx" "$(elapsed "$t0")"
  # keep polling until every old pod is gone (terminating ones still serve or refuse)
  wait_for "old alpha pods gone" 120 bash -c "[[ \$(kubectl -n e2e-alpha get pods -l kamaji.clastix.io/name=alpha -o name | wc -l) == 2 ]]"
  sleep 3
  touch "$stop"; wait "$poller" || true
  timing "upgrade_rollout_to_old_pods_gone$sfx" "$(elapsed "$t0")"
  local total fails
  total=$(wc -l < "$log_"); fails=$(awk '$2 != "200"' "$log_" | wc -l)
  timing "upgrade_polls$sfx" "$total"
  timing "upgrade_poll_failures$sfx" "$fails"
  log "$change: $total polls of /readyz through the ClusterIP, $fails failed (old pods: $old_rs)"
  if (( fails > 0 )); then awk '$2 != "200"' "$log_" | sed -n 1,20p >&2; fi
  local images
  images=$(kubectl -n e2e-alpha get deployment alpha -o jsonpath='{.spec.template.spec.containers[*].image}')
  [[ -z $from ]] || [[ $images == *"kube-apiserver:$to"* && $images == *"kube-scheduler:$to"* && $images == *"kube-controller-manager:$to"* ]]
  local v
  v=$(curl -sS --fail --max-time 2 --cacert "$WORK/alpha-ca.crt" "https://$ALPHA_ADDR:6443/version" | jq -r .gitVersion)
  log "alpha now serves $v"
  [[ $v == "$to" ]]
  (( total >= 20 && fails == 0 ))
}

s_delete() {
  local t ns tcp left types
  types=$(kubectl api-resources --verbs=list --namespaced -o name | grep -v '^events' | paste -sd, -)
  for t in "${TENANTS[@]}"; do
    ns=$(ns_of "$t"); tcp=$(tcp_of "$t")
    kubectl delete -k "$(mgmt_dir "$t")" --wait=true --timeout=120s >/dev/null
    wait_for "pods of $t gone" 90 bash -c "[[ -z \$(kubectl -n $ns get pods -l kamaji.clastix.io/name=$tcp -o name) ]]"
    wait_for "Secrets of $t gone" 30 bash -c "[[ -z \$(kubectl -n $ns get secrets -l kamaji.clastix.io/name=$tcp -o name) ]]"
    left=$(kubectl -n "$ns" get "$types" -o name 2>/dev/null |
      grep -v -E '^(configmap/kube-root-ca.crt|serviceaccount/default|configmap/e2e-internal-ca|secret/e2e-oidc|[a-z0-9.]+/e2e-oidc(-[a-z0-9]+)*$)' || true)
    if [[ -n $left ]]; then log "$t: left in $ns:"; printf '%s\n' "$left" >&2; return 1; fi
    log "$t: nothing of the tenant left in $ns"
  done
}

s_teardown() {
  trap - EXIT
  kine_servers_down
  local t0; t0=$(now)
  "$cluster" down "$DIR"
  timing cluster_down "$(elapsed "$t0")"
}

main() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  rm -rf "$WORK"; mkdir -p "$WORK"
  : > "$DIR/timings"; : > "$WORK/notes"
  trap cleanup EXIT
  local t_all; t_all=$(now)
  build_tcpc
  TOOLS=$("$repo_root/tools/e2e/images.sh" tools)
  cluster_up
  UPGRADE_FROM=$(upgrade_from)
  log "alpha starts at ${UPGRADE_FROM:-$E2E_K8S_VERSION}, upgrade target $E2E_K8S_VERSION, then $(newer_release_with_images)"
  test_pki
  sealed_secrets_controller
  events_etcd_up
  # render and apply are prerequisites of everything after them
  scenario render s_render
  if (( LAST_RC == 0 )); then scenario apply s_apply; fi
  if (( LAST_RC == 0 )); then
    scenario service s_service
    scenario kubeconfig s_kubeconfig
    scenario worker-join s_worker_join
    scenario sa-rotation s_sa_rotation
    scenario worker-konnectivity s_worker_konnectivity
    scenario internal-ca s_internal_ca
    scenario datastore-override s_datastore_override
    scenario write-limits s_write_limits
    scenario hardening s_hardening
    scenario companion s_companion
    scenario certificates-expiring s_certificates_expiring
    scenario companion-rotation s_companion_rotation
    scenario upgrade s_upgrade
    scenario kine-postgresql s_kine_postgresql
    scenario kine-nats s_kine_nats
    scenario kine-mysql s_kine_mysql
    scenario etcd-isolation s_etcd_isolation
    scenario dedicated-etcd s_dedicated_etcd
    scenario network-policy s_network_policy
    scenario delete s_delete
  fi
  if [[ ${E2E_KEEP:-0} != 1 ]]; then scenario teardown s_teardown; fi
  timing e2e_total "$(elapsed "$t_all")"
  log "==== summary (E2E_BREAK=${E2E_BREAK:-none} E2E_FIX=${E2E_FIX:-none})"
  cat "$WORK/notes" >&2
  grep '^TIMING' "$DIR/timings" >&2 || true
  # the results come last: a CI report that shows only the tail of the log still names the failure
  printf '%s\n' "${RESULTS[@]}" >&2
  (( FAILED == 0 )) || die "some scenarios failed: $(printf '%s\n' "${RESULTS[@]}" | awk '$1 == "FAIL" {printf "%s ", $2}')"
  log "TENANT SCENARIOS PASSED"
}

# sourced by tests/e2e/bench.sh for its helpers
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main; fi
