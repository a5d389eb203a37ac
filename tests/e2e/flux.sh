#!/usr/bin/env bash
# Flux delivery: the real source-controller and kustomize-controller (tools/peers.sh flux) apply
# a rendered tcpc repository, served over Git smart HTTP on loopback, to the e2e harness cluster.
# Needs root, the peers (tools/peers.sh kubernetes debian flux; KUBERNETES_EXTRA_VERSIONS for the
# version bump), Go, git (git http-backend), openssl, jq, curl.
#
#   tests/e2e/flux.sh [DIR]     DIR defaults to a fresh /tmp/tcpc-e2e.XXXXXX
#
# Scenarios (each PASS/FAIL in the summary; render and deliver gate the rest):
#   render    a tcpc repository with the SOPS/age backend and one tenant (e2e-flux/fluxy,
#             address 10.213.0.11 exposed as an externalIP of its ClusterIP Service; an extra
#             argument holding `${E2E_MARK}`), rendered and committed; every rendered Secret is
#             SOPS-encrypted
#   deliver   Flux CRDs, both controllers as host processes, the sops-age Secret, and what
#             `tcpc install flux` prints (URL filled in, postBuild.substitute E2E_MARK added):
#             Kustomization Ready at the commit, Deployment Available, tenant /readyz
#   secrets   the cluster's admin kubeconfig Secret is decrypted and works against the tenant;
#             postBuild substitution changed nothing of ours (`${E2E_MARK}` stays literal)
#   tenant-delivery
#             delivery.flux: the Kustomization the management bundle carries (e2e-flux/fluxy-tenant)
#             applied the tenant bundle to the tenant through its admin kubeconfig Secret: it is
#             Ready at the commit, and kubeadm's RBAC, kube-public/cluster-info and the kubeadm and
#             kubelet configs are in the tenant, labelled by Flux as its objects
#   worker-join
#             only the management bundle was applied (by Flux): a worker host joins the tenant
#             with the line `tcpc join-command --create-token` prints, and its Node turns Ready
#   rollout   the spec changed (KUBERNETES_EXTRA_VERSIONS -> KUBERNETES_VERSION, or an extra
#             argument), re-rendered, committed: Flux applies the new commit, a new ReplicaSet
#             rolls out, /readyz answers again, the change is in the pod spec
#   teardown  controllers, git server and cluster stopped
# E2E_BREAK (comma list), negative controls that prove the checks can fail:
#   age-key      sops-age holds another age identity: `deliver` must fail (decryption error)
#   substitute   the committed tree loses tcpc's substitute: disabled mark: Flux turns
#                `${E2E_MARK}` into `flux-e2e`, so `secrets` must fail
# Timings as "TIMING name value" lines in DIR/timings. E2E_KEEP=1 keeps everything running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
# shellcheck source=tools/e2e/lib.sh
source "$repo_root/tools/e2e/lib.sh"
# shellcheck source=tests/e2e/workers.sh
source "$here/workers.sh"
cluster=$repo_root/tools/e2e/cluster.sh

DIR=$(realpath -m "${1:-$(mktemp -d /tmp/tcpc-e2e.XXXXXX)}")
mkdir -p "$DIR"
WORK=$DIR/flux
REPO=$WORK/work/platform      # the work tree the test commits in
GIT_ROOT=$WORK/git            # served by gitserve: GIT_ROOT/platform.git
OUT=$REPO/rendered
E2E_K8S_VERSION=$(kubernetes_version)
NS=e2e-flux
TCP=fluxy
ADDR=${FLUX_TENANT_ADDR:-10.213.0.11}  # on the veth subnet; kube-proxy DNATs it (externalIPs)
GIT_ADDR=${FLUX_GIT_ADDR:-127.0.0.1:18419}
STORAGE_ADDR=${FLUX_STORAGE_ADDR:-127.0.0.1:18420}
FLUX_NS=flux-system
MARK='${E2E_MARK}'   # kept literal by tcpc's substitute guard; Flux would make it "flux-e2e"

broken() { [[ ,${E2E_BREAK:-}, == *,$1,* ]]; }
timing() { printf 'TIMING %s %s\n' "$1" "$2" | tee -a "$DIR/timings" >&2; }
step() { log "---- $*"; }

