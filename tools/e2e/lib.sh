# shellcheck shell=bash
# Shared helpers for the e2e harness scripts (sourced, not run).

e2e_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
e2e_repo=$(cd "$e2e_here/../.." && pwd)

log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
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
