#!/usr/bin/env bash
# Starts the whole stack privately (PostgreSQL, s3s-fs, the scripted model, the real backend in
# password mode, the real executor manager with the process runtime — which runs the real executor
# binary and Claude Code CLI — and the built web UI), runs the browser test (Playwright) or a Node
# script against it, then stops everything. Every service listens on a free loopback port inside a
# temporary directory.
#
#   web/tests/e2e/stack.sh playwright [ARGS…]      # the browser test (from web/; `npm run e2e`):
#                                                  # `playwright test ARGS…` with playwright.config.ts
#   web/tests/e2e/stack.sh tests/bench.mjs         # the benchmark, or any Node script (from web/)
#
# EXECUTOR_POOL_TARGETS, when set, goes to the executor manager (pooled executors for new
# sessions, each with its CLI started ahead; the benchmark's new-session figure).
#
# Needs: cargo (it builds backend, executor-manager, executor and fake-llm; WEB_E2E_SKIP_CARGO_BUILD=1
# uses what $CARGO_TARGET_DIR/debug holds), CLAUDE_BIN, S3S_FS_BIN, chromium at /usr/bin/chromium
# (CHROMIUM_BIN) and web/node_modules.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WEB="$(cd "$HERE/../.." && pwd)"
ROOT="$(cd "$WEB/.." && pwd)"
source "$ROOT/scripts/lib.sh"
SCRIPT="${1:?usage: stack.sh playwright [ARGS…] | stack.sh SCRIPT.mjs}"
shift

WORK=$(mktemp -d /tmp/workcell-web-e2e.XXXXXX)
chmod 755 "$WORK"

