#!/usr/bin/env bash
# Starts Workcell on this Docker host with docker-compose: writes .env with generated secrets (once;
# an existing .env is kept), builds the images, starts the stack, waits until every service is
# healthy and prints the URL.
#
#   scripts/quickstart.sh               # asks for the model API key (input hidden)
#   ANTHROPIC_AUTH_TOKEN=sk-ant-... scripts/quickstart.sh
#   scripts/quickstart.sh --r2          # Cloudflare R2 instead of RustFS (S3_ENDPOINT, S3_ACCESS_KEY,
#                                       # S3_SECRET_KEY, S3_BUCKET from the environment)
#   scripts/quickstart.sh --env-only    # only write .env
#
# ANTHROPIC_BASE_URL and DEFAULT_MODEL given in the environment go into .env too. The model key is
# never printed. See docs/deployment.md.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

R2=0
ENV_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --r2) R2=1 ;;
    --env-only) ENV_ONLY=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

COMPOSE_FILE_ARG=(-f docker-compose.yml)
[ "$R2" = 1 ] && COMPOSE_FILE_ARG=(-f docker-compose.r2.yml)

random_hex() { # random_hex BYTES
  if command -v openssl >/dev/null; then openssl rand -hex "$1"; else head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; fi
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# set_var FILE NAME VALUE: replaces `NAME=…` or `#NAME=…` in FILE; the value never reaches a
# command line (awk reads it from the environment).
set_var() {
  local file="$1"
  QS_NAME="$2" QS_VALUE="$3" awk '
    BEGIN { n = ENVIRON["QS_NAME"]; v = ENVIRON["QS_VALUE"]; done = 0 }
    !done && ($0 ~ "^#?" n "=") { print n "=" v; done = 1; next }
    { print }
    END { if (!done) print n "=" v }
  ' "$file" >"$file.tmp"
  cat "$file.tmp" >"$file"
  rm -f "$file.tmp"
}

write_env() {
  local key="${ANTHROPIC_AUTH_TOKEN:-${ANTHROPIC_API_KEY:-}}"
  if [ -z "$key" ]; then
    [ -t 0 ] || die "no model API key: set ANTHROPIC_AUTH_TOKEN (or run in a terminal to be asked)"
    read -rsp "Model API key (ANTHROPIC_AUTH_TOKEN, input hidden): " key
    echo >&2
    [ -n "$key" ] || die "no model API key given"
  fi
  local pg_password s3_access s3_secret ws root data gid sock
  pg_password=$(random_hex 24)
  root="$(pwd)"
  ws="$root/data/workspaces"
  data="./oss_data"
  sock="${DOCKER_SOCKET:-/var/run/docker.sock}"
  gid=$(stat -c %g "$sock" 2>/dev/null || echo 999)

  umask 077
  cp .env.example .env.tmp
  set_var .env.tmp ENVIRONMENT production
  set_var .env.tmp SECRET_KEY "$(random_hex 32)"
  set_var .env.tmp INTERNAL_API_TOKEN "$(random_hex 32)"
  set_var .env.tmp ENCRYPTION_KEY "$(random_hex 32)"
  set_var .env.tmp POSTGRES_PASSWORD "$pg_password"
  set_var .env.tmp DATABASE_URL "postgresql://postgres:$pg_password@postgres:5432/poco"
  set_var .env.tmp ANTHROPIC_AUTH_TOKEN "$key"
  [ -n "${ANTHROPIC_BASE_URL:-}" ] && set_var .env.tmp ANTHROPIC_BASE_URL "$ANTHROPIC_BASE_URL"
  [ -n "${DEFAULT_MODEL:-}" ] && set_var .env.tmp DEFAULT_MODEL "$DEFAULT_MODEL"
  set_var .env.tmp WORKSPACE_ROOT "$ws"
  set_var .env.tmp DOCKER_GID "$gid"
  if [ "$R2" = 1 ]; then
    local v
    for v in S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET; do
      [ -n "${!v:-}" ] || die "--r2 needs $v in the environment"
      set_var .env.tmp "$v" "${!v}"
    done
    set_var .env.tmp S3_REGION "${S3_REGION:-auto}"
    set_var .env.tmp S3_FORCE_PATH_STYLE "${S3_FORCE_PATH_STYLE:-false}"
    set_var .env.tmp S3_PUBLIC_ENDPOINT "${S3_PUBLIC_ENDPOINT:-$S3_ENDPOINT}"
  else
    s3_access="workcell-$(random_hex 6)"
    s3_secret=$(random_hex 24)
    set_var .env.tmp S3_ACCESS_KEY "$s3_access"
    set_var .env.tmp S3_SECRET_KEY "$s3_secret"
    set_var .env.tmp RUSTFS_DATA_DIR "$data"
  fi
  mv .env.tmp .env
  umask 022
  grep -v "^#" .env | grep -qi "change-this" && die ".env still holds a change-this placeholder"
  log "wrote .env with generated secrets (mode 600; keep it private)"
}

if [ -f .env ]; then
  log "keeping the existing .env"
else
  write_env
fi
[ "$ENV_ONLY" = 1 ] && exit 0

command -v docker >/dev/null || die "docker is not installed"
if docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose)
else
  die "neither 'docker compose' nor docker-compose is installed"
