#!/usr/bin/env bash
# Runs everything a task needs on one machine, for one person:
#   - a private PostgreSQL in a temporary directory;
#   - a local S3 server (s3s-fs, installed once into ~/.cache/workcell-tools) unless S3_ENDPOINT is set;
#   - the backend, in single-user mode (no sign-in);
#   - the executor manager: the docker runtime when a Docker engine answers (DOCKER_HOST or the
#     default socket), else the process runtime (executors as child processes, NOT isolated; the
#     Claude Code CLI is installed locally on first use);
#   - with WORKCELL_FAKE_LLM=1, the scripted model server instead of a real model (a demo).
#   - the web UI (built once per start, served on WEB_PORT, default 3000; WEB=0 skips it);
# Ctrl-C stops everything and removes the temporary data (database, objects, workspaces).
#
#   ANTHROPIC_AUTH_TOKEN=sk-... scripts/dev.sh      # a real model
#   WORKCELL_FAKE_LLM=1 scripts/dev.sh              # the scripted model (try "[scenario:write_file] hi")
#   PORT=9000 scripts/dev.sh                        # the backend on another port
#
# Settings given in the environment pass through to the services (docs/configuration.md), e.g.
# ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN, DEFAULT_MODEL, EXECUTOR_RUNTIME, EXECUTOR_IMAGE, S3_*.
# Also: MANAGER_PORT (default 8001), WORKCELL_DEV_DIR (the temporary directory; default: a new
# one under /tmp; removed at exit either way).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

PIDS=()
NAMES=()

# ---------------------------------------------------------------------------------------------
# Set-up and teardown
# ---------------------------------------------------------------------------------------------

