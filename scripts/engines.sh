#!/usr/bin/env bash
# Makes sure the engines the scale-out tests use are installed and running on this machine
# (Debian): PostgreSQL, Redis, RabbitMQ, s3s-fs (an S3 server that checks signatures), and
# clamd with the project's test signatures (scripts/clamd.sh).
# Safe to run again: what is there already is left alone. Prints the FILEGATE_TEST_* exports
# the tests read; `eval "$(scripts/engines.sh)"` sets them in your shell.
set -euo pipefail

log() { echo "engines: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 120); do port_open "$1" && return 0; sleep 0.5; done
  log "nothing answers on port $1"; return 1
}

missing=()
have pg_ctlcluster || missing+=(postgresql)
have redis-server || missing+=(redis-server)
have rabbitmq-server || missing+=(rabbitmq-server)
# The `age` CLI (the hospital client's own tool) for the smoke test of encrypted uploads.
have age || missing+=(age)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >&2
fi

if ! port_open 5432; then
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2
  wait_port 5432
fi
if ! port_open 6379; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2
  wait_port 6379
fi
if ! port_open 5672; then
  log "starting RabbitMQ"
  as_root rabbitmq-server -detached >&2
  wait_port 5672
fi

S3S_FS=$(command -v s3s-fs || true)
[ -z "$S3S_FS" ] && [ -x "$HOME/.cargo/bin/s3s-fs" ] && S3S_FS="$HOME/.cargo/bin/s3s-fs"
if [ -z "$S3S_FS" ]; then
  log "installing s3s-fs (a few minutes, once)"
  cargo install s3s-fs --version 0.14.1 --features binary --locked >&2
  S3S_FS="$HOME/.cargo/bin/s3s-fs"
fi

# The SMTP sink of the alert-email tests (Python's aiosmtpd, started by each test).
SMTP_EXPORT=$("$(dirname "$0")/smtp-sink.sh")
# The contract validator and the bad-input generator (Python, in a venv of their own).
PYTHON_TOOLS_EXPORT=$("$(dirname "$0")/python-tools.sh")
# Debian's chromium and chromium-driver, and selenium, for the web app's browser test.
BROWSER_EXPORT=$("$(dirname "$0")/browser.sh")
# tuspy and tus-js-client, the stock tus clients of the tus tests (Python in a venv, Node).
TUS_EXPORT=$("$(dirname "$0")/tus-clients.sh")
"$(dirname "$0")/clamd.sh"

cat <<EXPORTS
export FILEGATE_TEST_POSTGRES_URL=\${FILEGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
export FILEGATE_TEST_REDIS_URL=\${FILEGATE_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
export FILEGATE_TEST_AMQP_URL=\${FILEGATE_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export FILEGATE_TEST_AGE=\${FILEGATE_TEST_AGE:-$(command -v age)}
export FILEGATE_TEST_S3S_FS=\${FILEGATE_TEST_S3S_FS:-$S3S_FS}
$SMTP_EXPORT
$PYTHON_TOOLS_EXPORT
$BROWSER_EXPORT
$TUS_EXPORT
EXPORTS
