#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for SECONDS each (default 30).
#
#   tools/fuzz.sh [SECONDS] [TARGET...]
#
# First replays the checked-in regression inputs (fuzz/regressions/<target>/: every crash
# ever found), then fuzzes from the corpus kept in ~/.cache/tcpc/fuzz/corpus/<target>
# (seeded from fuzz/seeds/<target>). Installs cargo-fuzz if missing; needs the nightly
# toolchain. Builds go to ~/.cache/tcpc/fuzz/target, so only the first run is cold.
# A crash fails the script and is copied to fuzz/regressions/<target>/ (commit it, with the
# fix). CI runs it briefly on each change (tools/test.sh); the scheduled job runs
# `tools/fuzz.sh 3600` (.ci/fuzz-nightly).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
command -v cargo >/dev/null || PATH=$PATH:$HOME/.cargo/bin
secs=${1:-30}
shift || true
cache=${TCPC_CACHE_DIR:-$HOME/.cache/tcpc}/fuzz
export CARGO_TARGET_DIR=$cache/target

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

cd "$root/fuzz"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
# No sanitizer: the code is safe Rust, so AddressSanitizer finds nothing a panic does not, and
# costs build and run time. Debug assertions on: integer overflow is a crash here.
flags=(--sanitizer none --debug-assertions)
t0=$SECONDS
cargo +nightly fuzz build "${flags[@]}" >&2
echo "fuzz.sh: built ${#targets[@]} target(s) in $((SECONDS - t0))s" >&2

rc=0
for t in "${targets[@]}"; do
  corpus=$cache/corpus/$t
  mkdir -p "$corpus" "$root/fuzz/regressions/$t" "$cache/artifacts/$t"
  [ -d "$root/fuzz/seeds/$t" ] && cp -n "$root/fuzz/seeds/$t"/* "$corpus/" 2>/dev/null || true
  # Regressions: each must run clean.
  if compgen -G "$root/fuzz/regressions/$t/*" >/dev/null; then
    cargo +nightly fuzz run "${flags[@]}" "$t" "$root/fuzz/regressions/$t"/* -- -runs=1 >&2 || {
      echo "fuzz.sh: $t: a regression input crashes again" >&2
      rc=1
    }
  fi
  before=$(ls "$cache/artifacts/$t" | wc -l)  # artifacts move to fuzz/regressions on a crash
  cargo +nightly fuzz run "${flags[@]}" "$t" "$corpus" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
    -artifact_prefix="$cache/artifacts/$t/" -print_final_stats=1 >"$cache/$t.log" 2>&1 || true
  tail -n 15 "$cache/$t.log" | grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|Done|SUMMARY|panicked' >&2 || true
  after=$(ls "$cache/artifacts/$t" | wc -l)
  if [ "$after" -gt "$before" ] || grep -qE '^==[0-9]+== ERROR|panicked at|deadly signal' "$cache/$t.log"; then
    echo "fuzz.sh: $t: CRASH (log: $cache/$t.log)" >&2
    for a in "$cache/artifacts/$t"/*; do [ -e "$a" ] && mv -n "$a" "$root/fuzz/regressions/$t/"; done
    grep -A 12 -E 'panicked at|ERROR' "$cache/$t.log" | head -n 40 >&2 || true
    rc=1
  else
    echo "fuzz.sh: $t: ${secs}s, no crash" >&2
  fi
done
exit "$rc"
