#!/usr/bin/env bash
# THE project test command: build/cache the real upstream peers, then run every test
# against them (a missing peer is a failure here, not a skip).
#
#   tools/test.sh [extra cargo test args...]
#
# Cold (fresh machine): tools/peers.sh builds sops, kubeseal, the sealed-secrets
# controller, kustomize, the Kubernetes binaries, the Flux controllers and Argo CD's argocd-cmp-server
# from the Go module proxy and
# installs the Debian packages; warm runs reuse the cache and take about a second.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
command -v cargo >/dev/null || PATH=$PATH:$HOME/.cargo/bin

t0=$SECONDS
tools/peers.sh all
echo "test.sh: peers ready in $((SECONDS - t0))s" >&2

TCPC_PEERS_BIN=$(tools/peers.sh --bin-dir)
export TCPC_PEERS_BIN TCPC_REQUIRE_PEERS=1
# The end-to-end scenarios on a real management cluster (tests/e2e/README.md) are part of
# every run; TCPC_E2E=0 skips them for a quick local loop.
export TCPC_E2E=${TCPC_E2E:-1}

# CI runs in a fresh clone every time: keep cargo's build products in the cache so a warm
# CI run rebuilds only the workspace's own crates, not every dependency.
if [ -n "${CI:-}" ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR=$HOME/.cache/tcpc/cargo-target
fi

rc=0
cargo test --workspace --locked "$@" || rc=$?
# Each fuzz target for a short, bounded time (tools/fuzz.sh; a crash fails the run; the
# scheduled job .ci/fuzz-nightly runs an hour). TCPC_FUZZ_SECONDS=0 skips it.
# A cold machine spends most of CI's budget building the peers: then the fuzz build (nightly,
# several minutes cold) is left to the next, warm run rather than risk the 60-minute cold budget.
fuzz_secs=${TCPC_FUZZ_SECONDS:-20}
if [ "$fuzz_secs" -gt 0 ] && [ $((SECONDS - t0)) -gt "${TCPC_FUZZ_SKIP_AFTER:-2400}" ] && [ ! -d "$HOME/.cache/tcpc/fuzz/target" ]; then
  echo "test.sh: cold run past $((SECONDS - t0))s: fuzzing skipped this time (tools/fuzz.sh runs it)" >&2
  fuzz_secs=0
fi
if [ "$fuzz_secs" -gt 0 ]; then
  tools/fuzz.sh "$fuzz_secs" || rc=1
fi
echo "test.sh: cargo test exited $rc after $((SECONDS - t0))s in total" >&2
exit "$rc"
