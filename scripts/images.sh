#!/usr/bin/env bash
# The deployment tests: the compose files, the Dockerfiles and the built images.
#
#   source scripts/images.sh; compose_tests     # docker-compose config checks (no daemon needed)
#   source scripts/images.sh; image_tests       # base images, builds, end to end (needs DOCKER_HOST,
#                                               # DATABASE_URL/PG_PORT, S3S_FS_BIN, a debug build)
#   scripts/images.sh [compose|compose-e2e|base|build|e2e|all]   # standalone, against $DOCKER_HOST
#
# No image registry is reachable here, so the upstream base images the Dockerfiles name are made
# locally and tagged with exactly those names; the Dockerfiles then build unchanged:
#   debian:bookworm-slim      the debootstrap image of tests/docker-env.sh (workcell/debian-base)
#   rust:1.95-slim-bookworm   that + gcc/libc6-dev + this host's Rust toolchain in /usr/local
#   node:20-bookworm-slim     that + this host's nodejs package (node and npm)
# Builds need crates.io, npm and Debian: `docker build --network host`.
# Images are tagged workcell/<service>:dev.

IMAGES_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE_TAG="${IMAGE_TAG:-dev}"
WEB_BUILT=0

# ---------------------------------------------------------------------------------------------
# docker-compose config

# compose_config ENVFILE FILE: `docker-compose config` with only ENVFILE's variables (the
# caller's environment would otherwise fill in what the file lacks).
compose_config() {
  local envfile="$1" file="$2"
  env -i PATH="$PATH" HOME="${HOME:-/root}" \
    docker-compose --project-directory "$IMAGES_REPO" --env-file "$envfile" -f "$IMAGES_REPO/$file" config
}

compose_tests() {
  command -v docker-compose >/dev/null || die "docker-compose is not installed"
  local tmp out var services
  tmp=$(mktemp -d)
  for file in docker-compose.yml docker-compose.r2.yml; do
    out=$(compose_config "$IMAGES_REPO/.env.example" "$file" 2>&1) \
      || { echo "$out" >&2; rm -rf "$tmp"; die "$file is refused with the example environment"; }
    services=$(env -i PATH="$PATH" HOME="${HOME:-/root}" docker-compose --project-directory "$IMAGES_REPO" \
      --env-file "$IMAGES_REPO/.env.example" -f "$IMAGES_REPO/$file" config --services | sort | tr '\n' ' ')
    log "compose: $file accepted with .env.example (services: $services)"
  done
  for want in postgres rustfs backend executor-manager web; do
    compose_config "$IMAGES_REPO/.env.example" docker-compose.yml | grep -q "^  $want:$" \
      || die "docker-compose.yml has no $want service"
  done
  # Neither the API nor the manager listens beyond this host unless told to.
  for file in docker-compose.yml docker-compose.r2.yml; do
    out=$(compose_config "$IMAGES_REPO/.env.example" "$file")
    grep -q -- "- 127.0.0.1:8000:8000/tcp" <<<"$out" || die "$file: the backend's port is not bound to 127.0.0.1"
    grep -q "HOST: 172.17.0.1" <<<"$out" || die "$file: the executor manager does not listen on the docker0 gateway"
  done
  log "compose: the backend's port is on 127.0.0.1 and the manager listens on 172.17.0.1 by default"
  compose_config "$IMAGES_REPO/.env.example" docker-compose.r2.yml | grep -q "^  rustfs:$" \
    && die "docker-compose.r2.yml must not run rustfs"
  for var in S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET; do
    grep -v "^$var=" "$IMAGES_REPO/.env.example" >"$tmp/env"
    if out=$(compose_config "$tmp/env" docker-compose.r2.yml 2>&1); then
      rm -rf "$tmp"
      die "docker-compose.r2.yml accepted an environment without $var"
    fi
    grep -q "$var" <<<"$out" || { echo "$out" >&2; rm -rf "$tmp"; die "the refusal does not name $var"; }
  done
  log "compose: docker-compose.r2.yml refuses a missing S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY or S3_BUCKET"
  # R2 defaults: region auto, virtual-hosted addressing.
  grep -v '^S3_REGION=\|^S3_FORCE_PATH_STYLE=' "$IMAGES_REPO/.env.example" >"$tmp/env"
  out=$(compose_config "$tmp/env" docker-compose.r2.yml)
  grep -q "S3_REGION: auto" <<<"$out" || die "docker-compose.r2.yml: S3_REGION does not default to auto"
  grep -Eq "S3_FORCE_PATH_STYLE: ['\"]false['\"]" <<<"$out" || die "docker-compose.r2.yml: S3_FORCE_PATH_STYLE does not default to false"
  rm -rf "$tmp"
  log "compose: R2 defaults S3_REGION=auto, S3_FORCE_PATH_STYLE=false"
  quickstart_env_test
}

