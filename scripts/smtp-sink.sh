#!/usr/bin/env bash
# Makes sure Python's aiosmtpd (the real SMTP server the alert-email tests send to) is
# installed, and prints the export the tests read: FILEGATE_TEST_SMTP_PYTHON, the Python
# that can run `python -m aiosmtpd`. Called by scripts/engines.sh; safe to run again.
set -euo pipefail

log() { echo "smtp-sink: $*" >&2; }

PYTHON=$(command -v python3 || true)
if [ -z "$PYTHON" ]; then
  log "installing python3"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >&2;
  else sudo apt-get update -qq >&2; sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-pip >&2; fi
  PYTHON=$(command -v python3)
fi
if ! "$PYTHON" -c 'import aiosmtpd' 2>/dev/null; then
  log "installing aiosmtpd"
  # Debian's system Python refuses pip without --break-system-packages (PEP 668); a venv
  # keeps the test tool apart from the system's packages.
  if ! "$PYTHON" -m pip install -q 'aiosmtpd==1.4.6' >&2 2>/dev/null; then
    VENV="${XDG_CACHE_HOME:-$HOME/.cache}/filegate-smtp-sink"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install -q 'aiosmtpd==1.4.6' >&2
    PYTHON="$VENV/bin/python"
  fi
fi
"$PYTHON" -c 'import aiosmtpd' >&2
echo "export FILEGATE_TEST_SMTP_PYTHON=\${FILEGATE_TEST_SMTP_PYTHON:-$PYTHON}"
