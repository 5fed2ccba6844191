#!/usr/bin/env bash
# Fuzzes every parser of outside input (fuzz/fuzz_targets/*.rs) for SECONDS_PER_TARGET
# seconds each, one after the other, and prints target / runs / execs/s / result.
# Fails when a target crashed, hung or allocated too much, naming the reproducer.
#
#   ./scripts/fuzz.sh          # 600 s = 10 CPU-minutes per target
#   ./scripts/fuzz.sh 15       # the short run CI does
#   FUZZ_TARGETS="range_header signed_url" ./scripts/fuzz.sh 60
#
# A reproducer runs again with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none <target> <path>   (in fuzz/)
#
# cargo-fuzz needs nightly flags; the stable toolchain takes them with RUSTC_BOOTSTRAP=1.
# No sanitizer (`-s none`): the code is safe Rust, and what we look for (panics, overflow,
# hangs, huge allocations) libFuzzer catches itself. The default profile is optimized
# with debug assertions and overflow checks on, which is what we want (`-O` would drop
# the overflow checks that found age's `1 << (required - target)`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-600}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]  (a whole number, default 600)" >&2
  exit 2
fi
export RUSTC_BOOTSTRAP=1
# Its own target directory, apart from the main build's (other flags, other profile).
export CARGO_TARGET_DIR="${FILEGATE_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-fuzz-target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
cargo fuzz build -s none

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=()
rows=()
for target in $targets; do
  mkdir -p "corpus/$target"
  log="$logs/$target.log"
  echo "fuzzing $target for ${seconds}s..." >&2
  # -timeout: one input taking 10 s is a hang. -malloc_limit_mb: one allocation over
  # 512 MiB is a bomb (the targets' own limits are far below). -rss_limit_mb: the process.
  status=0
  cargo fuzz run -s none "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  reproducer="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
  if [ "$status" -eq 0 ] && [ -z "$reproducer" ]; then
    result="ok"
  else
    kind="$(grep -oE 'ERROR: libFuzzer: [a-z-]+' "$log" | head -1 | sed 's/ERROR: libFuzzer: //')"
    result="FAILED (${kind:-exit $status}) ${reproducer:-see the log below}"
    failed+=("$target")
    echo "---- $target" >&2
    grep -E "panicked at|^[^ ].*assert|left:|right:|ERROR: libFuzzer|Test unit written" "$log" | head -20 >&2 || tail -40 "$log" >&2
  fi
  rows+=("$(printf '%-18s %12s %10s  %s' "$target" "${runs:-?}" "${rate:-?}" "$result")")
done

printf '%-18s %12s %10s  %s\n' target runs execs/s result
printf '%s\n' "${rows[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]} (reproducers under fuzz/artifacts/<target>/)" >&2
  exit 1
fi
