#!/bin/sh
# Smoke test of the image: build it, start docker/compose.yml (PostgreSQL + pgvector, Redis, web,
# worker, beat) under a project name of its own, wait until GET /readyz/ answers 200 with every
# check passing, print that JSON, then remove the containers and their volume.
#
#   docker/smoke.sh              # from anywhere; needs a Docker engine and `docker compose`
#   SMOKE_TIMEOUT=900 docker/smoke.sh
#
# Exit status 0 only when /readyz/ reported ready; the JSON of the last answer goes to stdout,
# progress and, on failure, the services' logs to stderr. Nothing is left running.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
project="newsrec-smoke-$$"
timeout="${SMOKE_TIMEOUT:-600}"
port="${SMOKE_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"

export SECRET_KEY="smoke-$(python3 -c 'import secrets; print(secrets.token_urlsafe(40))')"
export WEB_PORT="$port"
export POSTGRES_PASSWORD="smoke$$"
compose() { docker compose -p "$project" -f "$here/compose.yml" "$@"; }

cleanup() {
    status=$?
    if [ "$status" -ne 0 ]; then
        echo "smoke: failed; the services' last log lines:" >&2
        compose logs --no-color --tail 40 >&2 || true
    fi
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    exit "$status"
}
trap cleanup EXIT INT TERM

echo "smoke: building the image and starting $project on port $port" >&2
compose up --build -d >&2

# One look at /readyz/: prints its JSON (with the HTTP status); succeeds only when it is ready.
probe() {
    python3 - "$port" <<'EOF'
import json, sys, urllib.error, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/readyz/"
try:
    with urllib.request.urlopen(url, timeout=10) as response:
        status, body = response.status, response.read()
except urllib.error.HTTPError as exc:
    status, body = exc.code, exc.read()
except OSError as exc:
    print(json.dumps({"http_status": None, "error": type(exc).__name__}))
    sys.exit(1)
try:
    details = json.loads(body)
except ValueError:
    details = {"body": body[:200].decode(errors="replace")}
print(json.dumps({"http_status": status, **details}))
sys.exit(0 if status == 200 and details.get("status") == "ready" else 1)
EOF
}

# The web container answers once migrate has run; /readyz/ is 200 once a worker answers too.
deadline=$(( $(date +%s) + timeout ))
while :; do
    if answer="$(probe)"; then
        echo "$answer"
        echo "smoke: /readyz/ is ready" >&2
        exit 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "$answer"
        echo "smoke: /readyz/ not ready within ${timeout}s" >&2
        exit 1
    fi
    sleep 5
done
