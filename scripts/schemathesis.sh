#!/usr/bin/env bash
# Generated bad input against the published contract. Starts filegate on a fresh data
# directory (rate limits off), creates one of each thing the routes take an id of (a ready
# file, a pending upload, a share, a file request, a webhook, a bundle, an API key), then
# lets schemathesis generate requests from /openapi.json for every route, once per role and
# once without a token, path ids drawn half the time from the real ones. Checks: no server
# error, every status code, content type and body as documented. Fails if any check failed
# or the server logged a panic.
#
#   scripts/schemathesis.sh                    # about 19,000 requests, 6-7 minutes on 2 cores
#   MAX_EXAMPLES=100 scripts/schemathesis.sh   # more per route
#   MAX_EXAMPLES=3 scripts/schemathesis.sh     # the short run of scripts/test.sh
#
# Needs: a Rust toolchain, Python 3 and curl (schemathesis comes from scripts/python-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-target}"
eval "$(./scripts/python-tools.sh)"
MAX_EXAMPLES="${MAX_EXAMPLES:-30}"
CHECKS="${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}"
PY="$(dirname "$SCHEMATHESIS_BIN")/python"

# FILEGATE_TEST_BIN: a filegate binary already built (the test suite passes the one its CLI
# tests built, so the short run in CI compiles nothing).
BIN="${FILEGATE_TEST_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build -q -p filegate-cli
  BIN="$CARGO_TARGET_DIR/debug/filegate"
fi
WORK=$(mktemp -d)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
export FILEGATE_RATE_LIMIT__REQUESTS=0 FILEGATE_RATE_LIMIT__SIGNED_URLS__BURST=0 FILEGATE_RATE_LIMIT__ANONYMOUS__BURST=0
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$BASE/healthz" >/dev/null || { echo "filegate did not start:"; tail -n 20 "$WORK/server.log"; exit 1; }

ADMIN=$("$BIN" token --data-dir "$WORK/data" --role admin --sub fuzz-admin)
# Real objects for the path ids, written as a schemathesis config beside the run.
"$PY" - "$BASE" "$ADMIN" "$WORK/schemathesis.toml" <<'PYTHON'
import json, sys, time, urllib.request

base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]

def call(method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(path if path.startswith("http") else base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req) as resp:
        text = resp.read()
        return json.loads(text) if text and resp.headers.get_content_type() == "application/json" else None

def upload(path, content):
    created = call("POST", "/v1/uploads", {"bucket": "default", "path": path, "size": len(content),
                                           "content_type": "text/plain", "multipart": False})
    return created

ready = upload("seed/ready.txt", b"hello fuzzers\n")
call("PUT", ready["upload"]["url"], raw=b"hello fuzzers\n", headers={"Content-Type": "text/plain"})
call("POST", f"/v1/uploads/{ready['file_id']}/complete", {})
for _ in range(300):
    if call("GET", f"/v1/files/{ready['file_id']}/status")["status"] == "ready":
        break
    time.sleep(0.1)
pending = upload("seed/pending.txt", b"x")
share = call("POST", f"/v1/files/{ready['file_id']}/shares", {"permission": "download"})
request = call("POST", "/v1/requests", {"parameters": {"patients": [1]}})
webhook = call("POST", "/v1/webhooks", {"url": "https://example.com/hook", "events": ["file.*"]})
bundle = call("POST", "/v1/archives", {"file_ids": [ready["file_id"]]})
key = call("POST", "/v1/admin/api-keys", {"name": "fuzz", "roles": ["reader"]})
share_token = share["url"].rstrip("/").rsplit("/", 1)[-1]
ids = [ready["file_id"], pending["file_id"], share["id"], request["id"], webhook["id"], bundle["id"], key["id"]]

def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"

with open(out, "w") as f:
    f.write(f"""[dictionaries.ids]
values = {toml_list(ids)}
[dictionaries.file_ids]
values = {toml_list([pending["file_id"], ready["file_id"]])}
[dictionaries.tokens]
values = {toml_list([share_token])}
[dictionaries.names]
values = {toml_list(["default"])}

[parameters]
"path.id" = {{ dictionary = "ids", probability = 0.5 }}
"path.file_id" = {{ dictionary = "file_ids", probability = 0.5 }}
"path.token" = {{ dictionary = "tokens", probability = 0.5 }}
"path.name" = {{ dictionary = "names", probability = 0.5 }}
"path.tenant" = {{ dictionary = "names", probability = 0.5 }}
"path.bucket" = {{ dictionary = "names", probability = 0.5 }}
""")
PYTHON

failed=0
total=0
for role in anonymous reader writer exchange admin superadmin; do
  headers=()
  if [ "$role" != anonymous ]; then
    token=$("$BIN" token --data-dir "$WORK/data" --role "$role" --sub "fuzz-$role")
    headers=(-H "Authorization: Bearer $token")
  fi
  set +e
  # One worker: with several, hypothesis's lambda-source cache (not thread-safe) makes
  # schemathesis 4.32 report runtime errors of its own ("AST constructor recursion depth").
  # From the work directory: schemathesis keeps a cache (.schemathesis/) where it runs.
  (cd "$WORK" && "$SCHEMATHESIS_BIN" --config-file "$WORK/schemathesis.toml" run "$BASE/openapi.json" "${headers[@]}" \
    --checks "$CHECKS" --phases examples,coverage,fuzzing --max-examples "$MAX_EXAMPLES" \
    --workers 1 --request-timeout 30 --continue-on-failure --no-color \
    --suppress-health-check all) >"$WORK/$role.log" 2>&1
  rc=$?
  set -e
  generated=$(grep -Eo '[0-9]+ generated' "$WORK/$role.log" | tail -n1 | grep -Eo '[0-9]+' || echo 0)
  total=$((total + generated))
  if [ "$rc" = 0 ]; then
    echo "$role: $generated requests, every check passed"
  else
    echo "$role: $generated requests, FAILED (exit $rc):"
    # The failing operations with the first lines of each failure, then the summary.
    grep -E -A12 '^_+ [A-Z]+ .* _+$' "$WORK/$role.log" | cut -c1-300 | head -n 150 || true
    sed -n '/^=* SUMMARY/,$p' "$WORK/$role.log" || true
    failed=1
  fi
done
if grep -q 'panicked' "$WORK/server.log"; then
  echo "the server panicked:"; grep -n 'panicked' "$WORK/server.log" | head; failed=1
fi
echo "total: $total generated requests over 6 principals; $([ $failed = 0 ] && echo 'no failures' || echo 'FAILURES above')"
exit $failed