# scripts/quickstart.sh --env-only in a scratch copy: .env gets generated secrets (no placeholder
# left, private mode), the model key from the environment without printing it, and compose
# accepts the result.
quickstart_env_test() {
  local tmp key out
  tmp=$(mktemp -d)
  mkdir -p "$tmp/scripts"
  cp "$IMAGES_REPO/.env.example" "$IMAGES_REPO"/docker-compose*.yml "$tmp/"
  cp -r "$IMAGES_REPO/docker" "$tmp/"
  cp "$IMAGES_REPO/scripts/quickstart.sh" "$tmp/scripts/"
  key="sk-quickstart-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  out=$(cd "$tmp" && env -i PATH="$PATH" HOME="${HOME:-/root}" ANTHROPIC_AUTH_TOKEN="$key" \
    bash scripts/quickstart.sh --env-only 2>&1) || { echo "$out" >&2; rm -rf "$tmp"; die "quickstart.sh --env-only failed"; }
  local problem=""
  grep -qF "$key" <<<"$out" && problem="it printed the model key"
  grep -qxF "ANTHROPIC_AUTH_TOKEN=$key" "$tmp/.env" || problem="the model key is not in .env"
  grep -v "^#" "$tmp/.env" | grep -qi "change-this" && problem=".env still holds a change-this placeholder"
  [ "$(stat -c %a "$tmp/.env")" = 600 ] || problem=".env is not private (mode $(stat -c %a "$tmp/.env"))"
  local v len
  for v in SECRET_KEY INTERNAL_API_TOKEN ENCRYPTION_KEY; do
    len=$(sed -n "s/^$v=//p" "$tmp/.env" | tr -d '\n' | wc -c)
    [ "$len" -ge 32 ] || problem="$v has $len bytes"
  done
  grep -q "^DATABASE_URL=postgresql://postgres:$(sed -n 's/^POSTGRES_PASSWORD=//p' "$tmp/.env")@postgres:5432/poco$" "$tmp/.env" \
    || problem="DATABASE_URL does not carry POSTGRES_PASSWORD"
  [ -z "$problem" ] && { compose_config "$tmp/.env" docker-compose.yml >/dev/null 2>&1 || problem="compose refuses the written .env"; }
  rm -rf "$tmp"
  [ -z "$problem" ] || die "quickstart.sh --env-only: $problem"
  log "compose: quickstart.sh writes a private .env with generated secrets that compose accepts"
}

# ---------------------------------------------------------------------------------------------
# Base images

# build_from_tar NAME: builds image NAME from a tar stream (Dockerfile + files) on stdin.
build_from_tar() {
  docker build --network host -q -t "$1" - >/dev/null
}

