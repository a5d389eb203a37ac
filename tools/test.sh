#!/usr/bin/env bash
# THE project test command: build/cache the real upstream peers, then run every test
# against them (a missing peer is a failure here, not a skip).
#
#   tools/test.sh [extra cargo test args...]
#
# Cold (fresh machine): tools/peers.sh builds sops, kubeseal, the sealed-secrets
# controller, kustomize and the Kubernetes binaries from the Go module proxy and
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

rc=0
cargo test --workspace --locked "$@" || rc=$?
echo "test.sh: cargo test exited $rc after $((SECONDS - t0))s in total" >&2
exit "$rc"
