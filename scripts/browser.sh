#!/usr/bin/env bash
# Makes sure the browser tests of the web app can run: Debian's `chromium` and
# `chromium-driver` (installed with apt when missing; never a browser a test tool downloads
# for itself), and Python's selenium in a venv beside the build cache. Prints the exports
# the browser test reads: FILEGATE_TEST_CHROMIUM, FILEGATE_TEST_CHROMEDRIVER and
# FILEGATE_TEST_SELENIUM_PYTHON. Called by scripts/engines.sh; safe to run again.
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
if ! "$VENV/bin/python" -m pip freeze 2>/dev/null | grep -qx "$want"; then
  log "installing $want"
  "$VENV/bin/python" -m pip install -q "$want" >&2
fi

echo "export FILEGATE_TEST_CHROMIUM=\${FILEGATE_TEST_CHROMIUM:-$CHROMIUM}"
echo "export FILEGATE_TEST_CHROMEDRIVER=\${FILEGATE_TEST_CHROMEDRIVER:-$DRIVER}"
echo "export FILEGATE_TEST_SELENIUM_PYTHON=\${FILEGATE_TEST_SELENIUM_PYTHON:-$VENV/bin/python}"
