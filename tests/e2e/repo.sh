# shellcheck shell=bash
# Build the tcpc test repository used by tests/e2e/tenants.sh (sourced, not run).
#
# make_repo REPO ETCD_HOSTPORT ETCD_CA ETCD_CA_KEY SEALING_CERT INTERNAL_CA_CRT ALPHA_VERSION
#   writes REPO/tcpc.yaml (fresh age identity in REPO/../age-identity.txt), the DataStore
#   `default`, the CA import, and the TenantControlPlanes:
#     e2e-alpha/alpha     ClusterIP, replicas 2, address $ALPHA_ADDR exposed as externalIP; addons
#                         CoreDNS and kube-proxy (they run on the worker-join scenario's worker)
#     e2e-edge/edge       NodePort $EDGE_PORT, address 127.0.0.1, replicas 1
#     e2e-trust/trusting  ClusterIP, internalCACertificatesConfigMap, OIDC issuer $OIDC_ISSUER, konnectivity,
#                         CoreDNS and kube-proxy (the worker-konnectivity scenario's worker runs all three);
#                         with E2E_EVENTS_ETCD (host:port of an etcd of the same CA) its /events
#                         are stored there (spec.dataStoreOverrides, DataStore `events`)
#   E2E_BREAK (comma list) renders deliberately broken variants, to show checks fail:
#     address      alpha without allowAddressAsExternalIP (its address leads nowhere)
#     san          alpha's certificate without the address: address is only reachable via a
#                  different name (advertiseAddress differs, certSANs lack it) -- see README
#     internal-ca  trusting without internalCACertificatesConfigMap
#     bind         alpha's kube-controller-manager with kubeadm's --bind-address=127.0.0.1: the
#                  kubelet probes the pod IP, so the pod never gets Ready (`apply` must fail) --
#                  why tcpc keeps 0.0.0.0 (src/resolve/args.rs, COMPONENT_BIND_ADDRESS)
#
# Addresses (see tests/e2e/README.md, "Tenant scenarios"):
ALPHA_ADDR=${ALPHA_ADDR:-10.213.0.11}     # on the veth subnet; kube-proxy DNATs it (externalIPs)
TRUST_ADDR=${TRUST_ADDR:-10.213.0.12}
EDGE_PORT=${EDGE_PORT:-31443}
OIDC_CLUSTER_IP=${OIDC_CLUSTER_IP:-10.215.0.10} # static band of the /24: never given out dynamically first
OIDC_ISSUER=${OIDC_ISSUER:-https://$OIDC_CLUSTER_IP}
OIDC_AUDIENCE=${OIDC_AUDIENCE:-tcpc-e2e}

broken() { [[ ,${E2E_BREAK:-}, == *,$1,* ]]; }

# tcp_alpha VERSION: the ClusterIP tenant (also used to re-render for the upgrade).
tcp_alpha() {
  local version=$1 ext=true
  broken address && ext=false
  local bind=""
  broken bind && bind=$'\n      extraArgs:\n        controllerManager:\n        - --bind-address=127.0.0.1'
  cat <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: alpha
  namespace: e2e-alpha
spec:
  dataStore: default
  controlPlane:
    deployment:
      replicas: 2$bind
    service:
      serviceType: ClusterIP
  kubernetes:
    version: $version
    kubelet:
      cgroupfs: cgroupfs
  networkProfile:
    address: $ALPHA_ADDR
    allowAddressAsExternalIP: $ext
    port: 6443
    certSANs:
    - alpha.e2e.test
  addons:
    coreDNS: {}
    kubeProxy: {}
YAML
}

tcp_edge() {
  cat <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: edge
  namespace: e2e-edge
spec:
  dataStore: default
  controlPlane:
    deployment:
      replicas: 1
    service:
      serviceType: NodePort
  kubernetes:
    version: $1
    kubelet:
      cgroupfs: cgroupfs
  networkProfile:
    address: 127.0.0.1
    port: $EDGE_PORT
YAML
}

# tcp_trusting INTERNAL_CA_CRT
tcp_trusting() {
  local ca=$1
  cat <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: e2e-internal-ca
  namespace: e2e-trust
data:
  e2e-internal-ca.crt: |
$(sed 's/^/    /' "$ca")
---
apiVersion: kamaji.clastix.io/v1alpha1
kind: TenantControlPlane
metadata:
  name: trusting
  namespace: e2e-trust
spec:
  dataStore: default
YAML
  if [[ -n ${E2E_EVENTS_ETCD:-} ]]; then
    printf '  dataStoreOverrides:\n  - resource: /events\n    dataStore: events\n'
  fi
  broken internal-ca || echo "  internalCACertificatesConfigMap: e2e-internal-ca"
  cat <<YAML
  controlPlane:
    deployment:
      replicas: 1
      extraArgs:
        apiServer:
        - --oidc-issuer-url=$OIDC_ISSUER
        - --oidc-client-id=$OIDC_AUDIENCE
        - --oidc-signing-algs=ES256
        - --oidc-username-claim=sub
        - "--oidc-username-prefix=oidc:"
    service:
      serviceType: ClusterIP
  kubernetes:
    version: $2
    kubelet:
      cgroupfs: cgroupfs
  networkProfile:
    address: $TRUST_ADDR
    allowAddressAsExternalIP: true
    port: 6443
  addons:
    konnectivity: {}
    # the harness builds one CoreDNS (tools/peers.sh coredns, kubeadm's for alpha's starting
    # minor); Kamaji takes imageTag only together with imageRepository
    coreDNS:
      imageRepository: registry.k8s.io/coredns
      imageTag: $(source "$e2e_repo/tools/peers/versions.env" && printf '%s' "$COREDNS_VERSION")
    kubeProxy: {}
YAML
}

make_repo() {
  local repo=$1 etcd=$2 etcd_ca=$3 etcd_ca_key=$4 seal_cert=$5 internal_ca=$6 alpha_version=$7
  local tcpc=${TCPC_BIN:?TCPC_BIN}
  rm -rf "$repo"   # a fresh identity each time: old state would not decrypt
  mkdir -p "$repo/datastores" "$repo/tenants"
  local ident=$repo/../age-identity.txt recipient
  "$tcpc" identity > "$ident" 2> "$repo/../age-recipient.txt"
  recipient=$(grep -o 'age1[0-9a-z]*' "$repo/../age-recipient.txt" | sed -n 1p)
  [[ -n $recipient ]] || die "tcpc identity printed no recipient: $(cat "$repo/../age-recipient.txt")"
  cp "$seal_cert" "$repo/sealed-secrets.crt"
  cat > "$repo/tcpc.yaml" <<YAML
apiVersion: tcpc.dev/v1alpha1
kind: Config
output: out
pki:
  recipients:
  - $recipient
sealing:
  sealedSecrets:
    certificate: sealed-secrets.crt
YAML
  # RenderedControlPlanes for the companion (tests/e2e/tenants.sh installs it before applying)
  if [[ ${E2E_COMPANION:-0} == 1 ]]; then echo 'companion: {}' >> "$repo/tcpc.yaml"; fi
  cat > "$repo/datastores/default.yaml" <<YAML
apiVersion: kamaji.clastix.io/v1alpha1
kind: DataStore
metadata:
  name: default
spec:
  driver: etcd
  endpoints:
  - $etcd
  tlsConfig:
    certificateAuthority:
      certificate:
        secretReference:
          name: etcd-certs
          namespace: kamaji-system
          keyPath: ca.crt
YAML
  if [[ -n ${E2E_EVENTS_ETCD:-} ]]; then
    sed -e 's/^  name: default$/  name: events/' -e "s/^  - $etcd\$/  - $E2E_EVENTS_ETCD/" \
      "$repo/datastores/default.yaml" > "$repo/datastores/events.yaml"
  fi
  "$tcpc" import datastore-ca default --cert "$etcd_ca" --key "$etcd_ca_key" --dir "$repo"
  tcp_alpha "$alpha_version" > "$repo/tenants/alpha.yaml"
  tcp_edge "$E2E_K8S_VERSION" > "$repo/tenants/edge.yaml"
  tcp_trusting "$internal_ca" "$E2E_K8S_VERSION" > "$repo/tenants/trusting.yaml"
}

# render_repo REPO: tcpc render into REPO/out (age identity from make_repo).
render_repo() {
  local repo=$1
  "${TCPC_BIN:?}" render "$repo" --identity "$repo/../age-identity.txt"
}