declare -a RESULTS=()
FAILED=0
# scenario NAME FUNCTION: run FUNCTION with errexit in a subshell; record PASS/FAIL; go on.
scenario() {
  local name=$1 fn=$2 rc t0
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
  LAST_RC=$rc
}

diagnostics() {
  {
    kubectl get pods -A -o wide
    kubectl -n "$FLUX_NS" get gitrepositories,kustomizations -o wide
    kubectl -n "$FLUX_NS" get kustomization tcpc -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'
    kubectl get events -A --sort-by=.lastTimestamp | tail -n 15
    tail -n 5 "$WORK/source-controller.log" "$WORK/kustomize-controller.log"
  } >&2 2>&1 || true
}

# ---- processes we start (pid files in WORK; stopped by pid only) ---------------------------

start_bg() { # NAME CMD...: run CMD in the background, log to WORK/NAME.log, pid to WORK/NAME.pid
  local name=$1; shift
  "$@" > "$WORK/$name.log" 2>&1 &
  echo $! > "$WORK/$name.pid"
}
stop_bg() {
  local f pid
  for f in "$WORK"/*.pid; do
    [[ -f $f ]] || continue
    pid=$(<"$f")
    kill "$pid" 2>/dev/null && { timeout 10 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null; }
    rm -f "$f"
  done
  return 0
}

cleanup() {
  local rc=$?
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    log "E2E_KEEP=1: left running (pids in $WORK/*.pid); stop with: kill \$(cat $WORK/*.pid); $cluster down $DIR"
  else
    stop_bg
    "$cluster" down "$DIR" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}

# ---- the test repository --------------------------------------------------------------------

# tcp_fluxy VERSION EXTRA: the tenant; EXTRA is one more kube-controller-manager argument.
tcp_fluxy() {
  cat <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: $TCP
  namespace: $NS
spec:
  dataStore: default
  controlPlane:
    deployment:
      replicas: 1
      extraArgs:
        controllerManager:
        - --cluster-name=tcpc-$MARK
$2
    service:
      serviceType: ClusterIP
  kubernetes:
    version: $1
    kubelet:
      cgroupfs: cgroupfs
  networkProfile:
    address: $ADDR
    allowAddressAsExternalIP: true
    port: 6443
YAML
}

git_commit() { # MESSAGE: commit everything in the work tree and publish it to the served repository
  git -C "$REPO" add -A
  git -C "$REPO" -c user.name=tcpc-e2e -c user.email=e2e@tcpc.invalid commit -q -m "$1"
  git -C "$REPO" push -q origin HEAD:main
  git -C "$REPO" rev-parse HEAD
}

render() { "$TCPC_BIN" render "$REPO" --identity "$WORK/age-identity.txt"; }

# ---- setup ----------------------------------------------------------------------------------

# start_version: the release the tenant starts at (KUBERNETES_EXTRA_VERSIONS with images), so
# the rollout is a version bump; KUBERNETES_VERSION when there is none.
start_version() {
  local v; v=$(older_release_with_images)
  echo "${v:-$E2E_K8S_VERSION}"
}

git_server() {
  step "git smart HTTP on http://$GIT_ADDR/ (git http-backend)"
  mkdir -p "$GIT_ROOT"
  git init -q --bare -b main "$GIT_ROOT/platform.git"
  start_bg gitserve "$TOOLS/gitserve" -listen "$GIT_ADDR" -root "$GIT_ROOT"
  wait_for "git server" 10 curl -sf "http://$GIT_ADDR/platform.git/info/refs?service=git-upload-pack"
}

flux_controllers() {
  step "Flux CRDs and controllers (host processes)"
  local share t0 crd
  share=$("$repo_root/tools/peers.sh" --bin-dir)/../share/flux
  [[ -d $share/source-controller && -d $share/kustomize-controller ]] || die "no Flux CRDs in $share (tools/peers.sh flux)"
  t0=$(now)
  for crd in "$share"/source-controller/*.yaml "$share"/kustomize-controller/*.yaml; do
    kubectl apply --server-side -f "$crd" >/dev/null
  done
  kubectl wait crd --all --for=condition=Established --timeout=30s >/dev/null
  kubectl create namespace "$FLUX_NS" >/dev/null
  mkdir -p "$WORK/storage"
  # RUNTIME_NAMESPACE as in Flux's own Deployments; no leader election (the default), loopback only
  start_bg source-controller env RUNTIME_NAMESPACE="$FLUX_NS" "$BIN/source-controller" \
    --storage-path="$WORK/storage" --storage-addr="$STORAGE_ADDR" --storage-adv-addr="$STORAGE_ADDR" \
    --metrics-addr=127.0.0.1:18421 --health-addr=127.0.0.1:18422 --enable-leader-election=false \
    --log-encoding=console --watch-all-namespaces=true
  start_bg kustomize-controller env RUNTIME_NAMESPACE="$FLUX_NS" "$BIN/kustomize-controller" \
    --metrics-addr=127.0.0.1:18423 --health-addr=127.0.0.1:18424 --enable-leader-election=false \
    --log-encoding=console --watch-all-namespaces=true --no-remote-bases=true
  wait_for "source-controller healthy" 30 curl -sf http://127.0.0.1:18422/readyz
  wait_for "kustomize-controller healthy" 30 curl -sf http://127.0.0.1:18424/readyz
  timing flux_controllers_ready "$(elapsed "$t0")"
}

# ---- scenarios ------------------------------------------------------------------------------

s_render() {
  local ident=$WORK/age-identity.txt recipient
  rm -rf "$REPO"
  git clone -q "$GIT_ROOT/platform.git" "$REPO" 2>/dev/null
  mkdir -p "$REPO/datastores" "$REPO/tenants"
  "$TCPC_BIN" identity > "$ident" 2> "$WORK/age-recipient.txt"
  recipient=$(grep -o 'age1[0-9a-z]*' "$WORK/age-recipient.txt" | sed -n 1p)
  [[ -n $recipient ]] || { log "tcpc identity printed no recipient"; return 1; }
  cat > "$REPO/tcpc.yaml" <<YAML
apiVersion: tcpc.dev/v1alpha1
kind: Config
output: rendered
pki:
  recipients:
  - $recipient
sealing:
  sops:
    ageRecipients:
    - $recipient
delivery:
  flux:
    # the controllers run on the host, which reaches the tenant at its address, not its Service name
    kubeconfigKey: super-admin.conf
    retryInterval: 5s
YAML
  cat > "$REPO/datastores/default.yaml" <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: default
spec:
  driver: etcd
  endpoints:
  - ${E2E_ETCD_URL#https://}
  tlsConfig:
    certificateAuthority:
      certificate:
        secretReference:
          name: etcd-certs
          namespace: kamaji-system
          keyPath: ca.crt
YAML
  "$TCPC_BIN" import datastore-ca default --cert "$E2E_ETCD_CA" --key "$E2E_ETCD_CA_KEY" --dir "$REPO" 2> "$WORK/import.log" ||
    { cat "$WORK/import.log" >&2; return 1; }
  tcp_fluxy "$START_VERSION" "" > "$REPO/tenants/$TCP.yaml"
  render 2> "$WORK/render.log" || { cat "$WORK/render.log" >&2; return 1; }
  [[ -f $OUT/kustomization.yaml && -f $OUT/$NS/$TCP/management/kustomization.yaml ]] || { log "no rendered tree"; return 1; }
  # every Secret in the tree is SOPS-encrypted: no plaintext data, sops metadata with age
  local f n=0
  while IFS= read -r f; do
    grep -q '^sops:' "$f" && grep -q 'age1' "$f" && ! grep -Eq '^  [a-z.-]+: [A-Za-z0-9+/=]{40,}$' "$f" ||
      { log "$f is not SOPS-encrypted"; return 1; }
    n=$((n + 1))
  done < <(grep -rl '^kind: Secret$' "$OUT")
  (( n > 0 )) || { log "no Secret rendered"; return 1; }
  # the object carrying ${E2E_MARK} is marked for Flux
  local marked unmarked
  marked=$(grep -rl -F "$MARK" "$OUT" || true)
  [[ -n $marked ]] || { log "no rendered file holds $MARK"; return 1; }
  unmarked=$(xargs -r grep -L 'kustomize.toolkit.fluxcd.io/substitute: disabled' <<< "$marked" || true)
  [[ -z $unmarked ]] || { log "hold \${ but carry no substitute: disabled: $unmarked"; return 1; }
  if broken substitute; then
    log "E2E_BREAK=substitute: the substitute: disabled mark removed from the committed tree"
    grep -rl 'kustomize.toolkit.fluxcd.io/substitute: disabled' "$OUT" | xargs -r sed -i '/kustomize.toolkit.fluxcd.io\/substitute: disabled/d'
  fi
  COMMIT=$(git_commit "tenant $NS/$TCP at $START_VERSION")
  echo "$COMMIT" > "$WORK/commit-1"
  log "rendered $n SOPS-encrypted Secrets; committed $COMMIT"
}

# the YAML `tcpc install flux` prints, as printed; we only add postBuild.substitute
flux_objects() {
  "$TCPC_BIN" install flux "$REPO" --url "http://$GIT_ADDR/platform.git" --branch main > "$WORK/install-flux.yaml"
  grep -q 'provider: sops' "$WORK/install-flux.yaml" || { log "no SOPS decryption in tcpc install flux"; return 1; }
  grep -q 'path: ./rendered' "$WORK/install-flux.yaml" || { log "path is not ./rendered"; return 1; }
  kubectl apply -f "$WORK/install-flux.yaml" >/dev/null
  kubectl -n "$FLUX_NS" patch kustomization tcpc --type merge \
    -p '{"spec":{"postBuild":{"substitute":{"E2E_MARK":"flux-e2e"}}}}' >/dev/null
}

# ks_wait REVISION TIMEOUT: until the Kustomization is Ready at the commit. A decryption error
# (or a missing key Secret) cannot heal by itself: stop at once.
ks_wait() {
  local want=$1 timeout=$2 deadline ready msg rev
  deadline=$(( $(date +%s) + timeout ))
  while :; do
    ready=$(kubectl -n "$FLUX_NS" get kustomization tcpc -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
    msg=$(kubectl -n "$FLUX_NS" get kustomization tcpc -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}' 2>/dev/null || true)
    rev=$(kubectl -n "$FLUX_NS" get kustomization tcpc -o jsonpath='{.status.lastAppliedRevision}' 2>/dev/null || true)
    [[ $ready == True && $rev == *"$want" ]] && { log "Kustomization Ready at $rev"; return 0; }
    if [[ $ready == False && ( $msg == *[Dd]ecrypt* || $msg == *sops-age* ) ]]; then log "Kustomization not Ready: $msg"; return 1; fi
    (( $(date +%s) < deadline )) || { log "Kustomization not Ready at $want within ${timeout}s: ready=$ready rev=$rev $msg"; return 1; }
    sleep 0.5
  done
}

tenant_ca() {
  kubectl -n "$NS" get secret "$TCP-admin-kubeconfig" -o jsonpath='{.data.admin\.conf}' | base64 -d > "$WORK/admin.conf"
  kubectl --kubeconfig "$WORK/admin.conf" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' |
    base64 -d > "$WORK/tenant-ca.crt"
}
readyz() { curl -sS --fail --max-time 2 --cacert "$WORK/tenant-ca.crt" "https://$ADDR:6443/readyz" | has -x ok; }

s_deliver() {
  local key=$WORK/age-identity.txt
  if broken age-key; then
    key=$WORK/other-age-identity.txt
    "$TCPC_BIN" identity > "$key" 2>/dev/null
    log "E2E_BREAK=age-key: $FLUX_NS/sops-age holds another age identity than the one the Secrets are encrypted to"
  fi
  kubectl -n "$FLUX_NS" create secret generic sops-age --from-file=age.agekey="$key" >/dev/null
  local t0; t0=$(now)
  flux_objects
  ks_wait "$(<"$WORK/commit-1")" 240
  timing commit_to_kustomization_ready "$(elapsed "$t0")"
  kubectl -n "$NS" wait "deployment/$TCP" --for=condition=Available --timeout=60s >/dev/null
  tenant_ca
  wait_for "tenant /readyz" 60 readyz
  timing commit_to_tenant_readyz "$(elapsed "$t0")"
  log "$NS/$TCP /readyz via its address https://$ADDR:6443 (externalIP; TLS-verified against the tenant CA)"
}

s_secrets() {
  # the Secret in the cluster is decrypted: a working kubeconfig, no sops leftovers
  kubectl -n "$NS" get secrets -o json | jq -e '[.items[] | select(.data != null) | .data[] | @base64d | select(test("ENC\\["))] | length == 0' >/dev/null ||
    { log "a Secret in $NS still holds SOPS ciphertext"; return 1; }
  local server who
  server=$(kubectl --kubeconfig "$WORK/admin.conf" config view -o jsonpath='{.clusters[0].cluster.server}')
  kubectl --kubeconfig "$WORK/admin.conf" --request-timeout=10s get --raw /readyz | has -x ok
  who=$(kubectl --kubeconfig "$WORK/admin.conf" --request-timeout=10s auth whoami -o jsonpath='{.status.userInfo.username}')
  log "admin.conf from the decrypted Secret authenticates at $server as $who"
  # postBuild substitution ran (E2E_MARK is set) and left our `${E2E_MARK}` alone
  kubectl -n "$NS" get deployment "$TCP" -o json |
    jq -e --arg a "--cluster-name=tcpc-$MARK" '[.spec.template.spec.containers[] | (.command // []) + (.args // []) | .[] | select(. == $a)] | length == 1' >/dev/null ||
    { log "the live Deployment lacks the literal --cluster-name=tcpc-$MARK; it has: $(kubectl -n "$NS" get deployment "$TCP" -o json |
        jq -r '[.spec.template.spec.containers[] | (.command // []) + (.args // []) | .[] | select(startswith("--cluster-name"))] | join(" ")')"
      return 1; }
  log "live kube-controller-manager keeps --cluster-name=tcpc-$MARK under postBuild.substitute E2E_MARK=flux-e2e"
}

s_tenant_delivery() {
  local ks=$TCP-tenant ready rev msg t0
  t0=$(now)
  wait_for "Kustomization $NS/$ks Ready" 120 bash -c "[[ \$(kubectl -n $NS get kustomization $ks -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]" || {
    kubectl -n "$NS" get kustomization "$ks" -o yaml >&2 || true
    return 1
  }
  rev=$(kubectl -n "$NS" get kustomization "$ks" -o jsonpath='{.status.lastAppliedRevision}')
  msg=$(kubectl -n "$NS" get kustomization "$ks" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
  [[ $rev == *"$(<"$WORK/commit-1")" ]] || { log "$ks applied $rev, not the commit"; return 1; }
  timing tenant_bundle_delivered_after_deliver "$(elapsed "$t0")"
  local kc=$WORK/admin.conf owner
  kubectl --kubeconfig "$kc" --request-timeout=10s get clusterrolebinding kubeadm:get-nodes kubeadm:kubelet-bootstrap >/dev/null
  kubectl --kubeconfig "$kc" --request-timeout=10s -n kube-system get configmap kubeadm-config kubelet-config >/dev/null
  owner=$(kubectl --kubeconfig "$kc" --request-timeout=10s -n kube-public get configmap cluster-info \
    -o jsonpath='{.metadata.labels.kustomize\.toolkit\.fluxcd\.io/name}/{.metadata.labels.kustomize\.toolkit\.fluxcd\.io/namespace}')
  [[ $owner == "$ks/$NS" ]] || { log "cluster-info in the tenant is not Flux's $NS/$ks object (labels: $owner)"; return 1; }
  log "tenant bundle applied by Flux Kustomization $NS/$ks at $rev ($msg)"
}

# Nothing but the management bundle was applied, by Flux; the tenant bundle Flux's Kustomization
# carried is all kubeadm join needs.
s_worker_join() {
  trap 'worker down || true' EXIT
  WORKER_TENANT_BUNDLE=delivered worker_join "$NS/$TCP" "$ADDR"
  worker_leave "$WORK/$TCP-admin.conf"
}

s_rollout() {
  local old_rs new_rs to change commit t0 images
  old_rs=$(kubectl -n "$NS" get rs -l "kamaji.clastix.io/name=$TCP" -o jsonpath='{range .items[?(@.status.replicas>0)]}{.metadata.name}{end}')
  if [[ $START_VERSION != "$E2E_K8S_VERSION" ]]; then
    to=$E2E_K8S_VERSION; change="version $START_VERSION -> $to"
    tcp_fluxy "$to" "" > "$REPO/tenants/$TCP.yaml"
  else
    to=$START_VERSION; change="extraArgs --v=2 on kube-controller-manager"
    tcp_fluxy "$to" "        - --v=2" > "$REPO/tenants/$TCP.yaml"
  fi
  render 2> "$WORK/render-2.log" || { cat "$WORK/render-2.log" >&2; return 1; }
  commit=$(git_commit "tenant $NS/$TCP: $change")
  t0=$(now)
  # what `flux reconcile source git` does (the GitRepository polls every minute otherwise)
  kubectl -n "$FLUX_NS" annotate --overwrite gitrepository tcpc "reconcile.fluxcd.io/requestedAt=$(date +%s.%N)" >/dev/null
  ks_wait "$commit" 240
  kubectl -n "$NS" rollout status "deployment/$TCP" --timeout=120s >/dev/null
  timing commit_to_rolled_out "$(elapsed "$t0")"
  new_rs=$(kubectl -n "$NS" get rs -l "kamaji.clastix.io/name=$TCP" -o jsonpath='{range .items[?(@.status.replicas>0)]}{.metadata.name}{end}')
  [[ -n $new_rs && $new_rs != "$old_rs" ]] || { log "no new ReplicaSet ($old_rs -> $new_rs)"; return 1; }
  wait_for "tenant /readyz after the rollout" 60 readyz
  timing commit_to_readyz_again "$(elapsed "$t0")"
  if [[ $START_VERSION != "$E2E_K8S_VERSION" ]]; then
    # the old pod terminates gracefully after the rollout has completed
    wait_for "pods at $START_VERSION gone" 60 bash -c "! kubectl -n $NS get pods -l kamaji.clastix.io/name=$TCP \
      -o jsonpath='{.items[*].spec.containers[*].image}' | grep -q ':$START_VERSION'"
    images=$(kubectl -n "$NS" get pods -l "kamaji.clastix.io/name=$TCP" -o jsonpath='{.items[*].spec.containers[*].image}')
    [[ $images == *"kube-apiserver:$to"* && $images == *"kube-controller-manager:$to"* && $images == *"kube-scheduler:$to"* ]] ||
      { log "pod images: $images"; return 1; }
    local v
    v=$(curl -sS --fail --max-time 2 --cacert "$WORK/tenant-ca.crt" "https://$ADDR:6443/version" | jq -r .gitVersion)
    [[ $v == "$to" ]] || { log "tenant serves $v, want $to"; return 1; }
  else
    kubectl -n "$NS" get pods -l "kamaji.clastix.io/name=$TCP" -o json |
      jq -e '[.items[].spec.containers[] | (.command // []) + (.args // []) | .[] | select(. == "--v=2")] | length > 0' >/dev/null ||
      { log "--v=2 not in the pod spec"; return 1; }
  fi
  log "Flux applied $commit ($change): ReplicaSet $old_rs -> $new_rs, /readyz answers"
}

s_teardown() {
  trap - EXIT
  local t0; t0=$(now)
  stop_bg
  "$cluster" down "$DIR"
  timing cluster_down "$(elapsed "$t0")"
}

main() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  rm -rf "$WORK"; mkdir -p "$WORK"
  : > "$DIR/timings"
  trap cleanup EXIT
  local t_all; t_all=$(now)
  build_tcpc
  "$repo_root/tools/peers.sh" flux
  TOOLS=$("$repo_root/tools/e2e/images.sh" tools)
  cluster_up
  START_VERSION=$(start_version)
  log "tenant starts at $START_VERSION"
  git_server
  flux_controllers
  scenario render s_render
  if (( LAST_RC == 0 )); then scenario deliver s_deliver; fi
  if (( LAST_RC == 0 )); then
    scenario secrets s_secrets
    scenario tenant-delivery s_tenant_delivery
    scenario worker-join s_worker_join
    scenario rollout s_rollout
  fi
  if [[ ${E2E_KEEP:-0} != 1 ]]; then scenario teardown s_teardown; fi
  timing e2e_total "$(elapsed "$t_all")"
  log "==== summary (E2E_BREAK=${E2E_BREAK:-none})"
  grep '^TIMING' "$DIR/timings" >&2 || true
  printf '%s\n' "${RESULTS[@]}" >&2
  (( FAILED == 0 )) || die "some scenarios failed: $(printf '%s\n' "${RESULTS[@]}" | awk '$1 == "FAIL" {printf "%s ", $2}')"
  log "FLUX SCENARIOS PASSED"
}

main