PIDS=()
cleanup() {
  local rc=$?
  [ -f "$WORK/backend.pid" ] && PIDS+=("$(cat "$WORK/backend.pid")")
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_postgres
  if [ "$rc" -ne 0 ]; then
    log "failed; service logs:"
    for f in "$WORK"/*.log; do echo "--- $f (last 40 lines)"; tail -n 40 "$f"; done
  fi
  # Keep a Node script's screenshots in web/test-results (git-ignored; Playwright writes its own
  # there: traces and screenshots of failed steps, and test-results/screenshots).
  if [ -n "$(ls -A "$WORK/artifacts" 2>/dev/null)" ]; then
    rm -rf "$WEB/test-results"
    cp -r "$WORK/artifacts" "$WEB/test-results"
    log "screenshots: $WEB/test-results (copied from $WORK/artifacts)"
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

# This checkout's services. scripts/test.sh has just built them (WEB_E2E_SKIP_CARGO_BUILD=1).
# Otherwise they are built here and copied out at once. When several checkouts share one target
# directory, cargo may take another checkout's newer artifacts for fresh (the artifact names do not
# depend on where a checkout lives): WEB_E2E_TOUCH_SOURCES=1 touches this checkout's crates first.
BIN="$WORK/bin"
mkdir -p "$BIN"
if [ "${WEB_E2E_SKIP_CARGO_BUILD:-0}" != 1 ]; then
  log "building the services (incremental)"
  if [ "${WEB_E2E_TOUCH_SOURCES:-0}" = 1 ]; then
    find "$ROOT/crates" -path '*/src/*.rs' -exec touch {} +
  fi
  (cd "$ROOT" && cargo build --quiet -p backend -p executor-manager -p executor -p fake-llm)
fi
for b in backend executor-manager executor fake-llm; do
  cp "$CARGO_TARGET_DIR/debug/$b" "$BIN/$b" || die "$CARGO_TARGET_DIR/debug/$b is missing"
done
CLAUDE_BIN="${CLAUDE_BIN:-$WORKCELL_TOOLS/node_modules/.bin/claude}"
S3S_FS_BIN="${S3S_FS_BIN:-$WORKCELL_TOOLS/bin/s3s-fs}"
[ -x "$CLAUDE_BIN" ] || die "Claude Code CLI not found at $CLAUDE_BIN"
[ -x "$S3S_FS_BIN" ] || die "s3s-fs not found at $S3S_FS_BIN"


wait_http() { # URL NAME PID
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || die "$2 exited during start-up"
    sleep 0.2
  done
  die "$2 did not answer at $1"
}

start_postgres "$WORK/pg"

S3_PORT=$(free_port)
mkdir -p "$WORK/s3/workcell"
"$S3S_FS_BIN" --host 127.0.0.1 --port "$S3_PORT" --access-key web-e2e-access --secret-key web-e2e-s3-secret-value \
  "$WORK/s3" >"$WORK/s3s-fs.log" 2>&1 &
PIDS+=($!)

LLM_PORT=$(free_port)
LLM_KEY=web-e2e-model-key-0123456789
"$BIN/fake-llm" --listen "127.0.0.1:$LLM_PORT" --api-key "$LLM_KEY" --scenarios "$HERE/scenarios.json" \
  >"$WORK/fake-llm.out" 2>"$WORK/fake-llm.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$LLM_PORT/_admin/health" fake-llm "${PIDS[-1]}"

BACKEND_PORT=$(free_port)
MANAGER_PORT=$(free_port)
WEB_PORT=$(free_port)
# Fake but distinctive secrets: the test also proves none of them reaches the browser.
export WEB_E2E_SECRET_KEY=web-e2e-secret-key-do-not-leak-0123456789
export WEB_E2E_INTERNAL_TOKEN=web-e2e-internal-token-do-not-leak-0123
COMMON_S3=(S3_ENDPOINT="http://127.0.0.1:$S3_PORT" S3_ACCESS_KEY=web-e2e-access
  S3_SECRET_KEY=web-e2e-s3-secret-value S3_BUCKET=workcell)

# The page (web port) opens the backend's WebSocket directly: its origin must be listed. The test
# is one account working through a dozen sessions in about two minutes, much faster than a person:
# the per-user rate limit is raised (300 a minute by default) so its last steps are not refused.
BACKEND_ENV=("${COMMON_S3[@]}" DATABASE_URL="$DATABASE_URL" SECRET_KEY="$WEB_E2E_SECRET_KEY"
  INTERNAL_API_TOKEN="$WEB_E2E_INTERNAL_TOKEN" AUTH_MODE=password REGISTRATION=open HOST=127.0.0.1 PORT="$BACKEND_PORT"
  CORS_ORIGINS="[\"http://127.0.0.1:$WEB_PORT\"]" RATE_LIMIT_PER_MINUTE=1200
  EXECUTOR_MANAGER_URL="http://127.0.0.1:$MANAGER_PORT" RUN_RETRY_BACKOFF_SECONDS=0)
# The test stops and restarts the backend (same port) to see the UI reconnect and resume:
# `backend-ctl.sh stop|start`. Its pid lives in backend.pid.
{
  echo '#!/usr/bin/env bash'
  echo 'set -euo pipefail'
  printf 'PIDFILE=%q\n' "$WORK/backend.pid"
  echo 'case "$1" in'
  echo '  stop) p=$(cat "$PIDFILE"); kill "$p"; while kill -0 "$p" 2>/dev/null; do sleep 0.1; done ;;'
  printf '  start) env %s %q >>%q 2>&1 </dev/null &\n' "$(printf '%q ' "${BACKEND_ENV[@]}")" "$BIN/backend" "$WORK/backend.log"
  echo '    echo $! >"$PIDFILE"'
  printf '    for _ in $(seq 1 150); do curl -fsS -o /dev/null %q 2>/dev/null && exit 0; sleep 0.2; done; exit 1 ;;\n' \
    "http://127.0.0.1:$BACKEND_PORT/health/ready"
  echo 'esac'
} >"$WORK/backend-ctl.sh"
chmod 700 "$WORK/backend-ctl.sh"
"$WORK/backend-ctl.sh" start || die "the backend did not start"

mkdir -p "$WORK/workspaces"
env "${COMMON_S3[@]}" BACKEND_URL="http://127.0.0.1:$BACKEND_PORT" INTERNAL_API_TOKEN="$WEB_E2E_INTERNAL_TOKEN" \
  CALLBACK_BASE_URL="http://127.0.0.1:$MANAGER_PORT" WORKSPACE_ROOT="$WORK/workspaces" HOST=127.0.0.1 \
  PORT="$MANAGER_PORT" EXECUTOR_RUNTIME=process EXECUTOR_BIN="$BIN/executor" CLAUDE_BIN="$CLAUDE_BIN" \
  ANTHROPIC_BASE_URL="http://127.0.0.1:$LLM_PORT" ANTHROPIC_AUTH_TOKEN="$LLM_KEY" \
  TASK_CLAIM_WAIT_SECONDS=2 TASK_PULL_INTERVAL_SECONDS=1 TASK_CLAIM_LEASE_SECONDS=30 \
  SHUTDOWN_TIMEOUT_SECONDS=5 MANAGER_ID=web-e2e \
  ${EXECUTOR_POOL_TARGETS:+EXECUTOR_POOL_TARGETS="$EXECUTOR_POOL_TARGETS"} \
  "$BIN/executor-manager" >"$WORK/manager.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MANAGER_PORT/health" executor-manager "${PIDS[-1]}"

# The browser reaches the backend's WebSocket directly (the Next.js proxy cannot upgrade), so the
# build gets its URL. The secrets are in the build's environment on purpose (see above).
log "building the web UI"
(cd "$WEB" && env NEXT_TELEMETRY_DISABLED=1 NEXT_PUBLIC_WS_URL="ws://127.0.0.1:$BACKEND_PORT" \
  SECRET_KEY="$WEB_E2E_SECRET_KEY" INTERNAL_API_TOKEN="$WEB_E2E_INTERNAL_TOKEN" \
  node_modules/.bin/next build >"$WORK/web-build.log" 2>&1) || { cat "$WORK/web-build.log"; die "the web build failed"; }
# S3_PUBLIC_ENDPOINT: the storage the pages may show images from (their CSP, src/lib/csp.ts).
(cd "$WEB" && exec env NEXT_TELEMETRY_DISABLED=1 BACKEND_URL="http://127.0.0.1:$BACKEND_PORT" \
  S3_PUBLIC_ENDPOINT="http://127.0.0.1:$S3_PORT" \
  node --require ./server/client-ip.cjs node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$WEB_PORT" \
  >"$WORK/web.log" 2>&1) &
PIDS+=($!)
wait_http "http://127.0.0.1:$WEB_PORT/login" web "${PIDS[-1]}"

mkdir -p "$WORK/artifacts"
log "stack ready: web http://127.0.0.1:$WEB_PORT, backend :$BACKEND_PORT, manager :$MANAGER_PORT, model :$LLM_PORT"
STACK_ENV=(WEB_URL="http://127.0.0.1:$WEB_PORT" BACKEND_URL="http://127.0.0.1:$BACKEND_PORT"
  LLM_URL="http://127.0.0.1:$LLM_PORT" BACKEND_CTL="$WORK/backend-ctl.sh")
if [ "$SCRIPT" = playwright ]; then
  (cd "$WEB" && env "${STACK_ENV[@]}" ARTIFACTS="$WEB/test-results/screenshots" node_modules/.bin/playwright test "$@")
else
  (cd "$WEB" && env "${STACK_ENV[@]}" ARTIFACTS="$WORK/artifacts" node "$SCRIPT" "$@")
fi
