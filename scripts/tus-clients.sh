#!/usr/bin/env bash
# Makes sure the stock tus clients the tus tests drive are installed: tuspy (PyPI) in a venv
# beside the build cache. Prints the export the tests read: FILEGATE_TEST_TUSPY_PYTHON.
# Called by scripts/engines.sh; safe to run again.
set -euo pipefail

log() { echo "tus-clients: $*" >&2; }

VENV="${XDG_CACHE_HOME:-$HOME/.cache}/filegate-tus-clients"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2
want="tuspy==1.1.0"
installed=$("$VENV/bin/python" -m pip freeze 2>/dev/null || true)
if ! grep -qx "$want" <<<"$installed"; then
  log "installing $want"
  "$VENV/bin/python" -m pip install -q "$want" >&2
fi

echo "export FILEGATE_TEST_TUSPY_PYTHON=\${FILEGATE_TEST_TUSPY_PYTHON:-$VENV/bin/python}"
