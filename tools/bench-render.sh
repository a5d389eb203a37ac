#!/usr/bin/env bash
# Benchmark `tcpc render` / `tcpc check` / `tcpc validate` on generated repositories
# (tools/gen-tenants.py). One table: per N and phase, the median wall time over ROUNDS runs,
# its min–max, and the largest peak RSS (GNU time).
#
#   tools/bench-render.sh              # 1,000 tenants; then 10,000 if that fits in a few minutes
#   NS="100 1000" ROUNDS=5 tools/bench-render.sh
#   BIG=0 tools/bench-render.sh        # skip the 10,000-tenant run
#   KEEP=1 tools/bench-render.sh       # keep the generated repositories (path printed)
#
# Phases per N:
#   render --identity (first)   every tenant new: PKI issuance, sealing, templates (1 run)
#   render (unchanged)          nothing changed: the up-to-date stamp (src/stamp.rs), files trusted by stat
#   check (unchanged, fresh clone)  the same without the local record: every input and output file hashed
#   render (one tenant changed) one tenant's replicas changed, a different tenant each round
#   check (unchanged)           `tcpc check` of an up-to-date tree
#   validate                    parse, resolve; templates and typed check only for tenants the last
#                               render does not vouch for (the marker's spec fingerprints): none here
#   validate --full             parse, resolve, templates, typed check of every tenant; no PKI, no cache
#   render (cold, empty -o)     no previous tree, so no cache: every tenant rendered, every file written
set -euo pipefail
cd "$(dirname "$0")/.."

NS=${NS:-1000}
ROUNDS=${ROUNDS:-5}
BIG=${BIG:-1}
BIG_N=${BIG_N:-10000}
# Run BIG_N only if its first render, extrapolated linearly, stays under this many seconds.
BIG_BUDGET=${BIG_BUDGET:-300}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1795317058}
unset TCPC_AGE_IDENTITY TCPC_AGE_IDENTITY_FILE
IDENTITY=tests/fixtures/examples-age-identity.txt

[[ -x /usr/bin/time ]] || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }

cargo build --release -q --bin tcpc
TCPC=${CARGO_TARGET_DIR:-$PWD/target}/release/tcpc

work=$(mktemp -d)
if [[ "${KEEP:-0}" == 1 ]]; then echo "repositories kept in $work"; else trap 'rm -rf "$work"' EXIT; fi

echo "cores: $(nproc)  tcpc: $("$TCPC" --version)  SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH  rounds: $ROUNDS"
printf '%-7s %-32s %9s %17s %12s\n' N phase median_s min-max_s peak_rss_MB

# run_once LOG CMD...: runs CMD under GNU time; appends "wall rss_kb" to LOG.times.
run_once() {
  local log=$1 rc=0; shift
  /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1 || rc=$?
  if [[ $rc != 0 ]]; then
    echo "FAILED (exit $rc): $*" >&2
    tail -n 5 "$log" >&2
    return 1
  fi
  awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; w = s }
              /Maximum resident set size/ { r = $2 } END { print w, r }' "$log.time" >>"$log.times"
}

# row N PHASE LOG: prints the median, min–max and the largest peak RSS of LOG.times; sets $MEDIAN.
row() {
  local n=$1 phase=$2 log=$3
  read -r MEDIAN lo hi rss < <(sort -n "$log.times" | awk '{ w[NR] = $1; if ($2 > r) r = $2 }
    END { m = (NR % 2) ? w[(NR + 1) / 2] : (w[NR / 2] + w[NR / 2 + 1]) / 2; print m, w[1], w[NR], r / 1024 }')
  printf '%-7s %-32s %9.2f %17s %12.0f\n' "$n" "$phase" "$MEDIAN" "$(printf '%.2f–%.2f' "$lo" "$hi")" "$rss"
}

# toggle_replicas FILE: flips the first tenant's replicas of FILE between 1 and 2 (or 2 and 3).
toggle_replicas() {
  python3 - "$1" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
m = re.search(r"replicas: (\d)", s)
n = int(m.group(1))
s = s[:m.start()] + f"replicas: {n + 1 if n < 3 else 1}" + s[m.end():]
open(p, "w").write(s)
EOF
}

bench() {
  local n=$1 repo=$work/repo-$1 log=$work/$1
  python3 tools/gen-tenants.py "$n" "$repo" >/dev/null
  run_once "$log-first" "$TCPC" render "$repo" --identity "$IDENTITY"
  row "$n" "render --identity (first)" "$log-first"
  FIRST=$MEDIAN
  # The first render after a build of another code writes the marker's new keys and stamp: not
  # measured. Files younger than 2 s are never trusted by stat (src/stamp.rs: RACY_NS), so wait,
  # and let one unmeasured render record what it verified (the local index, .tcpc/cache/index-*).
  "$TCPC" render "$repo" >/dev/null 2>&1
  sleep 2.1
  "$TCPC" render "$repo" >/dev/null 2>&1
  for _ in $(seq "$ROUNDS"); do run_once "$log-unchanged" "$TCPC" render "$repo"; done
  row "$n" "render (unchanged)" "$log-unchanged"
  # What CI pays: a fresh checkout has no local index, so every file is hashed.
  mv "$repo/.tcpc/cache" "$repo/.tcpc/cache.kept"
  for _ in $(seq "$ROUNDS"); do run_once "$log-fresh" "$TCPC" check "$repo"; done
  mv "$repo/.tcpc/cache.kept" "$repo/.tcpc/cache"
  row "$n" "check (unchanged, fresh clone)" "$log-fresh"
  mapfile -t files < <(find "$repo/tenants" -name '*.yaml' | sort)
  for r in $(seq "$ROUNDS"); do
    toggle_replicas "${files[$(((r * 7919) % ${#files[@]}))]}"
    run_once "$log-one" "$TCPC" render "$repo"
  done
  row "$n" "render (one tenant changed)" "$log-one"
  # `check` only reads the local record: one unmeasured render records the settled tree.
  sleep 2.1
  "$TCPC" render "$repo" >/dev/null 2>&1
  for _ in $(seq "$ROUNDS"); do run_once "$log-check" "$TCPC" check "$repo"; done
  row "$n" "check (unchanged)" "$log-check"
  for _ in $(seq "$ROUNDS"); do run_once "$log-validate" "$TCPC" validate "$repo"; done
  row "$n" "validate" "$log-validate"
  run_once "$log-validate-full" "$TCPC" validate --full "$repo"
  row "$n" "validate --full" "$log-validate-full"
  run_once "$log-cold" "$TCPC" render "$repo" -o "$work/out-$n" --allow-outside
  row "$n" "render (cold, empty -o)" "$log-cold"
  echo "        $n tenants: $(find "$repo/rendered" -type f | wc -l) files, $(du -sh "$repo/rendered" | cut -f1) rendered, lock $(du -sh "$repo/tcpc.lock" "$repo/tcpc.lock.d" | awk '{ print $1 }' | paste -sd+), state $(du -sh "$repo/.tcpc" | cut -f1)"
  rm -rf "$work/out-$n"
  [[ "${KEEP:-0}" == 1 ]] || rm -rf "$repo"
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
