#!/usr/bin/env bash
# Benchmark the tenant PKI against kubeadm, side by side, and a cold end-to-end render.
#
#   tools/bench-pki.sh                                  # ECDSA-P256 and RSA-2048, 5 rounds
#   ROUNDS=3 ALGORITHMS=ECDSA-P256 tools/bench-pki.sh
#   TCPC_N=200 KUBEADM_N=10 E2E_N=1000 E2E_ROUNDS=3 tools/bench-pki.sh
#   E2E_N=0 tools/bench-pki.sh                          # skip the end-to-end render
#
# Rounds interleave the two sides so that both see the same machine load:
#   tcpc     the release example `pki_bench`: TCPC_N tenants, each the full tenant PKI (2 CAs,
#            9 leaves incl. the DataStore client, `sa`, 5 kubeconfigs with their PEM keys), on
#            1 thread and on 2 threads -> ms per tenant;
#   kubeadm  `kubeadm init phase certs all` + `kubeadm init phase kubeconfig all` for KUBEADM_N
#            tenants (each its own config with `encryptionAlgorithm` set to the same algorithm
#            and its own directory, written before the clock starts) -> ms per tenant.
# Then E2E_ROUNDS cold renders of E2E_N new tenants (tools/gen-tenants.py: ECDSA-P256, every
# Secret sealed for the examples' 4096-bit controller key, state age-encrypted), each in a
# fresh copy of the repository.
#
# Prints one table: per row the median and the spread (min-max) over the rounds, and the
# ratio of the medians (kubeadm / tcpc). kubeadm comes from tools/peers.sh (KUBEADM= to
# override); without it the tcpc rows still print.
set -euo pipefail
cd "$(dirname "$0")/.."

ALGORITHMS=${ALGORITHMS:-ECDSA-P256 RSA-2048}
ROUNDS=${ROUNDS:-5}
TCPC_N=${TCPC_N:-100}
KUBEADM_N=${KUBEADM_N:-5}
E2E_N=${E2E_N:-1000}
E2E_ROUNDS=${E2E_ROUNDS:-3}
K8S_VERSION=${K8S_VERSION:-v1.36.3}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1795317058}
unset TCPC_AGE_IDENTITY TCPC_AGE_IDENTITY_FILE

if [[ -z "${KUBEADM:-}" ]]; then
  bindir=$(tools/peers.sh --bin-dir 2>/dev/null || true)
  if [[ -n "$bindir" && -x "$bindir/kubeadm" ]]; then
    KUBEADM="$bindir/kubeadm"
  elif command -v kubeadm >/dev/null; then
    KUBEADM=$(command -v kubeadm)
  fi
fi
KUBEADM=${KUBEADM:-}

cargo build --release -q -p tcpc-pki --example pki_bench
cargo build --release -q --bin tcpc
BENCH=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/pki_bench
TCPC=${CARGO_TARGET_DIR:-$PWD/target}/release/tcpc

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }

