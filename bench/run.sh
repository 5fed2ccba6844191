#!/usr/bin/env bash
# filegate's benchmark suite, one command: builds the release binaries and runs
# `filegate-bench all`, which measures each thing next to a baseline in the same run (median
# of --runs runs, default 5) and writes bench/REPORT.md. Needs clamd for the scan stage
# (`scripts/clamd.sh` installs it). Arguments go to filegate-bench: `--smoke`, `--runs N`,
# `--work-dir DIR` (its filesystem is part of the result), `--out FILE`.
#
#   bench/run.sh [--runs 5]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-target}"
cargo build --release --locked -p filegate-bench >&2
exec "$CARGO_TARGET_DIR/release/filegate-bench" all "$@"
