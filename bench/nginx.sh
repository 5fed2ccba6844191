#!/usr/bin/env bash
# Installs Debian's nginx for the benchmark's baselines (WebDAV PUT, sendfile downloads)
# when it is missing. Only the package is installed: no nginx service is started or
# configured (filegate-bench starts its own nginx on a loopback port, with a configuration
# and prefix under its work directory, and stops it after). Debian's nginx has the
# ngx_http_dav_module built in, which is all a plain PUT needs.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
nginx_bin() { command -v nginx 2>/dev/null || ls /usr/sbin/nginx 2>/dev/null; }

if [ -z "$(nginx_bin || true)" ]; then
  echo "nginx.sh: installing nginx" >&2
  # The package's scripts would start the system's nginx on port 80: forbid starting
  # services during the install (unless a policy is already in place).
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod +x "$policy"
    own_policy=1
  fi
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx >&2 || { [ -n "$own_policy" ] && as_root rm -f "$policy"; exit 1; }
  [ -n "$own_policy" ] && as_root rm -f "$policy"
fi
"$(nginx_bin)" -V 2>&1 | grep -q -- '--with-http_dav_module' || {
  echo "nginx.sh: this nginx lacks the dav module (needed for the PUT baseline)" >&2
  exit 1
}
command -v openssl >/dev/null || DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq openssl >&2
echo "nginx.sh: $("$(nginx_bin)" -v 2>&1)" >&2
