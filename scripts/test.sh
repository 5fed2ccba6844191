#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of every crate,
# against the real engines.
set -euo pipefail
cd "$(dirname "$0")/.."
# Build artifacts live outside the clone, so a fresh clone on a machine that built before
# reuses them (set CARGO_TARGET_DIR yourself to put them elsewhere).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-target}"
# The real engines the scale-out tests use (PostgreSQL, Redis, RabbitMQ, an S3 server):
# installed and started when missing, their URLs exported as FILEGATE_TEST_*.
eval "$(./scripts/engines.sh)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --doc --locked
# Generated bad input from the published contract, a short run over every route and role
# with the binary the CLI tests built (scripts/schemathesis.sh alone runs the long one).
FILEGATE_TEST_BIN="$CARGO_TARGET_DIR/debug/filegate" MAX_EXAMPLES=3 ./scripts/schemathesis.sh
# Every parser of outside input under libFuzzer, 15 s each (scripts/fuzz.sh alone: 10 minutes).
./scripts/fuzz.sh 15