# spawn NAME CMD...: starts a service in the background, its output prefixed with its name.
spawn() {
  local name="$1"; shift
  # The prefixer ignores Ctrl-C: it ends when the service closes its output, so a service's last
  # lines (its shutdown) are not lost to a closed pipe.
  "$@" > >(trap '' INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  log "stopping"
  # Reverse order: the manager first (it stops its executors and gives back its runs), the
  # backend, then the stores.
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
    # The manager may first wait out a pending claim (TASK_CLAIM_WAIT_SECONDS, 5 here) and then
    # its runs (SHUTDOWN_TIMEOUT_SECONDS, 10 here) before it removes its containers.
    for _ in $(seq 1 300); do kill -0 "${PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${PIDS[$i]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  stop_postgres
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  log "stopped; temporary data removed"
  exit "$rc"
}

# wait_http NAME URL: waits until URL answers 2xx (or the service exits).
wait_http() {
  local name="$1" url="$2" pid="${PIDS[-1]}"
  for _ in $(seq 1 300); do
    curl -fsS "$url" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || die "$name exited during start-up"
    sleep 0.2
  done
  die "$name did not become ready at $url"
}

docker_answers() {
  command -v docker >/dev/null && timeout 10 docker version >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# The model: a real one (a key in the environment) or the scripted server (WORKCELL_FAKE_LLM=1)
# ---------------------------------------------------------------------------------------------

check_model() {
  if [ "${WORKCELL_FAKE_LLM:-0}" = 1 ]; then return 0; fi
  if [ -z "${ANTHROPIC_AUTH_TOKEN:-}" ]; then
    cat >&2 <<'EOF'
error: no model key. The agent needs a model API token; set one and run again:

  ANTHROPIC_AUTH_TOKEN=sk-ant-... scripts/dev.sh
  # optional: ANTHROPIC_BASE_URL=https://your-gateway  DEFAULT_MODEL=claude-sonnet-4-20250514

Or try the stack without a model, against the scripted model server (a demo: it answers from
crates/fake-llm/scenarios/example.json; a prompt containing "[scenario:write_file]" writes out.txt):

  WORKCELL_FAKE_LLM=1 scripts/dev.sh
EOF
    exit 2
  fi
}

# start_fake_model HOST: the scripted model server on HOST (reachable by the executors).
start_fake_model() {
  local host="$1" port
  port=$(free_port)
  local key
  key="fake-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  spawn model "$CARGO_TARGET_DIR/debug/fake-llm" --listen "$host:$port" --api-key "$key" \
    --scenarios "${FAKE_LLM_SCENARIOS:-crates/fake-llm/scenarios/example.json}"
  wait_http model "http://$host:$port/_admin/health"
  export ANTHROPIC_BASE_URL="http://$host:$port"
  export ANTHROPIC_AUTH_TOKEN="$key"
  MODEL_URL="$ANTHROPIC_BASE_URL"
  # The executors' firewall lets them reach this host port (restricted egress policy).
  FAKE_MODEL_PORT="$port"
}

# ---------------------------------------------------------------------------------------------
# Stores: PostgreSQL and S3
# ---------------------------------------------------------------------------------------------

start_database() {
  start_postgres "$WORK/pg"
}

start_s3() {
  export S3_ACCESS_KEY="${S3_ACCESS_KEY:-workcell-dev}"
  export S3_SECRET_KEY="${S3_SECRET_KEY:-workcell-dev-secret}"
  export S3_BUCKET="${S3_BUCKET:-workcell}"
  if [ -n "${S3_ENDPOINT:-}" ]; then
    log "using the S3 server at $S3_ENDPOINT (bucket $S3_BUCKET must exist)"
    return 0
  fi
  ensure_s3s_fs
  local port
  port=$(free_port)
  mkdir -p "$WORK/s3/$S3_BUCKET"
  # On the address executors reach this host at (the Docker bridge's gateway; loopback for the
  # process runtime): they fetch attachments and skill files through presigned URLs.
  spawn s3 "$S3S_FS_BIN" --host "$EXECUTOR_HOST" --port "$port" \
    --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$WORK/s3"
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/$EXECUTOR_HOST/$port") 2>/dev/null && break
    sleep 0.1
  done
  S3_PORT="$port"
  export S3_ENDPOINT="http://$EXECUTOR_HOST:$port"
  log "S3 (s3s-fs) on $S3_ENDPOINT, objects in $WORK/s3/$S3_BUCKET"
}

# ---------------------------------------------------------------------------------------------
# Backend
# ---------------------------------------------------------------------------------------------

start_backend() {
  BACKEND_URL="http://$BACKEND_HOST:$BACKEND_PORT"
  # The web UI's page opens the backend's WebSocket directly (another port): its origin must be
  # among CORS_ORIGINS. Single-user mode refuses a non-loopback HOST unless
  # ALLOW_SINGLE_USER_ON_NETWORK=true is given (it passes through).
  local web_port="${WEB_PORT:-3000}"
  export CORS_ORIGINS="${CORS_ORIGINS:-[\"http://$BACKEND_HOST:$web_port\",\"http://localhost:$web_port\",\"http://127.0.0.1:$web_port\"]}"
  spawn backend env HOST="$BACKEND_HOST" PORT="$BACKEND_PORT" \
    EXECUTOR_MANAGER_URL="http://$EXECUTOR_HOST:$MANAGER_PORT" "$CARGO_TARGET_DIR/debug/backend"
  wait_http backend "$BACKEND_URL/health/ready"
}

# ---------------------------------------------------------------------------------------------
# Executor manager (docker runtime when a Docker engine answers, else the process runtime)
# ---------------------------------------------------------------------------------------------

# bridge_gateway: the host's address on Docker's default bridge (where containers reach it).
bridge_gateway() {
  local gw subnet
  gw=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)
  if [ -z "$gw" ]; then
    # Older engines leave the gateway out: the bridge's first address is the host's.
    subnet=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null || true)
    [ -n "$subnet" ] && gw=$(python3 -c 'import ipaddress,sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' "$subnet")
  fi
  echo "$gw"
}

