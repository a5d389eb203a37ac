# Sourced by tests/e2e/tenants.sh and tests/e2e/flux.sh: a worker host (tools/e2e/worker.sh)
# joining a rendered tenant with the line `tcpc join-command --create-token` prints.
# Expects DIR, WORK, REPO, OUT, TCPC_BIN and repo_root; AGE_IDENTITY (default
# REPO/../age-identity.txt) decrypts the super-admin kubeconfig when the harness applies the
# tenant bundle itself (WORKER_TENANT_BUNDLE=apply, the default; `delivered`: GitOps applied it).

ns_of() { printf '%s\n' "${1%%/*}"; }
tcp_of() { printf '%s\n' "${1##*/}"; }

# admin_conf NS TCP FILE: the admin.conf of the Secret the controller unsealed.
admin_conf() {
  wait_for "Secret $1/$2-admin-kubeconfig" 60 kubectl -n "$1" get secret "$2-admin-kubeconfig"
  kubectl -n "$1" get secret "$2-admin-kubeconfig" -o jsonpath='{.data.admin\.conf}' | base64 -d > "$3"
  grep -q 'client-certificate-data' "$3"
}

worker() { "$repo_root/tools/e2e/worker.sh" "$1" "$DIR" w1 "${@:2}"; }
WORKER_NODE=tcpc-e2e-w1

# worker_join NS/TCP ADDR: apply the tenant bundle (what kubeadm join reads; unless
# WORKER_TENANT_BUNDLE=delivered), have tcpc print the join line (token created in the tenant),
# bring the worker up with WORKER_IMAGES, run the line, give the node its podCIDR's CNI, wait for
# Ready. Sets JOIN_T0; admin.conf in $WORK/<tcp>-admin.conf.
worker_join() {
  local t=$1 addr=$2 ns tcp kc skc version join cidr
  ns=$(ns_of "$t"); tcp=$(tcp_of "$t"); kc=$WORK/$tcp-admin.conf; skc=$WORK/$tcp-super-admin.conf
  version=$(kubectl -n "$ns" get deployment "$tcp" -o jsonpath='{.spec.template.spec.containers[?(@.name=="kube-apiserver")].image}')
  version=${version##*:}
  [[ -s $kc ]] || admin_conf "$ns" "$tcp" "$kc"
  if [[ ${WORKER_TENANT_BUNDLE:-apply} == apply ]]; then
    [[ -s $skc ]] || "$TCPC_BIN" kubeconfig "$t" --user super-admin --dir "$REPO" --identity "${AGE_IDENTITY:-$REPO/../age-identity.txt}" -o "$skc"
    kubectl --kubeconfig "$skc" --request-timeout=10s apply -k "$OUT/$t/tenant" > "$WORK/worker-tenant-apply-$tcp.log"
  fi
  if kubectl --kubeconfig "$kc" -n kube-system get configmap kube-proxy >/dev/null 2>&1; then
    # The one change for this harness: the worker is a network namespace, not a VM, and the
    # kernel refuses nf_conntrack_max writes outside the initial one; kubeadm's kube-proxy
    # configuration (maxPerCore unset: 32768 per core, at least 131072) would lower the host's
    # value and exit on the refusal. maxPerCore 0 leaves it alone, as the harness's kube-proxy does.
    kubectl --kubeconfig "$kc" -n kube-system get configmap kube-proxy -o json |
      jq '.data["config.conf"] |= sub("\n  maxPerCore: null\n"; "\n  maxPerCore: 0\n")' > "$WORK/kube-proxy-cm.json"
    jq -r '.data["config.conf"]' "$WORK/kube-proxy-cm.json" | has -x '  maxPerCore: 0' ||
      { log "$t's kube-proxy configuration has no 'maxPerCore: null' to adjust"; return 1; }
    kubectl --kubeconfig "$kc" apply -f "$WORK/kube-proxy-cm.json" >/dev/null
  fi
  # a Node left by a scenario that failed before its worker_leave would make kubeadm refuse the join
  kubectl --kubeconfig "$kc" delete node "$WORKER_NODE" --ignore-not-found >/dev/null
  join=$("$TCPC_BIN" join-command "$t" "$REPO" --create-token --kubeconfig "$kc" --ttl 1h)
  [[ $join =~ ^kubeadm\ join\ $addr:6443\ --token\ [a-z0-9]{6}\.[a-z0-9]{16}\ --discovery-token-ca-cert-hash\ sha256:[0-9a-f]{64}$ ]] ||
    { log "unexpected join command shape: ${join//--token */--token <redacted>}"; return 1; }
  worker up
  JOIN_T0=$(now)
  # shellcheck disable=SC2086
  worker join "$version" $join
  timing "worker_kubeadm_join_$tcp" "$(elapsed "$JOIN_T0")"
  wait_for "podCIDR of $WORKER_NODE" 60 \
    test -n "$(kubectl --kubeconfig "$kc" get node "$WORKER_NODE" -o jsonpath='{.spec.podCIDR}' 2>/dev/null)" || true
  cidr=$(kubectl --kubeconfig "$kc" get node "$WORKER_NODE" -o jsonpath='{.spec.podCIDR}')
  [[ -n $cidr ]] || { log "$WORKER_NODE got no podCIDR from $t's controller-manager"; return 1; }
  worker cni "$cidr"
  kubectl --kubeconfig "$kc" wait node "$WORKER_NODE" --for=condition=Ready --timeout=120s >/dev/null
  timing "worker_join_to_node_ready_$tcp" "$(elapsed "$JOIN_T0")"
  log "$WORKER_NODE Ready in $t (podCIDR $cidr, kubelet $version)"
}

# worker_leave KUBECONFIG: remove the worker and its Node.
worker_leave() {
  worker down
  trap - EXIT
  kubectl --kubeconfig "$1" delete node "$WORKER_NODE" >/dev/null
}

