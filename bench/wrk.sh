#!/usr/bin/env bash
# The control plane measured from outside, as a new user would try it: `wrk` against a
# `filegate serve` started the documented way, so the report shows the numbers do not come
# from the benchmark's own client. Three measurements, each `--duration` at `--connections`:
#   - single-request uploads, `POST /v1/files` (multipart form, 1 KiB, a new path each:
#     bench/wrk/post_files.lua);
#   - `GET /v1/files/{id}` of one file (the JSON record);
#   - `/healthz` (the server's floor for a request).
# Installs wrk when missing (Debian). The database: SQLite in a fresh directory, or with
# `--postgres URL` a fresh database on that server (dropped afterwards).
#
#   bench/wrk.sh [--filegate BIN] [--postgres URL] [--no-workers] [--duration 10s] [--connections 64]
set -euo pipefail
cd "$(dirname "$0")/.."

filegate="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-target}/release/filegate"
postgres=""
workers=""
duration="10s"
connections=64
while [ $# -gt 0 ]; do
  case "$1" in
    --filegate) filegate="$2"; shift 2 ;;
    --postgres) postgres="$2"; shift 2 ;;
    --no-workers) workers="--no-workers"; shift ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
[ -x "$filegate" ] || { echo "no filegate binary at $filegate (cargo build --release -p filegate-cli)" >&2; exit 1; }

work=$(mktemp -d)
database=""
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  [ -n "$database" ] && psql -q "$postgres" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

export FILEGATE_DATA_DIR="$work/data"
export FILEGATE_LOG__LEVEL=warn
# Throughput is measured, not the rate limits.
export FILEGATE_RATE_LIMIT__REQUESTS=0
export FILEGATE_RATE_LIMIT__SIGNED_URLS__BURST=0
if [ -n "$postgres" ]; then
  database="fg_wrk_$$"
  psql -q "$postgres" -c "CREATE DATABASE $database" >/dev/null
  export FILEGATE_DATABASE="${postgres%/*}/$database"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$filegate" serve --listen "127.0.0.1:$port" $workers >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  curl -sf "$url/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
TOKEN=$("$filegate" token --role writer --data-dir "$FILEGATE_DATA_DIR")
export TOKEN

summary() { # what wrk printed: requests/s, p50, p99, errors
  awk -v what="$1" '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /Non-2xx/ {errors=$NF}
    END {printf "| %s | %s | %s | %s | %s |\n", what, rps, p50, p99, (errors == "" ? 0 : errors)}'
}

echo "| request ($connections connections, $duration, $( [ -n "$postgres" ] && echo PostgreSQL || echo SQLite )${workers:+, gateway only}) | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
wrk -t2 -c"$connections" -d"$duration" --latency -s bench/wrk/post_files.lua "$url" | summary '`POST /v1/files`, 1 KiB'
id=$(curl -sf -X POST "$url/v1/files" -H "Authorization: Bearer $TOKEN" -F bucket=default -F path=wrk/get.bin \
  -F "file=@bench/wrk/post_files.lua" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
wrk -t2 -c"$connections" -d"$duration" --latency -H "Authorization: Bearer $TOKEN" "$url/v1/files/$id" | summary '`GET /v1/files/{id}`'
wrk -t2 -c"$connections" -d"$duration" --latency "$url/healthz" | summary '`GET /healthz`'
