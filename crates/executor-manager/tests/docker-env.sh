#!/usr/bin/env bash
# Starts a private Docker daemon and makes the images the executor-manager's docker tests use.
#
#   eval "$(crates/executor-manager/tests/docker-env.sh [DIR])"     # prints `export DOCKER_HOST=...`
#   crates/executor-manager/tests/docker-env.sh --stop [DIR]        # stops the daemon (by pid file)
#   crates/executor-manager/tests/docker-env.sh --images-only       # only the images, on the daemon
#                                                                   # DOCKER_HOST names (scripts/dev.sh)
#
# - daemon: dockerd from Debian's docker.io (installed when missing), data in DIR (default
#   /tmp/workcell-docker), socket DIR/docker.sock, default bridge (172.17.0.1), no iptables, and
#   DOCKERD_BRIDGE=name:cidr (its own default bridge, made when missing) and DOCKERD_EXTRA_ARGS:
#   a second daemon on the same host, with its own bridge and `--default-address-pool`, as
#   scripts/test.sh starts one for the two-host test;
# - workcell/debian-base:bookworm: debootstrap minbase + ca-certificates + git (no registry is
#   reachable); the rootfs tarball is cached in ~/.cache/workcell-debian-bookworm.tar;
# - workcell/executor-test:dev (or the tag EXECUTOR_TEST_IMAGE names, as the tests read it): the
#   base + the executor binary (EXECUTOR_BIN, default $CARGO_TARGET_DIR/debug/executor) + the
#   Claude Code CLI (CLAUDE_BIN), user 1000, rebuilt each call.
# Logs go to stderr; only the export line goes to stdout.
set -euo pipefail

log() { echo "docker-env: $*" >&2; }

STOP=0
IMAGES_ONLY=0
if [[ "${1:-}" == "--stop" ]]; then STOP=1; shift; fi
if [[ "${1:-}" == "--images-only" ]]; then IMAGES_ONLY=1; shift; fi
DIR="${1:-/tmp/workcell-docker}"
SOCK="$DIR/docker.sock"
if [[ $IMAGES_ONLY == 0 ]]; then
  export DOCKER_HOST="unix://$SOCK"
fi

if [[ $STOP == 1 ]]; then
  if [[ -f "$DIR/docker.pid" ]]; then
    pid="$(cat "$DIR/docker.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "stopped dockerd $pid"
  fi
  exit 0
fi

if ! command -v dockerd >/dev/null; then
  log "installing docker.io"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >&2
fi
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
fi
DOCKER="$(command -v docker)"

if [[ $IMAGES_ONLY == 1 ]]; then
  "$DOCKER" version >/dev/null 2>&1 || { log "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset})"; exit 1; }
else
  mkdir -p "$DIR"
fi
if [[ $IMAGES_ONLY == 0 ]] && ! "$DOCKER" version >/dev/null 2>&1; then
  log "starting dockerd in $DIR"
  BRIDGE_ARGS=""
  if [[ -n "${DOCKERD_BRIDGE:-}" ]]; then
    # name:cidr — a bridge of this daemon's own (a second daemon must not touch docker0, which
    # `--bridge=none` would delete).
    BR_NAME="${DOCKERD_BRIDGE%%:*}"
    BR_CIDR="${DOCKERD_BRIDGE#*:}"
    if ! ip link show "$BR_NAME" >/dev/null 2>&1; then
      ip link add "$BR_NAME" type bridge
      ip addr add "$BR_CIDR" dev "$BR_NAME"
      ip link set "$BR_NAME" up
    fi
    BRIDGE_ARGS="--bridge=$BR_NAME"
  fi
  # shellcheck disable=SC2086 # DOCKERD_EXTRA_ARGS is a list of arguments
  nohup dockerd $BRIDGE_ARGS --host "$DOCKER_HOST" --data-root "$DIR/root" --exec-root "$DIR/exec" \
    --pidfile "$DIR/docker.pid" --iptables=false ${DOCKERD_EXTRA_ARGS:-} >"$DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 150); do
    "$DOCKER" version >/dev/null 2>&1 && break
    sleep 0.2
  done
  "$DOCKER" version >/dev/null 2>&1 || { log "dockerd did not start; see $DIR/dockerd.log"; exit 1; }
fi

BASE=workcell/debian-base:bookworm
if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  TAR="${HOME}/.cache/workcell-debian-bookworm.tar"
  if [[ ! -s "$TAR" ]]; then
    ROOTFS="$(mktemp -d)"
    log "debootstrap bookworm (about a minute)"
    debootstrap --variant=minbase --include=ca-certificates,git bookworm "$ROOTFS" >&2
    tar -C "$ROOTFS" -cf "$TAR.tmp" . && mv "$TAR.tmp" "$TAR"
    rm -rf "$ROOTFS"
  fi
  "$DOCKER" import "$TAR" "$BASE" >&2
  log "made $BASE"
fi

EXECUTOR_BIN="${EXECUTOR_BIN:-${CARGO_TARGET_DIR:-target}/debug/executor}"
CLAUDE_BIN="${CLAUDE_BIN:-${WORKCELL_TOOLS:-$HOME/.cache/workcell-tools}/node_modules/.bin/claude}"
if [[ -x "$EXECUTOR_BIN" && -x "$CLAUDE_BIN" ]]; then
  CTX="$(mktemp -d)"
  cp "$EXECUTOR_BIN" "$CTX/executor"
  cp -L "$CLAUDE_BIN" "$CTX/claude"
  cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM workcell/debian-base:bookworm
COPY executor /usr/local/bin/executor
COPY claude /usr/local/bin/claude
RUN useradd --uid 1000 --create-home --shell /bin/bash agent && mkdir -p /workspace && chown agent /workspace
ENV CLAUDE_BIN=/usr/local/bin/claude WORKSPACE_PATH=/workspace HOST=0.0.0.0 PORT=8000
USER 1000:1000
EXPOSE 8000
CMD ["/usr/local/bin/executor"]
DOCKERFILE
  TEST_IMAGE="${EXECUTOR_TEST_IMAGE:-workcell/executor-test:dev}"
  "$DOCKER" build -q -t "$TEST_IMAGE" "$CTX" >&2
  rm -rf "$CTX"
  log "made $TEST_IMAGE"
else
  log "no executor binary at $EXECUTOR_BIN (cargo build -p executor) or no CLI at $CLAUDE_BIN: executor test image not built"
fi

echo "export DOCKER_HOST=$DOCKER_HOST"
