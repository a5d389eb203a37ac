# shellcheck shell=bash
# Shared helpers for the e2e harness scripts (sourced, not run).

e2e_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
e2e_repo=$(cd "$e2e_here/../.." && pwd)

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# has GREP-ARGS...: grep that reads its whole input. Under pipefail, `producer | grep -q PATTERN`
# fails at random: grep exits at the first match, and a producer still writing (kubectl logs,
# curl) dies of SIGPIPE, which pipefail reports as the pipeline's status.
has() { grep "$@" > /dev/null; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# peers_bin_dir: where tools/peers.sh puts kube-*, kubectl, kubeseal, controller.
# TCPC_E2E_BIN_DIR overrides (e.g. binaries built elsewhere).
peers_bin_dir() {
  if [[ -n ${TCPC_E2E_BIN_DIR:-} ]]; then
    printf '%s\n' "$TCPC_E2E_BIN_DIR"
  else
    "$e2e_repo/tools/peers.sh" --bin-dir
  fi
}

# kubernetes_version: the pinned release (tools/peers/versions.env).
kubernetes_version() {
  (source "$e2e_repo/tools/peers/versions.env" && printf '%s\n' "$KUBERNETES_VERSION")
}
# kubernetes_extra_versions: KUBERNETES_EXTRA_VERSIONS, one per line (may be empty).
kubernetes_extra_versions() {
  (source "$e2e_repo/tools/peers/versions.env" && printf '%s\n' ${KUBERNETES_EXTRA_VERSIONS:-})
}
sealed_secrets_version() {
  (source "$e2e_repo/tools/peers/versions.env" && printf '%s\n' "$SEALED_SECRETS_VERSION")
}

# The sandbox (pause) image containerd's sandbox_image names (kubeadm v1.36 uses 3.10.2;
# images.sh tags ours :3.10 as well).
E2E_PAUSE_IMAGE=${E2E_PAUSE_IMAGE:-registry.k8s.io/pause:3.10.2}

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: retry COMMAND every 0.25 s.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.25
  done
}

# ---- shared by the scenario scripts (tests/e2e/tenants.sh, flux.sh) ------------------------
# They set repo_root, cluster (tools/e2e/cluster.sh), DIR and WORK, and define step and timing.

# build_tcpc: TCPC_BIN, or a debug build of this checkout.
build_tcpc() {
  if [[ -z ${TCPC_BIN:-} ]]; then
    (cd "$repo_root" && cargo build -q --bin tcpc)
    TCPC_BIN=${CARGO_TARGET_DIR:-$repo_root/target}/debug/tcpc
  fi
  # the companion's image (tools/e2e/images.sh): the binary beside tcpc (`cargo test --workspace`
  # builds both), else a debug build of this checkout
  if [[ -z ${TCPC_COMPANION_BIN:-} ]]; then
    TCPC_COMPANION_BIN=$(dirname "$TCPC_BIN")/tcpc-companion
    if [[ ! -x $TCPC_COMPANION_BIN ]]; then
      (cd "$repo_root" && cargo build -q -p tcpc-companion)
      TCPC_COMPANION_BIN=${CARGO_TARGET_DIR:-$repo_root/target}/debug/tcpc-companion
    fi
  fi
  export TCPC_BIN TCPC_COMPANION_BIN
}

# cluster_up: the harness cluster in DIR, its env (KUBECONFIG, E2E_*), the peers on PATH, and every
# image imported (`up` imports in the background; this waits and fills gaps).
cluster_up() {
  step "cluster up in $DIR"
  local t0; t0=$(now)
  "$cluster" up "$DIR"
  eval "$("$cluster" env "$DIR")"
  BIN=$(peers_bin_dir)
  PATH=$BIN:$PATH
  export PATH KUBECONFIG
  "$repo_root/tools/e2e/images.sh" import "$DIR" 2> "$WORK/images.log" || { cat "$WORK/images.log" >&2; die "image import failed"; }
  timing cluster_up_and_images "$(elapsed "$t0")"
}

# older_release_with_images: the first KUBERNETES_EXTRA_VERSIONS release (other than the
# cluster's) whose control-plane images the cluster has, or nothing.
older_release_with_images() {
  local v refs
  refs=$(ctr --address "$E2E_CONTAINERD_SOCK" -n k8s.io images ls -q)
  for v in $(kubernetes_extra_versions); do
    [[ $v == "$E2E_K8S_VERSION" ]] && continue
    grep -qx "registry.k8s.io/kube-apiserver:$v" <<< "$refs" &&
      grep -qx "registry.k8s.io/kube-controller-manager:$v" <<< "$refs" &&
      grep -qx "registry.k8s.io/kube-scheduler:$v" <<< "$refs" && { echo "$v"; return; }
  done
  return 0
}
