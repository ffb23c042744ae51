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

# --- web UI (owned by the web UI; keep this block separate) -----------------------------------
# web_ui BACKEND_URL: builds web/ and serves it on WEB_PORT (default 3000) in the background, its
# API proxied to BACKEND_URL and its WebSocket pointed at the backend directly; sets WEB_PID.
# WEB=0 skips it.
web_ui() {
  [ "${WEB:-1}" = 1 ] || return 0
  ensure_web_deps
  local port="${WEB_PORT:-3000}" ws="${1/#http/ws}"
  log "building the web UI"
  (cd web && NEXT_TELEMETRY_DISABLED=1 NEXT_PUBLIC_WS_URL="$ws" node_modules/.bin/next build >"$WORK/web-build.log" 2>&1) \
    || { tail -n 30 "$WORK/web-build.log"; die "the web UI did not build"; }
  (cd web && exec env NEXT_TELEMETRY_DISABLED=1 BACKEND_URL="$1" node_modules/.bin/next start -H "$HOST" -p "$port" \
    >"$WORK/web.log" 2>&1) &
  WEB_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://$HOST:$port/login" 2>/dev/null && { log "web UI on http://$HOST:$port"; return 0; }
    kill -0 "$WEB_PID" 2>/dev/null || die "the web UI exited during start-up (see $WORK/web.log)"
    sleep 0.2
  done
  die "the web UI did not start"
}
# ------------------------------------------------------------------------------------------------

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
    web_ui "http://$HOST:$PORT" && PIDS+=("${WEB_PID:-}")
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
