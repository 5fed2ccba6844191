#!/usr/bin/env bash
# Makes sure the stock tus clients the tus tests drive are installed: tuspy (PyPI) in a venv,
# and tus-js-client (npm) in a directory of its own, both beside the build cache (never in
# the repository). Prints the exports the tests read: FILEGATE_TEST_TUSPY_PYTHON and
# FILEGATE_TEST_TUS_JS (the directory whose node_modules holds tus-js-client).
# Called by scripts/engines.sh; safe to run again.
set -euo pipefail

log() { echo "tus-clients: $*" >&2; }

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}"
VENV="$CACHE/filegate-tus-clients"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2
want="tuspy==1.1.0"
installed=$("$VENV/bin/python" -m pip freeze 2>/dev/null || true)
if ! grep -qx "$want" <<<"$installed"; then
  log "installing $want"
  "$VENV/bin/python" -m pip install -q "$want" >&2
fi
echo "export FILEGATE_TEST_TUSPY_PYTHON=\${FILEGATE_TEST_TUSPY_PYTHON:-$VENV/bin/python}"

# tus-js-client runs in Node (20 or later); without Node the tests that need it are skipped.
JS="$CACHE/filegate-tus-js"
js_want="4.3.1"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  js_have=$(node -p "require('$JS/node_modules/tus-js-client/package.json').version" 2>/dev/null || true)
  if [ "$js_have" != "$js_want" ]; then
    log "installing tus-js-client@$js_want"
    mkdir -p "$JS"
    npm install --prefix "$JS" --no-audit --no-fund --silent "tus-js-client@$js_want" >&2
  fi
  echo "export FILEGATE_TEST_TUS_JS=\${FILEGATE_TEST_TUS_JS:-$JS}"
else
  log "no node and npm: the tus-js-client tests are skipped"
fi