kubeadm_config() { # alg dir
  cat >"$2/kubeadm.yaml" <<YAML
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
encryptionAlgorithm: $1
certificatesDir: $2/pki
networking:
  serviceSubnet: 10.96.0.0/16
  dnsDomain: cluster.local
apiServer:
  certSANs: [127.0.0.1, localhost, tenant-0, tenant-0.tenants.svc, tenant-0.tenants.svc.cluster.local]
etcd:
  external:
    endpoints: [https://etcd.example.com:2379]
YAML
}

kubeadm_ms_per_tenant() { # alg n -> ms per tenant
  local alg=$1 n=$2 t0 t1 i d
  # kubeadm refuses --cert-dir together with --config ("can not mix"): one config per tenant.
  for ((i = 0; i < n; i++)); do
    d="$work/k$i"
    mkdir -p "$d/pki" "$d/kc"
    kubeadm_config "$alg" "$d"
  done
  t0=$(now_ns)
  for ((i = 0; i < n; i++)); do
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
  awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.3f", (b - a) / 1e6 / n }'
}

# stats FILE -> "median min max" of the numbers in FILE (one per line)
stats() {
  # Blank lines skipped; a trailing newline, or `read` fails at EOF and `set -e` ends the script.
  sort -g "$1" | awk 'NF { v[++n] = $1 } END { m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2; printf "%.3f %.3f %.3f\n", m, v[1], v[n] }'
}

echo "bench-pki: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "bench-pki: tcpc $("$TCPC" --version | awk '{ print $2 }'), kubeadm ${KUBEADM:+$("$KUBEADM" version -o short 2>/dev/null)}${KUBEADM:-missing}" >&2

for ((r = 1; r <= ROUNDS; r++)); do
  for alg in $ALGORITHMS; do
    out=$("$BENCH" --tenants "$TCPC_N" --algorithm "$alg" --threads 2)
    echo "$out" | awk -F'per_tenant_ms=' '/single-thread/ { split($2, a, " "); print a[1] }' >>"$work/$alg.t1"
    echo "$out" | awk -F'per_tenant_ms=' '/2-threads/ { split($2, a, " "); print a[1] }' >>"$work/$alg.t2"
    if [[ -n "$KUBEADM" ]]; then
      kubeadm_ms_per_tenant "$alg" "$KUBEADM_N" >>"$work/$alg.k" || exit 1
      echo >>"$work/$alg.k"
    fi
    echo "bench-pki: round $r/$ROUNDS $alg: tcpc 1t $(tail -1 "$work/$alg.t1") ms, 2t $(tail -1 "$work/$alg.t2") ms, kubeadm $(tail -1 "$work/$alg.k" 2>/dev/null || echo n/a) ms per tenant" >&2
  done
done

if ((E2E_N > 0)); then
  python3 tools/gen-tenants.py "$E2E_N" "$work/repo"
  for ((r = 1; r <= E2E_ROUNDS; r++)); do
    # A fresh copy per round, none removed until the end: on ext4 a file created soon after many
    # were deleted costs ~15x more (the allocator skips recently freed inodes; docs/benchmarks.md),
    # which would make each round pay for the cleanup of the one before.
    cp -a "$work/repo" "$work/run-$r"
    sync
    t0=$(now_ns)
    "$TCPC" render "$work/run-$r" --identity tests/fixtures/examples-age-identity.txt >"$work/render.log" 2>&1 || {
      echo "bench-pki.sh: render failed:" >&2
      tail -n 5 "$work/render.log" >&2
      exit 1
    }
    t1=$(now_ns)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >>"$work/e2e"
    echo "bench-pki: cold render $r/$E2E_ROUNDS of $E2E_N tenants: $(tail -1 "$work/e2e") s" >&2
  done
fi

printf '%-38s %-10s %15s %21s %15s %21s %9s\n' what algorithm "tcpc median" "tcpc min-max" "kubeadm median" "kubeadm min-max" ratio
for alg in $ALGORITHMS; do
  if [[ -s "$work/$alg.k" ]]; then
    read -r km kmin kmax < <(stats "$work/$alg.k")
  else
    km=""
  fi
  for mode in t1 t2; do
    read -r tm tmin tmax < <(stats "$work/$alg.$mode")
    what="PKI ms/tenant, $([[ $mode == t1 ]] && echo 1 thread || echo 2 threads)"
    if [[ -n "$km" ]]; then
      ratio=$(awk -v k="$km" -v t="$tm" 'BEGIN { printf "%.1fx", k / t }')
      printf '%-38s %-10s %15s %21s %15s %21s %9s\n' "$what" "$alg" "$tm" "$tmin-$tmax" "$km" "$kmin-$kmax" "$ratio"
    else
      printf '%-38s %-10s %15s %21s %15s %21s %9s\n' "$what" "$alg" "$tm" "$tmin-$tmax" n/a n/a n/a
    fi
  done
done
if [[ -s "$work/e2e" ]]; then
  read -r em emin emax < <(stats "$work/e2e")
  printf '%-38s %-10s %15s %21s %15s %21s %9s\n' "cold render of $E2E_N tenants, s" ECDSA-P256 "$em" "$emin-$emax" - - -
fi
echo "(rounds: $ROUNDS x $TCPC_N tcpc tenants and $KUBEADM_N kubeadm tenants per algorithm; cold render: $E2E_ROUNDS runs; ratio = kubeadm median / tcpc median)"
