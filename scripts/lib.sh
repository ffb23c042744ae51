#!/usr/bin/env bash
# Shared helpers for scripts/dev.sh and scripts/test.sh: installing what is missing (once) and
# starting private services on free loopback ports inside a temporary directory. Nothing here
# touches the machine's own services. Source it; do not run it.

# Where builds and tools live between runs (outside the clone, so a reused machine is incremental).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/workcell-target}"
WORKCELL_TOOLS="${WORKCELL_TOOLS:-$HOME/.cache/workcell-tools}"
export WORKCELL_TOOLS

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=""
# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_disk_space GIB: a whole test run from an empty build cache writes about GIB: its builds
# into CARGO_TARGET_DIR and its Docker engines' images and build layers under /tmp. Short of
# space it would fail half-way, the full disk showing up as some unrelated step's error. What the
# cache already holds counts as written (a warm cache is mostly rebuilt in place), but a run
# always asks for a third of GIB. The cache is only a cache: when space is short its incremental
# data goes first, then, if it is this project's own cache directory, all of it (the run then
# builds from nothing). Stops with one line when that still does not free enough.
ensure_disk_space() {
  local need=$1 want free cached
  free_gib() { df -P -k "$1" | awk 'NR == 2 { print int($4 / 1048576) }'; }
  mkdir -p "$CARGO_TARGET_DIR"
  cached=$(du -s -k "$CARGO_TARGET_DIR" 2>/dev/null | awk '{ print int($1 / 1048576) }')
  want=$((need - cached))
  [ "$want" -ge $((need / 3)) ] || want=$((need / 3))
  # The two places are on one file system on a usual machine; each is checked.
  for dir in "$CARGO_TARGET_DIR" /tmp; do
    free=$(free_gib "$dir")
    [ "$free" -ge "$want" ] && continue
    if [ "$(df -P "$dir" | awk 'NR == 2 { print $1 }')" = "$(df -P "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $1 }')" ]; then
      log "only ${free} GiB free for $dir (a test run needs about ${want} more): removing the build cache's incremental data"
      rm -rf "$CARGO_TARGET_DIR"/*/incremental
      free=$(free_gib "$dir")
      if [ "$free" -lt "$want" ] && [ "$CARGO_TARGET_DIR" = "$HOME/.cache/workcell-target" ]; then
        log "still only ${free} GiB free: emptying the build cache $CARGO_TARGET_DIR (everything is built again)"
        rm -rf "${CARGO_TARGET_DIR:?}"/*
        free=$(free_gib "$dir")
        want=$need
      fi
    fi
    [ "$free" -ge "$want" ] || die "only ${free} GiB free for $dir; a test run needs about ${want} GiB (builds, Docker images)"
  done
}

# free_port: prints a TCP port nobody listens on (loopback).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# pg_bindir: the directory of PostgreSQL's server binaries.
pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || return 1
  echo "$d"
}

ensure_postgres() {
  pg_bindir >/dev/null || apt_install postgresql
  pg_bindir >/dev/null || die "PostgreSQL server binaries not found after install"
}

# start_postgres DIR: a private cluster in DIR on a free port; exports DATABASE_URL and PG_DIR.
start_postgres() {
  local dir="$1" bin port
  bin=$(pg_bindir)
  port=$(free_port)
  mkdir -p "$dir"
  local run=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$dir"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" --no-sync -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log"; die "initdb failed"; }
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=400 -c fsync=on -c shared_buffers=256MB" \
    start >/dev/null || { cat "$dir/postgres.log"; die "PostgreSQL did not start"; }
  export PG_DIR="$dir"
  export PG_PORT="$port"
  export DATABASE_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  log "PostgreSQL on 127.0.0.1:$port ($dir)"
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
  local bin run=()
  bin=$(pg_bindir) || return 0
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}

ensure_rust() {
  command -v cargo >/dev/null || die "cargo is not installed (install Rust 1.95 with rustup first)"
}

# The Claude Code CLI version the tests were verified with.
CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.330}"

# ensure_iptables: Debian's iptables, with which the executor manager installs the executors'
# egress rules (EXECUTOR_EGRESS_POLICY=restricted, docker runtime); only as root, where the rules
# can be installed at all.
ensure_iptables() {
  if [ "$(id -u)" -eq 0 ] && ! command -v iptables >/dev/null; then
    apt_install iptables
  fi
}

# ensure_claude_cli: installs the Claude Code CLI into $WORKCELL_TOOLS (npm, once) and exports
# CLAUDE_BIN.
ensure_claude_cli() {
  command -v npm >/dev/null || apt_install nodejs npm
  local bin="$WORKCELL_TOOLS/node_modules/.bin/claude"
  if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -q "$CLAUDE_CODE_VERSION"; then
    log "installing the Claude Code CLI $CLAUDE_CODE_VERSION"
    mkdir -p "$WORKCELL_TOOLS"
    npm install --silent --no-audit --no-fund --prefix "$WORKCELL_TOOLS" \
      "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" >/dev/null
  fi
  "$bin" --version >/dev/null || die "the Claude Code CLI does not run: $bin"
  export CLAUDE_BIN="$bin"
}

# ensure_s3s_fs: a real S3-compatible server with SigV4 checks, for tests (cargo install, once);
# exports S3S_FS_BIN.
ensure_s3s_fs() {
  local bin="$WORKCELL_TOOLS/bin/s3s-fs"
  if [ ! -x "$bin" ]; then
    log "installing s3s-fs 0.14.1 (about two minutes, once)"
    # Newer releases need a newer rustc than this project's 1.95.
    cargo install --quiet s3s-fs --version 0.14.1 --features binary --root "$WORKCELL_TOOLS"
  fi
  export S3S_FS_BIN="$bin"
}

# The schemathesis version the API fuzz run (crates/backend/tests/schemathesis.rs) was verified with.
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"

# ensure_schemathesis: schemathesis (PyPI) in a virtualenv of its own under $WORKCELL_TOOLS (pip,
# once per version); exports SCHEMATHESIS_BIN.
ensure_schemathesis() {
  local venv="$WORKCELL_TOOLS/schemathesis-$SCHEMATHESIS_VERSION"
  local bin="$venv/bin/schemathesis"
  if [ ! -x "$bin" ] || ! "$bin" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
    # Debian's python3 makes virtualenvs only with python3-venv (ensurepip).
    python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
    log "installing schemathesis $SCHEMATHESIS_VERSION (PyPI, once)"
    rm -rf "$venv"
    mkdir -p "$WORKCELL_TOOLS"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
      "schemathesis==$SCHEMATHESIS_VERSION" >/dev/null
  fi
  "$bin" --version >/dev/null || die "schemathesis does not run: $bin"
  export SCHEMATHESIS_BIN="$bin"
}

# --- web UI (web/) -------------------------------------------------------------------------------

# ensure_chromium: Debian's Chromium for the browser tests (@playwright/test and playwright-core drive it; no browser
# is ever downloaded). Exports CHROMIUM_BIN.
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
  export CHROMIUM_BIN=/usr/bin/chromium
}

# ensure_web_deps: node (Debian's, 20 or newer) and web/node_modules from the lock file.
ensure_web_deps() {
  command -v npm >/dev/null || apt_install nodejs npm
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js 20.9 or newer is needed for the web UI (Next.js 16); found $(node --version)"
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ ! -d "$root/web/node_modules" ] || [ "$root/web/package-lock.json" -nt "$root/web/node_modules/.package-lock.json" ]; then
    log "installing the web UI's dependencies (npm ci)"
    (cd "$root/web" && npm ci --silent --no-audit --no-fund >/dev/null)
  fi
}

# run_web_tests: the web UI's unit and component tests (vitest), type check (the app, and the
# browser test's TypeScript), production build, the check that no secret reaches the browser
# bundle, and the end-to-end browser test (Playwright) against the real stack (which needs the
# workspace's debug binaries: pass WEB_E2E_SKIP_CARGO_BUILD=1 when they were just built).
run_web_tests() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  ensure_chromium
  ensure_web_deps
  export NEXT_TELEMETRY_DISABLED=1
  log "web: unit and component tests"
  (cd "$root/web" && node_modules/.bin/vitest run)
  log "web: type check"
  (cd "$root/web" && node_modules/.bin/tsc --noEmit && node_modules/.bin/tsc --noEmit -p tests/e2e)
  log "web: production build + bundle secret check"
  (cd "$root/web" && node tests/bundle-check.mjs)
  log "web: end-to-end browser test (Playwright; a failed step's trace and screenshots in web/test-results)"
  "$root/web/tests/e2e/stack.sh" playwright
}
