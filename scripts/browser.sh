#!/usr/bin/env bash
# Makes sure the browser tests of the web app can run: Debian's `chromium` and
# `chromium-driver` (installed with apt when missing; never a browser a test tool downloads
# for itself), Python's selenium in a venv beside the build cache, and axe-core (npm, the
# accessibility checker the test runs in the page) beside it. Prints the exports the browser
# test reads: FILEGATE_TEST_CHROMIUM, FILEGATE_TEST_CHROMEDRIVER,
# FILEGATE_TEST_SELENIUM_PYTHON and FILEGATE_TEST_AXE. Called by scripts/engines.sh; safe to
# run again.
set -euo pipefail

log() { echo "browser: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

CHROMIUM=$(command -v chromium || true)
DRIVER=$(command -v chromedriver || true)
if [ -z "$CHROMIUM" ] || [ -z "$DRIVER" ]; then
  log "installing chromium and chromium-driver"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >&2
  CHROMIUM=$(command -v chromium)
  DRIVER=$(command -v chromedriver)
fi

VENV="${XDG_CACHE_HOME:-$HOME/.cache}/filegate-browser-tests"
PYTHON=$(command -v python3)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" >&2
# Pinned below the newest: 4.52 asks for a certifi newer than the registry has.
want="selenium==4.40.0"
installed=$("$VENV/bin/python" -m pip freeze 2>/dev/null || true)
if ! grep -qx "$want" <<<"$installed"; then
  log "installing $want"
  "$VENV/bin/python" -m pip install -q "$want" >&2
fi

AXE="$VENV/npm/node_modules/axe-core/axe.min.js"
axe_version="4.14.1"
if ! command -v npm >/dev/null 2>&1; then
  log "installing npm"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq npm >&2
fi
if ! grep -qs "\"version\": \"$axe_version\"" "$VENV/npm/node_modules/axe-core/package.json"; then
  log "installing axe-core@$axe_version"
  npm install --prefix "$VENV/npm" --no-audit --no-fund --silent "axe-core@$axe_version" >&2
fi

echo "export FILEGATE_TEST_CHROMIUM=\${FILEGATE_TEST_CHROMIUM:-$CHROMIUM}"
echo "export FILEGATE_TEST_CHROMEDRIVER=\${FILEGATE_TEST_CHROMEDRIVER:-$DRIVER}"
echo "export FILEGATE_TEST_SELENIUM_PYTHON=\${FILEGATE_TEST_SELENIUM_PYTHON:-$VENV/bin/python}"
echo "export FILEGATE_TEST_AXE=\${FILEGATE_TEST_AXE:-$AXE}"
