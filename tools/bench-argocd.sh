#!/usr/bin/env bash
# Benchmark tcpc as an Argo CD config-management plugin: one manifest generation for N
# generated tenants (tools/gen-tenants.py) through the real argocd-cmp-server, driven by
# argocd-cmp-drive the way argocd-repo-server drives it (tools/peers.sh argocd).
#
#   tools/bench-argocd.sh            # N=1000
#   N=100 tools/bench-argocd.sh
#
# The repository is rendered once with the examples' identity (as CI would, then committed);
# the plugin then only re-emits it. Prints: tcpc's own wall time and peak RSS inside the
# plugin (GNU time wraps the `tcpc` on the server's PATH), the whole generate as the
# repo-server sees it (tgz of the repository, streaming, tcpc, splitting and JSON), the
# manifests' count and size, and the cmp-server's peak RSS. Argo CD's limits: 60 s repo-server
# timeout, 90 s plugin exec timeout, 100 MiB gRPC messages.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1795317058}
unset TCPC_AGE_IDENTITY TCPC_AGE_IDENTITY_FILE
[[ -x /usr/bin/time ]] || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }

tools/peers.sh argocd
bin=$(tools/peers.sh --bin-dir)
cargo build --release -q --bin tcpc
TCPC=$PWD/target/release/tcpc

work=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill -9 "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work"/{config,plugins,cmp,path}

python3 tools/gen-tenants.py "$N" "$work/repo"
"$TCPC" render "$work/repo" --identity tests/fixtures/examples-age-identity.txt >/dev/null 2>&1

"$TCPC" install argocd-plugin --only plugin > "$work/config/plugin.yaml"
cat > "$work/path/tcpc" <<WRAP
#!/bin/sh
exec /usr/bin/time -v -o "$work/tcpc.time" "$TCPC" "\$@"
WRAP
chmod +x "$work/path/tcpc"

PATH=$work/path:$PATH ARGOCD_PLUGINSOCKFILEPATH=$work/plugins ARGOCD_CMP_WORKDIR=$work/cmp \
  "$bin/argocd-cmp-server" --config-dir-path "$work/config" --logformat text > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do [[ -S $work/plugins/tcpc.sock ]] && break; sleep 0.1; done
[[ -S $work/plugins/tcpc.sock ]] || { cat "$work/server.log"; exit 1; }

source='{"repoURL":"https://git.example.com/platform.git","targetRevision":"main","path":".","plugin":{"name":"tcpc"}}'
field() { awk -F': ' -v k="$1" '$1 ~ k { print $2 }' "$work/tcpc.time"; }
echo "N=$N tenants, cores: $(nproc), $("$TCPC" --version), argocd-cmp-server $(readlink "$bin/argocd-cmp-server")"
echo "repository: $(du -sh "$work/repo" | cut -f1) ($(find "$work/repo" -type f | wc -l) files; rendered/ $(du -sh "$work/repo/rendered" | cut -f1))"

# generate LABEL EXCLUSIONS: one generate as the repo-server does it; EXCLUSIONS is the
# repo-server's ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS (globs left out of the tarball).
generate() {
  local t0 t1
  rm -f "$work/tcpc.time"
  t0=$(date +%s.%N)
  ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS=$2 ARGOCD_PLUGINSOCKFILEPATH=$work/plugins \
    "$bin/argocd-cmp-drive" generate -repo "$work/repo" -source "$source" > "$work/manifests.json" 2> "$work/drive.log" ||
    { cat "$work/drive.log"; tail -20 "$work/server.log"; exit 1; }
  t1=$(date +%s.%N)
  echo "--- $1"
  echo "tcpc inside the plugin: wall $(field 'Elapsed') (m:ss), peak RSS $(( $(field 'Maximum resident') / 1024 )) MB"
  printf 'whole generate (tgz, stream, tcpc, split, JSON): %.1f s\n' "$(echo "$t1 - $t0" | bc -l)"
  echo "manifests: $(wc -l < "$work/manifests.json") objects, $(du -h "$work/manifests.json" | cut -f1) as JSON"
}
generate "whole repository streamed (Argo CD's default)" ""
generate "rendered/ left out (ARGOCD_REPO_SERVER_PLUGIN_TAR_EXCLUSIONS=rendered)" "rendered"
echo "argocd-cmp-server peak RSS: $(awk '/VmHWM/ { print int($2 / 1024) " MB" }' "/proc/$server_pid/status")"