# pick_runtime: sets RUNTIME and EXECUTOR_HOST (where executors reach the manager and the model).
pick_runtime() {
  if [ -z "${EXECUTOR_RUNTIME:-}" ]; then
    if docker_answers; then EXECUTOR_RUNTIME=docker; else EXECUTOR_RUNTIME=process; fi
  fi
  case "$EXECUTOR_RUNTIME" in
    docker)
      docker_answers || die "EXECUTOR_RUNTIME=docker but no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset})"
      EXECUTOR_HOST=$(bridge_gateway)
      [ -n "$EXECUTOR_HOST" ] || die "cannot find the Docker bridge's gateway (containers reach the manager there)"
      ;;
    process)
      EXECUTOR_HOST=127.0.0.1
      ;;
    *) die "EXECUTOR_RUNTIME must be docker or process" ;;
  esac
  export EXECUTOR_RUNTIME
}

# ensure_executor_image: EXECUTOR_IMAGE, or workcell/executor:latest, or (when that does not
# exist) an image equivalent to the tests' one, built from the local executor binary and CLI.
ensure_executor_image() {
  if [ -n "${EXECUTOR_IMAGE:-}" ]; then return 0; fi
  if docker image inspect workcell/executor:latest >/dev/null 2>&1; then
    export EXECUTOR_IMAGE=workcell/executor:latest
    return 0
  fi
  ensure_claude_cli
  log "no workcell/executor:latest image: building workcell/executor-test:dev (equivalent to the tests' image: a local Debian base, this executor binary, the Claude Code CLI, user 1000)"
  EXECUTOR_BIN="$CARGO_TARGET_DIR/debug/executor" CLAUDE_BIN="$CLAUDE_BIN" \
    crates/executor-manager/tests/docker-env.sh --images-only >/dev/null
  export EXECUTOR_IMAGE=workcell/executor-test:dev
}

start_manager() {
  local root="$WORK/workspaces"
  mkdir -p "$root"
  if [ "$EXECUTOR_RUNTIME" = docker ]; then
    ensure_executor_image
    log "executor manager: docker runtime, image $EXECUTOR_IMAGE"
    # The restricted egress policy (the default) installs iptables rules: root and iptables.
    ensure_iptables
    if [ -z "${EXECUTOR_EGRESS_POLICY:-}" ]; then
      if [ "$(id -u)" -eq 0 ] && command -v iptables >/dev/null; then
        export EXECUTOR_EGRESS_POLICY=restricted
      else
        log "WARNING: not root (or no iptables): EXECUTOR_EGRESS_POLICY=open - executors can reach every port of this host"
        export EXECUTOR_EGRESS_POLICY=open
      fi
    fi
    if [ -n "${FAKE_MODEL_PORT:-}" ]; then
      export EXECUTOR_EGRESS_HOST_PORTS="${EXECUTOR_EGRESS_HOST_PORTS:+$EXECUTOR_EGRESS_HOST_PORTS,}$FAKE_MODEL_PORT"
    fi
    # The local S3 server, for the presigned URLs of attachments and skill files.
    if [ -n "${S3_PORT:-}" ]; then
      export EXECUTOR_EGRESS_HOST_PORTS="${EXECUTOR_EGRESS_HOST_PORTS:+$EXECUTOR_EGRESS_HOST_PORTS,}$S3_PORT"
    fi
  else
    ensure_claude_cli
    log "executor manager: process runtime (no Docker engine answers): executors run as plain processes, NOT isolated"
    export EXECUTOR_BIN="${EXECUTOR_BIN:-$CARGO_TARGET_DIR/debug/executor}"
  fi
  MANAGER_URL="http://$EXECUTOR_HOST:$MANAGER_PORT"
  spawn manager env HOST="$EXECUTOR_HOST" PORT="$MANAGER_PORT" \
    BACKEND_URL="$BACKEND_URL" CALLBACK_BASE_URL="$MANAGER_URL" \
    WORKSPACE_ROOT="${WORKSPACE_ROOT:-$root}" \
    SHUTDOWN_TIMEOUT_SECONDS="${SHUTDOWN_TIMEOUT_SECONDS:-10}" \
    TASK_CLAIM_WAIT_SECONDS="${TASK_CLAIM_WAIT_SECONDS:-5}" \
    "$CARGO_TARGET_DIR/debug/executor-manager"
  wait_http manager "$MANAGER_URL/health/ready"
}


