#!/usr/bin/env bash
# The deployment tests: the compose files, the Dockerfiles and the built images.
#
#   source scripts/images.sh; compose_tests     # docker-compose config checks (no daemon needed)
#   source scripts/images.sh; image_tests       # base images, builds, end to end (needs DOCKER_HOST,
#                                               # DATABASE_URL/PG_PORT, S3S_FS_BIN, a debug build)
#   scripts/images.sh [compose|base|build|e2e|all]   # standalone, against $DOCKER_HOST
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
  compose_config "$IMAGES_REPO/.env.example" docker-compose.r2.yml | grep -q "^  rustfs:$" \
    && die "docker-compose.r2.yml must not run rustfs"
  for var in S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET; do
    grep -v "^$var=" "$IMAGES_REPO/.env.example" >"$tmp/env"
    if out=$(compose_config "$tmp/env" docker-compose.r2.yml 2>&1); then
      rm -rf "$tmp"
      die "docker-compose.r2.yml accepted an environment without $var"
    fi
    echo "$out" | grep -q "$var" || { echo "$out" >&2; rm -rf "$tmp"; die "the refusal does not name $var"; }
  done
  log "compose: docker-compose.r2.yml refuses a missing S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY or S3_BUCKET"
  # R2 defaults: region auto, virtual-hosted addressing.
  grep -v '^S3_REGION=\|^S3_FORCE_PATH_STYLE=' "$IMAGES_REPO/.env.example" >"$tmp/env"
  out=$(compose_config "$tmp/env" docker-compose.r2.yml)
  echo "$out" | grep -q "S3_REGION: auto" || die "docker-compose.r2.yml: S3_REGION does not default to auto"
  echo "$out" | grep -Eq "S3_FORCE_PATH_STYLE: ['\"]false['\"]" || die "docker-compose.r2.yml: S3_FORCE_PATH_STYLE does not default to false"
  rm -rf "$tmp"
  log "compose: R2 defaults S3_REGION=auto, S3_FORCE_PATH_STYLE=false"
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
