#!/usr/bin/env bash
# Makes sure one clamd runs for the tests, with the project's own test signatures
# (crates/filegate-clamd/tests/fixtures/clamav: EICAR as a body signature and by MD5; the
# official database cannot be downloaded here and clamd refuses an empty one). Installs
# clamav-daemon with apt when missing; reuses a clamd this script started before when it
# still answers PING. Prints the exports the tests read:
#   FILEGATE_TEST_CLAMD_URL      tcp://127.0.0.1:PORT
#   FILEGATE_TEST_CLAMD_SOCKET   unix:///…/clamd.sock
#   FILEGATE_TEST_CLAMD_MAX      its StreamMaxLength in bytes (the over-the-limit tests)
set -euo pipefail

log() { echo "clamd: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${FILEGATE_CLAMD_DIR:-${TMPDIR:-/tmp}/filegate-clamd-$(id -u)}"
max_mib=10

ping_port() {
  # zPING over bash's /dev/tcp; true when clamd answers PONG.
  local reply
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'zPING\0' >&3
  IFS= read -r -d '' -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [ "$reply" = "PONG" ]
}

emit() {
  cat <<EXPORTS
export FILEGATE_TEST_CLAMD_URL=tcp://127.0.0.1:$1
export FILEGATE_TEST_CLAMD_SOCKET=unix://$dir/clamd.sock
export FILEGATE_TEST_CLAMD_MAX=$((max_mib * 1024 * 1024))
EXPORTS
}

if [ -f "$dir/port" ] && ping_port "$(cat "$dir/port")"; then
  emit "$(cat "$dir/port")"
  exit 0
fi

if ! command -v clamd >/dev/null 2>&1 && [ ! -x /usr/sbin/clamd ]; then
  log "installing clamav-daemon"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq clamav-daemon clamav >&2
fi
clamd_bin="$(command -v clamd || echo /usr/sbin/clamd)"

# A free port: the first of a range nothing listens on.
port=""
for p in $(seq 33310 33410); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { log "no free port in 33310-33410"; exit 1; }

if [ -f "$dir/clamd.pid" ]; then kill "$(cat "$dir/clamd.pid")" 2>/dev/null || true; fi
rm -rf "$dir"
mkdir -p "$dir/db"
cp "$root"/crates/filegate-clamd/tests/fixtures/clamav/* "$dir/db/"
cat >"$dir/clamd.conf" <<CONF
Foreground true
DatabaseDirectory $dir/db
LocalSocket $dir/clamd.sock
TCPSocket $port
TCPAddr 127.0.0.1
LogFile $dir/clamd.log
PidFile $dir/clamd.pid
User $(id -un)
StreamMaxLength ${max_mib}M
SelfCheck 0
CONF
log "starting clamd on 127.0.0.1:$port and $dir/clamd.sock"
# Detached and with every stream redirected: the caller reads our stdout through $(…).
setsid nohup "$clamd_bin" -c "$dir/clamd.conf" >"$dir/stdout.log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if ping_port "$port"; then
    echo "$port" >"$dir/port"
    emit "$port"
    exit 0
  fi
  sleep 0.5
done
log "clamd did not answer PING; its log:"
tail -n 20 "$dir/clamd.log" "$dir/stdout.log" >&2 || true
exit 1