fi
COMPOSE+=("${COMPOSE_FILE_ARG[@]}")
env_value() { sed -n "s/^$1=//p" .env | tail -n 1; }

# Host directories the containers write to, owned by their users.
ws=$(env_value WORKSPACE_ROOT)
mkdir -p "$ws" 2>/dev/null || as_root mkdir -p "$ws"
as_root chown 1000:1000 "$ws"
if [ "$R2" = 0 ]; then
  data=$(env_value RUSTFS_DATA_DIR)
  data="${data:-./oss_data}"
  mkdir -p "$data" 2>/dev/null || as_root mkdir -p "$data"
  as_root chown 10001:10001 "$data"
fi

SERVICES=(postgres backend executor-manager)
[ "$R2" = 0 ] && SERVICES=(postgres rustfs rustfs-init backend executor-manager)
if [ -f web/package.json ]; then SERVICES+=(web); else log "web/ has no package.json: the web UI is left out"; fi
BUILD=(backend executor-manager)
[ -f web/package.json ] && BUILD+=(web)

log "building the images (the first build compiles the Rust workspace: several minutes)"
"${COMPOSE[@]}" build "${BUILD[@]}"
"${COMPOSE[@]}" --profile executor-image build executor-image

log "starting ${SERVICES[*]}"
"${COMPOSE[@]}" --profile rustfs-init up -d "${SERVICES[@]}"

log "waiting until the stack is healthy"
deadline=$(( $(date +%s) + 300 ))
for service in "${SERVICES[@]}"; do
  [ "$service" = rustfs-init ] && continue
  while :; do
    id=$("${COMPOSE[@]}" ps -q "$service")
    status=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || echo missing)
    [ "$status" = "running healthy" ] && break
    case "$status" in
      exited*|dead*|missing) "${COMPOSE[@]}" logs --tail 30 "$service" >&2; die "$service is $status" ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || { "${COMPOSE[@]}" logs --tail 30 "$service" >&2; die "$service is not healthy after 5 minutes ($status)"; }
    sleep 2
  done
  log "$service is healthy"
done
if [ "$R2" = 0 ]; then
  id=$("${COMPOSE[@]}" ps -q rustfs-init)
  [ "$(docker inspect -f '{{.State.ExitCode}}' "$id" 2>/dev/null)" = 0 ] \
    || { "${COMPOSE[@]}" logs rustfs-init >&2; die "rustfs-init could not create the bucket"; }
fi

web_port=$(env_value WEB_PORT); backend_port=$(env_value BACKEND_PORT)
if [ -f web/package.json ]; then
  log "Workcell is up: http://localhost:${web_port:-3000}  (API: http://localhost:${backend_port:-8000})"
else
  log "Workcell is up: API at http://localhost:${backend_port:-8000}"
fi
