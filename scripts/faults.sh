#!/usr/bin/env bash
# filegate under faults, one command: 1,000 concurrent uploads per scenario while the
# processes are killed with `kill -9` (three times), each engine of the scale-out deployment
# (PostgreSQL, RabbitMQ, Redis, the S3 server, clamd) is stopped mid-run and started again,
# and the data disk fills up; then it counts what a user lost (confirmed files lost or
# changed, partial objects visible, jobs and events lost, 5xx without Retry-After) and how
# long recovery took. Exits non-zero when any count is not 0. Writes bench/FAULTS.md.
#
# The scale-out engines are private to the run (their own PostgreSQL cluster, RabbitMQ node,
# Redis, s3s-fs and clamd on free ports, removed at the end), so stopping them disturbs no
# other user of the machine's servers. Needs the packages scripts/engines.sh installs;
# the disk-full scenario needs root (it mounts a 64 MiB tmpfs).
#
#   scripts/faults.sh                                   # everything, 30 s outages (~15 min)
#   scripts/faults.sh --outage-secs 5                   # quicker
#   scripts/faults.sh --scenario kill,redis --uploads 200
#   scripts/faults.sh --help                            # every option
set -euo pipefail
cd "$(dirname "$0")/.."
# Installs what is missing (the system servers it starts are not the ones stopped here).
eval "$(scripts/engines.sh)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-target}"
cargo build --release --locked -p filegate-bench >&2
exec "$CARGO_TARGET_DIR/release/filegate-bench" faults "$@"