make_base_images() {
  local base=workcell/debian-base:bookworm tmp
  docker image inspect "$base" >/dev/null 2>&1 \
    || die "$base is missing (crates/executor-manager/tests/docker-env.sh makes it)"
  if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    # The host's own extra CA certificates (an egress proxy's, if any) go in too, so builds
    # reach crates.io, npm and Debian from here the way the host does.
    tmp=$(mktemp -d)
    mkdir -p "$tmp/ca"
    cp /usr/local/share/ca-certificates/*.crt "$tmp/ca/" 2>/dev/null || true
    cat >"$tmp/Dockerfile" <<'DOCKERFILE'
FROM workcell/debian-base:bookworm
COPY ca /usr/local/share/ca-certificates
RUN update-ca-certificates >/dev/null
DOCKERFILE
    tar -c -C "$tmp" Dockerfile ca | build_from_tar debian:bookworm-slim
    rm -rf "$tmp"
    log "made debian:bookworm-slim (debootstrap minbase + this host's CA certificates)"
  fi
  if ! docker image inspect rust:1.95-slim-bookworm >/dev/null 2>&1; then
    local tc
    tc="$(rustc --print sysroot)"
    [ -x "$tc/bin/cargo" ] || die "no cargo in the toolchain at $tc"
    log "making rust:1.95-slim-bookworm from $tc (a minute or two)"
    tmp=$(mktemp -d)
    cat >"$tmp/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY bin /usr/local/bin
COPY lib /usr/local/lib
COPY libexec /usr/local/libexec
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin RUST_VERSION=1.95.0
RUN cargo --version && rustc --version
DOCKERFILE
    tar -c -C "$tmp" Dockerfile -C "$tc" bin lib libexec | build_from_tar rust:1.95-slim-bookworm
    rm -rf "$tmp"
  fi
  if ! docker image inspect node:20-bookworm-slim >/dev/null 2>&1; then
    command -v node >/dev/null && [ -d /usr/lib/node_modules/npm ] \
      || die "node and npm (/usr/lib/node_modules/npm) are needed to make node:20-bookworm-slim"
    log "making node:20-bookworm-slim from this host's node $(node --version)"
    tmp=$(mktemp -d)
    cat >"$tmp/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
COPY usr /usr
# Node bundles its own CA list: point it (and npm) at the system's, as on the host.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN mkdir -p /usr/etc && printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >/usr/etc/npmrc \
 && ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm \
 && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/bin/npx \
 && node --version && npm --version
CMD ["node"]
DOCKERFILE
    tar -c -C "$tmp" Dockerfile -C / --exclude=usr/lib/node_modules/npm/man usr/bin/node usr/lib/node_modules/npm \
      | build_from_tar node:20-bookworm-slim
    rm -rf "$tmp"
  fi
}

# ---------------------------------------------------------------------------------------------
# Builds

# build_image SERVICE: docker/SERVICE.Dockerfile → workcell/SERVICE:$IMAGE_TAG.
build_image() {
  local service="$1" start
  start=$(date +%s)
  docker build --network host -q -f "$IMAGES_REPO/docker/$service.Dockerfile" \
    -t "workcell/$service:$IMAGE_TAG" "$IMAGES_REPO" >/dev/null \
    || die "docker/$service.Dockerfile does not build"
  log "built workcell/$service:$IMAGE_TAG in $(( $(date +%s) - start )) s ($(docker image inspect -f '{{.Size}}' "workcell/$service:$IMAGE_TAG" | awk '{printf "%d MB", $1/1000000}'))"
}

build_images() {
  # The backend first: it compiles the shared builder stage; the other two reuse its layers.
  build_image backend
  build_image executor-manager
  build_image executor
  if [ -f "$IMAGES_REPO/web/package.json" ]; then
    build_image web
    WEB_BUILT=1
  else
    log "web/package.json does not exist: docker/web.Dockerfile not built"
  fi
  # Every image runs as a non-root user.
  local service user
  for service in backend executor-manager executor $([ "$WEB_BUILT" = 1 ] && echo web); do
    user=$(docker image inspect -f '{{.Config.User}}' "workcell/$service:$IMAGE_TAG")
    case "$user" in ""|0|0:*|root|root:*) die "workcell/$service runs as root";; esac
    docker image inspect -f '{{.Config.Healthcheck.Test}}' "workcell/$service:$IMAGE_TAG" | grep -q . \
      || die "workcell/$service has no HEALTHCHECK"
  done
  [ "$(docker run --rm --entrypoint id "workcell/executor:$IMAGE_TAG" -u)" = 1000 ] \
    || die "the executor image does not run as uid 1000"
  docker run --rm --entrypoint sh "workcell/executor:$IMAGE_TAG" -c \
    'git --version >/dev/null && claude --version | grep -q 2.1.330 && test -d /workspace -a -w /workspace && test -s /etc/ssl/certs/ca-certificates.crt' \
    || die "the executor image lacks git, the Claude Code CLI 2.1.330, a writable /workspace or CA certificates"
  log "images run as non-root users with health checks; the executor image has git, CA certificates and claude 2.1.330"
}

# ---------------------------------------------------------------------------------------------
# End to end with the built images

# s3_get KEY: the object through the S3 API (SigV4-signed; s3s-fs checks signatures).
s3_get() {
  curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$E2E_S3_ACCESS:$E2E_S3_SECRET" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$E2E_S3/$E2E_BUCKET/$1"
}

# SHA-256 of an empty body: S3 wants it in x-amz-content-sha256, which curl's SigV4 does not add.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

# wait_healthy CONTAINER SECONDS: until Docker's HEALTHCHECK reports healthy.
wait_healthy() {
  local name="$1" limit="$2" status i
  for i in $(seq 1 "$limit"); do
    status=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$name" 2>/dev/null || echo gone)
    case "$status" in
      "running healthy") return 0 ;;
      running*) sleep 1 ;;
      *) docker logs "$name" 2>&1 | tail -20 >&2; die "$name is $status" ;;
    esac
  done
  docker logs "$name" 2>&1 | tail -20 >&2
  die "$name did not become healthy in $limit s (status: $status)"
}

json_field() {
  python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v=v.get(k) if isinstance(v,dict) else None
print("" if v is None else v)' "$1"
}

# The backend, manager and executor images complete a task: the backend and the manager run as
# containers (host network) against the private PostgreSQL ($PG_PORT), a private S3 server
# (s3s-fs) and the scripted model server; the manager starts the executor image per run through
# the Docker socket. Checks the run's events, its exported files in S3 and the image health checks.
image_e2e() (
  set -euo pipefail
  local id="e2e-$$-$RANDOM" work sock gw fake pg_bin db llm_port s3_port bport mport wport
  work=$(mktemp -d /tmp/workcell-images.XXXXXX)
  chmod 755 "$work"
  sock="${DOCKER_HOST#unix://}"
  [ -S "$sock" ] || die "image_e2e needs DOCKER_HOST=unix://<socket>, got ${DOCKER_HOST:-nothing}"
  local pids=()
  cleanup_e2e() {
    local c
    # The service containers, then the executor containers the manager started (its id).
    for c in $(docker ps -aq --filter "label=workcell.e2e=$id") $(docker ps -aq --filter "label=workcell.manager_id=$id"); do
      docker rm -f "$c" >/dev/null 2>&1 || true
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
  }
  trap cleanup_e2e EXIT
  trap 'echo "image_e2e: failed (line $LINENO): $BASH_COMMAND" >&2' ERR

  # A database of its own on the private cluster.
  pg_bin=$(pg_bindir)
  db="workcell_images_$$"
  "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db"

  # The S3 server; the bucket is made with the rustfs-init profile's script.
  E2E_S3_ACCESS="images-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  E2E_S3_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  E2E_BUCKET=workcell-images
  s3_port=$(free_port)
  mkdir -p "$work/s3"
  "$S3S_FS_BIN" --host 127.0.0.1 --port "$s3_port" --access-key "$E2E_S3_ACCESS" --secret-key "$E2E_S3_SECRET" \
    "$work/s3" >"$work/s3.log" 2>&1 &
  pids+=($!)
  E2E_S3="http://127.0.0.1:$s3_port"
  for _ in $(seq 1 100); do curl -s -o /dev/null "$E2E_S3" && break; sleep 0.1; done
  S3_URL="$E2E_S3" S3_ACCESS_KEY="$E2E_S3_ACCESS" S3_SECRET_KEY="$E2E_S3_SECRET" S3_BUCKET="$E2E_BUCKET" \
    sh "$IMAGES_REPO/docker/create-bucket.sh" >&2
  S3_URL="$E2E_S3" S3_ACCESS_KEY="$E2E_S3_ACCESS" S3_SECRET_KEY="$E2E_S3_SECRET" S3_BUCKET="$E2E_BUCKET" \
    sh "$IMAGES_REPO/docker/create-bucket.sh" >&2   # again: an existing bucket is fine
  S3_URL="$E2E_S3" S3_ACCESS_KEY="$E2E_S3_ACCESS" S3_SECRET_KEY="wrong" S3_BUCKET="other" \
    sh "$IMAGES_REPO/docker/create-bucket.sh" >/dev/null 2>&1 && die "create-bucket.sh accepted a wrong secret"

  # The scripted model server, on every interface: executor containers reach it via the bridge.
  # The host as containers on the default bridge see it: the bridge's gateway, else (Docker 20.10
  # leaves it out of the default bridge's IPAM) the subnet's first address.
  gw="${DOCKER_GATEWAY:-$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')}"
  if [ -z "$gw" ]; then
    gw=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' \
      | python3 -c 'import ipaddress,sys; print(next(ipaddress.ip_network(sys.stdin.read().strip()).hosts()))')
  fi
  [ -n "$gw" ] || die "the Docker daemon has no default bridge"
  fake="${FAKE_LLM_BIN:-$CARGO_TARGET_DIR/debug/fake-llm}"
  [ -x "$fake" ] || die "fake-llm not built ($fake): cargo build -p fake-llm"
  cat >"$work/scenarios.json" <<'JSON'
{"scenarios": {"write_files": {"turns": [
  {"blocks": [{"type": "tool_use", "name": "Bash", "input": {"command": "mkdir -p notes && printf 'hello from the executor image' > notes/hello.txt && id -u > uid.txt && git --version > git.txt"}}]},
  {"blocks": [{"type": "text", "text": "Wrote notes/hello.txt."}]}
]}}}
JSON
  local llm_key="sk-images-$RANDOM$RANDOM"
  "$fake" --listen 0.0.0.0:0 --api-key "$llm_key" --scenarios "$work/scenarios.json" >"$work/llm.out" 2>"$work/llm.log" &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q listening "$work/llm.out" 2>/dev/null && break; sleep 0.1; done
  llm_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/llm.out")
  [ -n "$llm_port" ] || die "fake-llm did not start: $(cat "$work/llm.log")"

  local secret token
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  bport=$(free_port)
  mport=$(free_port)

  # Production refuses a placeholder secret, in one line naming it.
  local out rc=0
  out=$(docker run --rm --network host -e ENVIRONMENT=production \
    -e DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/$db" \
    -e SECRET_KEY=change-this-secret-key-to-32-or-more-random-bytes -e INTERNAL_API_TOKEN="$token" \
    -e S3_ENDPOINT="$E2E_S3" -e S3_ACCESS_KEY="$E2E_S3_ACCESS" -e S3_SECRET_KEY="$E2E_S3_SECRET" \
    -e S3_BUCKET="$E2E_BUCKET" -e PORT="$bport" --label "workcell.e2e=$id" \
    "workcell/backend:$IMAGE_TAG" 2>&1) || rc=$?
  [ "$rc" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "SECRET_KEY is invalid" <<<"$out" \
    || die "the backend image started with a placeholder SECRET_KEY in production (exit $rc): $out"
  log "images: ENVIRONMENT=production refuses a placeholder secret ($out)"

  docker run -d --name "workcell-backend-$id" --label "workcell.e2e=$id" --network host \
    -e ENVIRONMENT=production -e HOST=127.0.0.1 -e PORT="$bport" \
    -e DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/$db" \
    -e SECRET_KEY="$secret" -e INTERNAL_API_TOKEN="$token" -e ENCRYPTION_KEY="$secret-encryption" \
    -e S3_ENDPOINT="$E2E_S3" -e S3_ACCESS_KEY="$E2E_S3_ACCESS" -e S3_SECRET_KEY="$E2E_S3_SECRET" \
    -e S3_BUCKET="$E2E_BUCKET" -e AUTH_MODE=single_user \
    "workcell/backend:$IMAGE_TAG" >/dev/null
  wait_healthy "workcell-backend-$id" 120
  log "images: backend container healthy (migrations applied) on 127.0.0.1:$bport"

  mkdir -p "$work/workspaces"
  chown 1000:1000 "$work/workspaces"
  # NET_ADMIN: the image's iptables installs the executors' egress rules (restricted policy);
  # the fake model listens on the host, so its port is let through.
  docker run -d --name "workcell-manager-$id" --label "workcell.e2e=$id" --network host \
    --cap-add NET_ADMIN -e EXECUTOR_EGRESS_HOST_PORTS="$llm_port" \
    -v "$sock:/var/run/docker.sock" --group-add "$(stat -c %g "$sock")" \
    -v "$work/workspaces:$work/workspaces" \
    -e ENVIRONMENT=production -e HOST=0.0.0.0 -e PORT="$mport" -e MANAGER_ID="$id" \
    -e BACKEND_URL="http://127.0.0.1:$bport" -e INTERNAL_API_TOKEN="$token" \
    -e CALLBACK_BASE_URL="http://$gw:$mport" -e WORKSPACE_ROOT="$work/workspaces" \
    -e EXECUTOR_IMAGE="workcell/executor:$IMAGE_TAG" -e EXECUTOR_PUBLISHED_HOST=127.0.0.1 \
    -e ANTHROPIC_BASE_URL="http://$gw:$llm_port" -e ANTHROPIC_AUTH_TOKEN="$llm_key" -e DEFAULT_MODEL=claude-sonnet-4-5 \
    -e S3_ENDPOINT="$E2E_S3" -e S3_ACCESS_KEY="$E2E_S3_ACCESS" -e S3_SECRET_KEY="$E2E_S3_SECRET" \
    -e S3_BUCKET="$E2E_BUCKET" -e TASK_CLAIM_WAIT_SECONDS=5 \
    "workcell/executor-manager:$IMAGE_TAG" >/dev/null
  wait_healthy "workcell-manager-$id" 60
  log "images: executor-manager container healthy on :$mport (callbacks at http://$gw:$mport)"

  local api="http://127.0.0.1:$bport/api/v1" created run session status=""
  created=$(curl -fsS -X POST "$api/tasks" -H 'content-type: application/json' \
    -d '{"prompt":"[scenario:write_files] write a note"}')
  run=$(echo "$created" | json_field run_id)
  session=$(echo "$created" | json_field session_id)
  [ -n "$run" ] && [ -n "$session" ] || die "POST /api/v1/tasks answered $created"
  local start view export_status=""
  start=$(date +%s)
  while [ $(( $(date +%s) - start )) -lt 300 ]; do
    view=$(curl -fsS "$api/runs/$run")
    status=$(echo "$view" | json_field status)
    export_status=$(echo "$view" | json_field export.status)
    case "$status" in
      completed) [ "$export_status" = ready ] && break ;;
      failed|canceled)
        docker logs "workcell-manager-$id" 2>&1 | tail -30 >&2
        die "the run ended $status: $view" ;;
    esac
    sleep 1
  done
  if [ "$status" != completed ] || [ "$export_status" != ready ]; then
    docker logs "workcell-manager-$id" 2>&1 | tail -30 >&2
    die "the run did not complete with its export in 300 s: $view"
  fi
  log "images: run $run completed in $(( $(date +%s) - start )) s; export ready ($(echo "$view" | json_field export.files) files)"

  # The events reached the backend, the agent's final text among them.
  curl -fsS "$api/sessions/$session/events" | grep -q "Wrote notes/hello.txt." \
    || die "the run's events are not in the backend"

  # The exported files, through the S3 API.
  local prefix="workspaces/$session/runs/$run"
  [ "$(s3_get "$prefix/files/notes/hello.txt")" = "hello from the executor image" ] \
    || die "notes/hello.txt is not in S3 under $prefix/files/"
  [ "$(s3_get "$prefix/files/uid.txt" | tr -d '\n')" = 1000 ] || die "the agent did not run as uid 1000"
  s3_get "$prefix/files/git.txt" | grep -q "^git version" || die "git does not run in the executor image"
  s3_get "$prefix/manifest.json" | grep -q '"notes/hello.txt"' || die "manifest.json does not list notes/hello.txt"
  [ "$(s3_get "$prefix/archive.zip" | head -c 2)" = PK ] || die "archive.zip is not a zip archive"
  log "images: the exported files, manifest.json and archive.zip are in S3 under $prefix"

  if [ "$WEB_BUILT" = 1 ]; then
    wport=$(free_port)
    docker run -d --name "workcell-web-$id" --label "workcell.e2e=$id" --network host \
      -e BACKEND_URL="http://127.0.0.1:$bport" -e PORT="$wport" -e HOSTNAME=127.0.0.1 \
      "workcell/web:$IMAGE_TAG" >/dev/null
    wait_healthy "workcell-web-$id" 60
    curl -fsS "http://127.0.0.1:$wport/api/v1/runs/$run" | grep -q "$run" \
      || die "the web image does not proxy /api/v1 to BACKEND_URL"
    log "images: web container healthy; it proxies /api/v1 to the backend"
  fi
  "$pg_bin/dropdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres --force "$db" >/dev/null 2>&1 || true
)

# The stand-ins compose_e2e runs in place of images no registry here serves: PostgreSQL from
# Debian's package (docker/postgres-local.Dockerfile) and s3s-fs behind the rustfs service name.
make_standin_images() {
  docker build --network host -q -f "$IMAGES_REPO/docker/postgres-local.Dockerfile" \
    -t "workcell/postgres-local:$IMAGE_TAG" "$IMAGES_REPO/docker" >/dev/null \
    || die "docker/postgres-local.Dockerfile does not build"
  [ -x "${S3S_FS_BIN:-}" ] || die "s3s-fs is needed for the compose stand-in (S3S_FS_BIN)"
  local tmp
  tmp=$(mktemp -d)
  cp "$S3S_FS_BIN" "$tmp/s3s-fs"
  cat >"$tmp/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
COPY s3s-fs /usr/local/bin/s3s-fs
# RustFS's variables, as docker-compose.yml gives them to the rustfs service.
ENTRYPOINT ["sh", "-c", "exec s3s-fs --host 0.0.0.0 --port 9000 --access-key \"$RUSTFS_ACCESS_KEY\" --secret-key \"$RUSTFS_SECRET_KEY\" \"${RUSTFS_VOLUMES:-/data}\""]
DOCKERFILE
  tar -c -C "$tmp" Dockerfile s3s-fs | build_from_tar "workcell/s3s-fs-standin:$IMAGE_TAG"
  rm -rf "$tmp"
  log "made workcell/postgres-local:$IMAGE_TAG (Debian's postgresql) and workcell/s3s-fs-standin:$IMAGE_TAG"
}

# The real docker-compose.yml brought up with the built images and the stand-ins: .env written by
# scripts/quickstart.sh --env-only, then this machine's ports, stand-ins, socket and model server.
# A user registers through the web container's /api/v1 proxy, uploads an attachment, gives a task
# that uses it; the run completes in an executor container, and its files download through the
# presigned URLs the backend answers (the attachment's copy among them).
compose_e2e() (
  set -euo pipefail
  local work sock project llm_port llm_key web bport wport s3port pgport s3console
  work=$(mktemp -d /tmp/workcell-compose.XXXXXX)
  chmod 755 "$work"
  sock="${DOCKER_HOST#unix://}"
  [ -S "$sock" ] || die "compose_e2e needs DOCKER_HOST=unix://<socket>, got ${DOCKER_HOST:-nothing}"
  project="wce2e$$"
  local pids=()
  dc() {
    env -i PATH="$PATH" HOME="${HOME:-/root}" DOCKER_HOST="$DOCKER_HOST" \
      docker-compose -p "$project" --project-directory "$IMAGES_REPO" --env-file "$work/.env" \
      -f "$IMAGES_REPO/docker-compose.yml" -f "$IMAGES_REPO/scripts/compose.standin.yml" "$@"
  }
  cleanup_compose() {
    local c
    dc down -v --remove-orphans >/dev/null 2>&1 || true
    for c in $(docker ps -aq --filter "label=workcell.manager_id=$project"); do
      docker rm -f "$c" >/dev/null 2>&1 || true
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
  }
  trap cleanup_compose EXIT
  trap 'echo "compose_e2e: failed (line $LINENO): $BASH_COMMAND" >&2; dc logs --tail 30 >&2 || true' ERR

  make_standin_images

  # The scripted model server, on the host (the manager is on the host network).
  local fake="${FAKE_LLM_BIN:-$CARGO_TARGET_DIR/debug/fake-llm}"
  [ -x "$fake" ] || die "fake-llm not built ($fake): cargo build -p fake-llm"
  cat >"$work/scenarios.json" <<'JSON'
{"scenarios": {"compose": {"turns": [
  {"blocks": [{"type": "tool_use", "name": "Bash", "input": {"command": "cp inputs/data.txt copy.txt && printf 'hello from compose' > hello.txt"}}]},
  {"blocks": [{"type": "text", "text": "Copied the attachment."}]}
]}}}
JSON
  llm_key="sk-compose-$RANDOM$RANDOM"
  "$fake" --listen 127.0.0.1:0 --api-key "$llm_key" --scenarios "$work/scenarios.json" >"$work/llm.out" 2>"$work/llm.log" &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q listening "$work/llm.out" 2>/dev/null && break; sleep 0.1; done
  llm_port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$work/llm.out")
  [ -n "$llm_port" ] || die "fake-llm did not start: $(cat "$work/llm.log")"

  # .env as the quick start writes it (generated secrets), then this machine's values.
  mkdir -p "$work/qs/scripts"
  cp "$IMAGES_REPO/.env.example" "$IMAGES_REPO"/docker-compose*.yml "$work/qs/"
  cp -r "$IMAGES_REPO/docker" "$work/qs/"
  cp "$IMAGES_REPO/scripts/quickstart.sh" "$work/qs/scripts/"
  (cd "$work/qs" && env -i PATH="$PATH" HOME="${HOME:-/root}" ANTHROPIC_AUTH_TOKEN="$llm_key" \
    bash scripts/quickstart.sh --env-only >/dev/null 2>&1) || die "quickstart.sh --env-only failed"
  cp "$work/qs/.env" "$work/.env"
  set_env() { sed -i "/^#\{0,1\}$1=/d" "$work/.env"; printf '%s=%s\n' "$1" "$2" >>"$work/.env"; }
  pgport=$(free_port); s3port=$(free_port); s3console=$(free_port); bport=$(free_port); wport=$(free_port)
  mkdir -p "$work/s3" "$work/workspaces"
  chown 10001:10001 "$work/s3"
  chown 1000:1000 "$work/workspaces"
  set_env POSTGRES_IMAGE "workcell/postgres-local:$IMAGE_TAG"
  set_env RUSTFS_IMAGE "workcell/s3s-fs-standin:$IMAGE_TAG"
  set_env WORKCELL_IMAGE_TAG "$IMAGE_TAG"
  set_env EXECUTOR_IMAGE "workcell/executor:$IMAGE_TAG"
  set_env POSTGRES_PORT "$pgport"
  set_env S3_PORT "$s3port"
  set_env S3_CONSOLE_PORT "$s3console"
  set_env BACKEND_PORT "$bport"
  set_env WEB_PORT "$wport"
  set_env S3_PUBLIC_ENDPOINT "http://127.0.0.1:$s3port"
  set_env EXECUTOR_EGRESS_HOST_PORTS "$s3port"
  set_env RUSTFS_DATA_DIR "$work/s3"
  set_env WORKSPACE_ROOT "$work/workspaces"
  set_env DOCKER_SOCKET "$sock"
  set_env DOCKER_GID "$(stat -c %g "$sock")"
  set_env ANTHROPIC_BASE_URL "http://127.0.0.1:$llm_port"
  set_env MANAGER_ID "$project"
  set_env CORS_ORIGINS "[\"http://127.0.0.1:$wport\"]"

  local start
  start=$(date +%s)
  dc up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; die "docker-compose up failed"; }
  local service cid
  for service in postgres rustfs backend executor-manager web; do
    cid=$(dc ps -q "$service")
    [ -n "$cid" ] || die "compose started no $service container"
    wait_healthy "$cid" 180
  done
  log "compose: docker-compose.yml up and healthy in $(( $(date +%s) - start )) s (Debian's PostgreSQL, s3s-fs as rustfs)"
  local bucket access secret
  bucket=$(sed -n 's/^S3_BUCKET=//p' "$work/.env")
  access=$(sed -n 's/^S3_ACCESS_KEY=//p' "$work/.env")
  secret=$(sed -n 's/^S3_SECRET_KEY=//p' "$work/.env")
  S3_URL="http://127.0.0.1:$s3port" S3_ACCESS_KEY="$access" S3_SECRET_KEY="$secret" S3_BUCKET="$bucket" \
    sh "$IMAGES_REPO/docker/create-bucket.sh" >&2

  web="http://127.0.0.1:$wport/api/v1"
  local token created run att status view url content="attached through compose"
  token=$(curl -fsS -X POST "$web/auth/register" -H 'content-type: application/json' \
    -d '{"email":"compose@example.com","password":"a long enough password"}' | json_field token)
  [ -n "$token" ] || die "registration through the web container gave no token"
  printf '%s' "$content" >"$work/data.txt"
  att=$(curl -fsS -X POST "$web/attachments" -H "authorization: Bearer $token" -F "file=@$work/data.txt" | json_field id)
  [ -n "$att" ] || die "the attachment upload through the web container failed"
  created=$(curl -fsS -X POST "$web/tasks" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"prompt\":\"[scenario:compose] use the attachment\",\"attachments\":[\"$att\"]}")
  run=$(echo "$created" | json_field run_id)
  [ -n "$run" ] || die "POST /api/v1/tasks through the web container answered $created"
  start=$(date +%s)
  status=""
  while [ $(( $(date +%s) - start )) -lt 300 ]; do
    view=$(curl -fsS "$web/runs/$run" -H "authorization: Bearer $token")
    status=$(echo "$view" | json_field status)
    case "$status" in
      completed) [ "$(echo "$view" | json_field export.status)" = ready ] && break ;;
      failed|canceled) dc logs --tail 40 executor-manager >&2; die "the run ended $status: $view" ;;
    esac
    sleep 1
  done
  [ "$status" = completed ] || { dc logs --tail 40 executor-manager >&2; die "the run did not complete in 300 s: $view"; }
  url=$(curl -fsS "$web/runs/$run/files" -H "authorization: Bearer $token" | python3 -c '
import json, sys
files = json.load(sys.stdin)["files"]
print(next(f["url"] for f in files if f["path"] == "copy.txt"))')
  [ "$(curl -fsS "$url")" = "$content" ] || die "copy.txt did not download with the attachment's content from $url"
  log "compose: a task through the web container used its attachment in an executor container; its files download (run $run in $(( $(date +%s) - start )) s)"
)

# Everything of the images, for scripts/test.sh (after the Docker daemon started).
image_tests() {
  make_base_images
  build_images
  image_e2e
  compose_e2e
}

# Standalone: scripts/images.sh [compose|base|build|e2e|all] against $DOCKER_HOST.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$IMAGES_REPO"
  source scripts/lib.sh
  what="${1:-all}"
  case "$what" in
    compose) compose_tests ;;
    compose-e2e)
      ensure_s3s_fs
      cargo build --quiet -p fake-llm
      compose_e2e
      ;;
    base) make_base_images ;;
    build) make_base_images; build_images ;;
    e2e|all)
      [ "$what" = all ] && { compose_tests; make_base_images; build_images; }
      [ "$what" = e2e ] && [ -f web/package.json ] && docker image inspect "workcell/web:$IMAGE_TAG" >/dev/null 2>&1 && WEB_BUILT=1
      ensure_postgres
      ensure_s3s_fs
      cargo build --quiet -p fake-llm
      STANDALONE_WORK=$(mktemp -d /tmp/workcell-images-pg.XXXXXX)
      chmod 755 "$STANDALONE_WORK"
      trap 'stop_postgres; rm -rf "$STANDALONE_WORK"' EXIT
      start_postgres "$STANDALONE_WORK/pg"
      image_e2e
      ;;
    *) die "usage: scripts/images.sh [compose|compose-e2e|base|build|e2e|all]" ;;
  esac
  log "images: ok"
fi
