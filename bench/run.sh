#!/usr/bin/env bash
# filegate's benchmark suite, one command. Installs what a fresh Debian machine lacks
# (nginx for the baselines: bench/nginx.sh; PostgreSQL, RabbitMQ, s3s-fs and clamd:
# scripts/engines.sh), builds the release binaries and runs `filegate-bench all`, which
# measures each thing next to its baselines in the same run (median of --runs runs,
# default 5) and writes bench/REPORT.md. Arguments go to filegate-bench: `--smoke`,
# `--runs N`, `--work-dir DIR` (its filesystem is part of the result), `--out FILE`,
# `--postgres URL`. A full run takes about an hour on 2 cores.
#
#   bench/run.sh [--runs 5]
set -euo pipefail
cd "$(dirname "$0")/.."
bench/nginx.sh
eval "$(scripts/engines.sh)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-target}"
cargo build --release --locked -p filegate-bench >&2
exec "$CARGO_TARGET_DIR/release/filegate-bench" all "$@"
