#!/usr/bin/env bash
# Benchmark `tcpc render` / `tcpc check` on generated repositories (tools/gen-tenants.py).
#
#   tools/bench-render.sh              # 1,000 tenants; then 10,000 if that fits in a few minutes
#   NS="100 1000" tools/bench-render.sh
#   BIG=0 tools/bench-render.sh        # skip the 10,000-tenant run
#   KEEP=1 tools/bench-render.sh       # keep the generated repositories (path printed)
#
# Per N: a first render with the examples' identity (PKI issuance + sealing for every new
# tenant), a re-render with no identity into the existing (up-to-date) tree, a re-render with
# no identity into an empty directory (every file written), and `tcpc check`. Prints wall
# time and peak RSS of each (GNU time; `apt-get install time` if /usr/bin/time is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

NS=${NS:-1000}
BIG=${BIG:-1}
BIG_N=${BIG_N:-10000}
# Run BIG_N only if its first render, extrapolated linearly, stays under this many seconds.
BIG_BUDGET=${BIG_BUDGET:-300}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1795317058}
unset TCPC_AGE_IDENTITY TCPC_AGE_IDENTITY_FILE
IDENTITY=tests/fixtures/examples-age-identity.txt

[[ -x /usr/bin/time ]] || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }

cargo build --release -q --bin tcpc
TCPC=$PWD/target/release/tcpc

work=$(mktemp -d)
if [[ "${KEEP:-0}" == 1 ]]; then echo "repositories kept in $work"; else trap 'rm -rf "$work"' EXIT; fi

echo "cores: $(nproc)  tcpc: $("$TCPC" --version)  SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
printf '%-8s %-34s %10s %12s %s\n' N phase wall_s peak_rss_MB result

# measure N PHASE CMD...: runs CMD under GNU time, prints one row, sets $WALL (seconds).
measure() {
  local n=$1 phase=$2; shift 2
  local log=$work/$n-${phase// /-}.log rc=0
  /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1 || rc=$?
  WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$log.time")
  local rss_kb
  rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log.time")
  printf '%-8s %-34s %10.2f %12.1f %s\n' "$n" "$phase" "$WALL" "$(echo "$rss_kb / 1024" | bc -l)" \
    "$(if [[ $rc == 0 ]]; then tail -n 1 "$log"; else echo "FAILED (exit $rc): $(tail -n 3 "$log" | tr '\n' ' ')"; fi)"
  [[ $rc == 0 ]]
}

bench() {
  local n=$1 repo=$work/repo-$1
  python3 tools/gen-tenants.py "$n" "$repo"
  measure "$n" "render --identity (first)" "$TCPC" render "$repo" --identity "$IDENTITY"
  FIRST=$WALL
  measure "$n" "render (no identity, up to date)" "$TCPC" render "$repo"
  measure "$n" "render (no identity, empty -o)" "$TCPC" render "$repo" -o "$work/out-$n" --allow-outside
  measure "$n" "check" "$TCPC" check "$repo"
  echo "$n tenants: $(find "$repo/rendered" -type f | wc -l) files, $(du -sh "$repo/rendered" | cut -f1) rendered, lock $(du -h "$repo/tcpc.lock" | cut -f1), state $(du -sh "$repo/.tcpc" | cut -f1)"
  rm -rf "$work/out-$n"
}

for n in $NS; do bench "$n"; done

if [[ "$BIG" == 1 ]]; then
  last=${NS##* }
  estimate=$(echo "$FIRST * $BIG_N / $last" | bc -l)
  if (( $(echo "$estimate < $BIG_BUDGET" | bc -l) )); then
    bench "$BIG_N"
  else
    printf 'skipping N=%s: its first render would take ~%.0f s (budget %s s; raise BIG_BUDGET)\n' "$BIG_N" "$estimate" "$BIG_BUDGET"
  fi
fi
