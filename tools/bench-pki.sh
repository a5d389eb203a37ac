#!/usr/bin/env bash
# Benchmark tcpc-pki against kubeadm for the full tenant PKI.
#
#   tools/bench-pki.sh                      # ECDSA-P256, N=1 and N=1000
#   ALGORITHMS="ECDSA-P256 RSA-2048" NS="1 100" tools/bench-pki.sh
#   KUBEADM_ITERS=50 tools/bench-pki.sh     # kubeadm iterations (default: min(N, 100))
#
# Per algorithm and N it runs the release example `pki_bench` (single thread
# and 2 threads) and, side by side, `kubeadm init phase certs all` +
# `kubeadm init phase kubeconfig all` N times (capped by KUBEADM_ITERS, kubeadm
# cost is linear in N) with `encryptionAlgorithm` set to the same algorithm,
# then prints ms/tenant for both and the ratio kubeadm/tcpc.
#
# kubeadm comes from tools/peers.sh (built by another script); set KUBEADM to
# override. Without kubeadm the tcpc side still runs.
# Note: RSA-3072/4096 key generation in the pure-Rust `rsa` crate is slow
# (seconds per key); use small NS for those.
set -euo pipefail
cd "$(dirname "$0")/.."

ALGORITHMS=${ALGORITHMS:-ECDSA-P256}
NS=${NS:-1 1000}
K8S_VERSION=${K8S_VERSION:-v1.36.3}

if [[ -z "${KUBEADM:-}" ]]; then
  if [[ -x tools/peers.sh ]]; then
    bindir=$(tools/peers.sh --bin-dir 2>/dev/null || true)
    if [[ -n "$bindir" && ! -x "$bindir/kubeadm" ]]; then
      tools/peers.sh kubernetes >&2 || true
    fi
    [[ -n "$bindir" && -x "$bindir/kubeadm" ]] && KUBEADM="$bindir/kubeadm"
  fi
  if [[ -z "${KUBEADM:-}" ]] && command -v kubeadm >/dev/null; then KUBEADM=$(command -v kubeadm); fi
fi
KUBEADM=${KUBEADM:-}

cargo build --release -q -p tcpc-pki --example pki_bench
BENCH=target/release/examples/pki_bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }

kubeadm_ms_per_tenant() { # alg iterations -> ms per tenant
  local alg=$1 iters=$2 cfg="$work/kubeadm-$1.yaml"
  cat >"$cfg" <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.10
  bindPort: 6443
nodeRegistration:
  name: tenant-0
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: ${K8S_VERSION}
clusterName: tenant-0
controlPlaneEndpoint: tenant-0.example.com:6443
encryptionAlgorithm: ${alg}
certificatesDir: @CERT_DIR@
networking:
  serviceSubnet: 10.96.0.0/16
  dnsDomain: cluster.local
apiServer:
  certSANs: [127.0.0.1, localhost, tenant-0, tenant-0.tenants.svc, tenant-0.tenants.svc.cluster.local]
etcd:
  external:
    endpoints: [https://etcd.example.com:2379]
YAML
  # kubeadm refuses --cert-dir together with --config ("can not mix"), so each iteration
  # gets its own config with certificatesDir set (written before the clock starts).
  local t0 t1 i d
  for ((i = 0; i < iters; i++)); do
    d="$work/k$i"
    mkdir -p "$d/pki" "$d/kc"
    sed "s|@CERT_DIR@|$d/pki|" "$cfg" >"$d/kubeadm.yaml"
  done
  t0=$(now_ns)
  for ((i = 0; i < iters; i++)); do
    d="$work/k$i"
    if ! "$KUBEADM" init phase certs all --config "$d/kubeadm.yaml" >"$work/kubeadm.log" 2>&1 ||
      ! "$KUBEADM" init phase kubeconfig all --config "$d/kubeadm.yaml" --kubeconfig-dir "$d/kc" >"$work/kubeadm.log" 2>&1 ||
      [[ ! -s "$d/pki/apiserver.crt" || ! -s "$d/kc/super-admin.conf" ]]; then
      echo "bench-pki.sh: kubeadm failed:" >&2
      cat "$work/kubeadm.log" >&2
      return 1
    fi
  done
  t1=$(now_ns)
  rm -rf "$work"/k*
  awk -v a="$t0" -v b="$t1" -v n="$iters" 'BEGIN { printf "%.2f", (b - a) / 1e6 / n }'
}

printf '%-11s %6s %14s %14s %16s %12s\n' algorithm N tcpc_1t_ms tcpc_2t_ms kubeadm_ms ratio_1t
for alg in $ALGORITHMS; do
  for n in $NS; do
    out=$("$BENCH" --tenants "$n" --algorithm "$alg" --threads 2)
    echo "$out" | sed 's/^/# /' >&2
    t1=$(echo "$out" | awk -F'per_tenant_ms=' '/single-thread/ { split($2, a, " "); print a[1] }')
    t2=$(echo "$out" | awk -F'per_tenant_ms=' '/2-threads/ { split($2, a, " "); print a[1] }')
    if [[ -n "$KUBEADM" ]]; then
      iters=${KUBEADM_ITERS:-$((n < 100 ? n : 100))}
      k=$(kubeadm_ms_per_tenant "$alg" "$iters") || exit 1
      ratio=$(awk -v k="$k" -v t="$t1" 'BEGIN { printf "%.1fx", k / t }')
      k="$k (x$iters)"
    else
      k="n/a"; ratio="n/a"
    fi
    printf '%-11s %6s %14s %14s %16s %12s\n' "$alg" "$n" "$t1" "$t2" "$k" "$ratio"
  done
done
