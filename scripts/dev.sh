#!/usr/bin/env bash
# Runs the stack locally for one person: a private PostgreSQL in a temporary directory and the
# backend in single-user mode (no sign-in). Ctrl-C stops everything and removes the temporary data.
#
#   scripts/dev.sh                # backend on http://127.0.0.1:8000
#   PORT=9000 scripts/dev.sh      # another port
#
# Settings given in the environment pass through to the services (see docs/configuration.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
apt_install python3 ca-certificates curl
ensure_postgres

WORK=$(mktemp -d /tmp/workcell-dev.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_postgres
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

log "building the backend"
cargo build --quiet -p backend

start_postgres "$WORK/pg"

export AUTH_MODE="${AUTH_MODE:-single_user}"
export SECRET_KEY="${SECRET_KEY:-$(head -c 32 /dev/urandom | base64)}"
export INTERNAL_API_TOKEN="${INTERNAL_API_TOKEN:-$(head -c 32 /dev/urandom | base64)}"
export S3_ENDPOINT="${S3_ENDPOINT:-http://127.0.0.1:9000}"
export S3_ACCESS_KEY="${S3_ACCESS_KEY:-workcell-dev}"
export S3_SECRET_KEY="${S3_SECRET_KEY:-workcell-dev-secret}"
export S3_BUCKET="${S3_BUCKET:-workcell}"
export HOST="${HOST:-127.0.0.1}" PORT="${PORT:-8000}"
export DEBUG="${DEBUG:-true}"

"$CARGO_TARGET_DIR/debug/backend" &
PIDS+=($!)
for _ in $(seq 1 100); do
  if curl -fsS "http://$HOST:$PORT/health/ready" >/dev/null 2>&1; then
    log "ready: backend on http://$HOST:$PORT (auth: $AUTH_MODE); try:"
    echo "  curl -s -X POST http://$HOST:$PORT/api/v1/tasks -H 'content-type: application/json' -d '{\"prompt\":\"hello\"}'"
    echo "  curl -s http://$HOST:$PORT/api/v1/sessions"
    log "Ctrl-C stops the stack"
    wait "${PIDS[0]}"
    exit $?
  fi
  kill -0 "${PIDS[0]}" 2>/dev/null || die "the backend exited during start-up"
  sleep 0.2
done
die "the backend did not become ready"
