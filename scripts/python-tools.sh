#!/usr/bin/env bash
# Makes sure the Python test tools are installed in one venv beside the build cache:
# openapi-spec-validator (the contract test checks /openapi.json with it) and schemathesis
# (scripts/schemathesis.sh generates bad input from the contract). Prints the exports the
# tests read. Called by scripts/engines.sh; safe to run again.
set -euo pipefail

log() { echo "python-tools: $*" >&2; }

VENV="${XDG_CACHE_HOME:-$HOME/.cache}/filegate-python-tools"
PYTHON=$(command -v python3)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" >&2
want=("openapi-spec-validator==0.9.0" "schemathesis==4.32.5")
installed=$("$VENV/bin/python" -m pip freeze 2>/dev/null || true)
if ! grep -qx "${want[0]}" <<<"$installed" || ! grep -qx "${want[1]}" <<<"$installed"; then
  log "installing ${want[*]}"
  "$VENV/bin/python" -m pip install -q "${want[@]}" >&2
fi
echo "export FILEGATE_TEST_OPENAPI_VALIDATOR=\${FILEGATE_TEST_OPENAPI_VALIDATOR:-$VENV/bin/openapi-spec-validator}"
echo "export SCHEMATHESIS_BIN=\${SCHEMATHESIS_BIN:-$VENV/bin/schemathesis}"