# --- web UI -------------------------------------------------------------------------------------
# start_web: builds web/ and serves it on WEB_PORT (default 3000), its API proxied to the backend
# and its WebSocket pointed at the backend directly; sets WEB_URL. WEB=0 skips it.
start_web() {
  WEB_URL=""
  [ "${WEB:-1}" = 1 ] || return 0
  ensure_web_deps
  local port="${WEB_PORT:-3000}" ws="${BACKEND_URL/#http/ws}"
  log "building the web UI"
  (cd web && NEXT_TELEMETRY_DISABLED=1 NEXT_PUBLIC_WS_URL="$ws" node_modules/.bin/next build >"$WORK/web-build.log" 2>&1) \
    || { tail -n 30 "$WORK/web-build.log"; die "the web UI did not build"; }
  # client-ip.cjs records each browser's address for the proxy's X-Forwarded-For.
  spawn web env NEXT_TELEMETRY_DISABLED=1 BACKEND_URL="$BACKEND_URL" \
    node --require "$PWD/web/server/client-ip.cjs" "$PWD/web/node_modules/next/dist/bin/next" start "$PWD/web" \
    -H "$BACKEND_HOST" -p "$port"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "http://$BACKEND_HOST:$port/login" 2>/dev/null; then
      WEB_URL="http://$BACKEND_HOST:$port"
      return 0
    fi
    sleep 0.2
  done
  die "the web UI did not start (see its lines above)"
}
# ------------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

check_model
ensure_rust
apt_install python3 ca-certificates curl
ensure_postgres

WORK="${WORKCELL_DEV_DIR:-$(mktemp -d /tmp/workcell-dev.XXXXXX)}"
mkdir -p "$WORK"
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BACKEND_HOST="${HOST:-127.0.0.1}"
BACKEND_PORT="${PORT:-8000}"
MANAGER_PORT="${MANAGER_PORT:-8001}"
unset HOST PORT

export AUTH_MODE="${AUTH_MODE:-single_user}"
export SECRET_KEY="${SECRET_KEY:-$(head -c 32 /dev/urandom | base64)}"
export INTERNAL_API_TOKEN="${INTERNAL_API_TOKEN:-$(head -c 32 /dev/urandom | base64)}"
export DEBUG="${DEBUG:-true}"

log "building the services"
packages=(-p backend -p executor-manager -p executor)
[ "${WORKCELL_FAKE_LLM:-0}" = 1 ] && packages+=(-p fake-llm)
cargo build --quiet "${packages[@]}"

pick_runtime
start_database
start_s3
start_backend
[ "${WORKCELL_FAKE_LLM:-0}" = 1 ] && start_fake_model "$EXECUTOR_HOST"
start_manager
start_web

log "ready (Ctrl-C stops everything)"
echo "  backend API      $BACKEND_URL   (auth: $AUTH_MODE)"
echo "  executor manager $MANAGER_URL   (runtime: $EXECUTOR_RUNTIME)"
echo "  S3               $S3_ENDPOINT   (bucket: $S3_BUCKET)"
[ -n "${MODEL_URL:-}" ] && echo "  scripted model   $MODEL_URL"
[ -n "${WEB_URL:-}" ] && echo "  web UI           $WEB_URL"
echo "  data             $WORK"
prompt="Write hello to out.txt"
[ "${WORKCELL_FAKE_LLM:-0}" = 1 ] && prompt="[scenario:write_file] $prompt"
echo "try:"
echo "  curl -s -X POST $BACKEND_URL/api/v1/tasks -H 'content-type: application/json' -d '{\"prompt\":\"$prompt\"}'"
echo "  curl -s $BACKEND_URL/api/v1/sessions"
echo "  curl -s $BACKEND_URL/api/v1/runs/RUN_ID"

# Runs until Ctrl-C, or until a service exits (then everything stops).
set +e
wait -n "${PIDS[@]}"
rc=$?
set -e
for i in "${!PIDS[@]}"; do
  kill -0 "${PIDS[$i]}" 2>/dev/null || log "${NAMES[$i]} exited (status $rc)"
done
exit 1
