#!/usr/bin/env bash
# Runs every test of the project against private services it starts itself, then stops them.
# Installs what is missing first (Debian packages, once). Exits non-zero on any failure.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --no-bench # skip the benchmark smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
# A test run builds each crate once: incremental caches would only cost disk (several GB per
# target directory) and time.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

RUN_BENCH_SMOKE=1
for arg in "$@"; do
  case "$arg" in
    --no-bench) RUN_BENCH_SMOKE=0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

ensure_rust
# A run from an empty build cache took 23 GB at its peak (2026-12-05: 15 GB of builds in
# CARGO_TARGET_DIR, the rest the Docker engines' images and build layers under /tmp).
ensure_disk_space 25
apt_install python3 ca-certificates git curl unzip docker.io docker-compose debootstrap
ensure_postgres
ensure_claude_cli
ensure_s3s_fs
ensure_schemathesis
ensure_iptables
command -v cargo-nextest >/dev/null || { log "installing cargo-nextest"; cargo install --locked cargo-nextest >/dev/null; }

WORK=$(mktemp -d /tmp/workcell-test.XXXXXX)
# The second Docker engine's default bridge (made by docker-env.sh, deleted on exit).
BRIDGE_B=wcb0
chmod 755 "$WORK"
cleanup() {
  local rc=$?
  crates/executor-manager/tests/docker-env.sh --stop "$WORK/docker" >/dev/null 2>&1 || true
  crates/executor-manager/tests/docker-env.sh --stop "$WORK/docker-b" >/dev/null 2>&1 || true
  ip link del "$BRIDGE_B" 2>/dev/null || true
  stop_postgres
  # dockerd may leave its network namespace mounted; unmount it so the directory can go, and
  # never let the clean-up turn the tests' result into another one.
  local m
  for m in "$WORK"/docker/exec/netns/* "$WORK"/docker-b/exec/netns/*; do umount "$m" 2>/dev/null || true; done
  rm -rf "$WORK" 2>/dev/null || true
  exit $rc
}
trap cleanup EXIT INT TERM

start_postgres "$WORK/pg"

log "checking the compose files and the quick start's .env"
source scripts/images.sh
compose_tests

log "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

log "building the services"
cargo build --workspace --quiet

log "starting two private Docker engines (two hosts) and making the test images"
# The second first: a daemon started with its own bridge deletes docker0, which the first one
# then makes again. Its bridge and address pool keep its networks apart from the first's.
WORKCELL_DOCKER_HOST_B=$(DOCKERD_BRIDGE="$BRIDGE_B:10.202.0.1/24" \
  DOCKERD_EXTRA_ARGS="--default-address-pool base=10.201.0.0/16,size=24" \
  crates/executor-manager/tests/docker-env.sh "$WORK/docker-b" | sed -n 's/^export DOCKER_HOST=//p')
export WORKCELL_DOCKER_HOST_B
eval "$(crates/executor-manager/tests/docker-env.sh "$WORK/docker")"
export WORKCELL_REQUIRE_DOCKER=1
# The API fuzz run (crates/backend/tests/schemathesis.rs) must run here, not skip.
export WORKCELL_REQUIRE_SCHEMATHESIS=1

log "running the tests"
cargo nextest run --workspace --no-fail-fast --failure-output final

log "the local stack: scripts/dev.sh completes a task (scripts/dev-smoke.sh)"
EXECUTOR_IMAGE=workcell/executor-test:dev scripts/dev-smoke.sh
log "running the web UI's tests"
WEB_E2E_SKIP_CARGO_BUILD=1 run_web_tests
log "building the images and running them end to end (scripts/images.sh)"
image_tests

if [ "$RUN_BENCH_SMOKE" = 1 ]; then
  log "benchmark smoke run (small sizes; full figures: see docs/benchmarks.md)"
  BENCH_SMOKE=1 cargo test -p backend --bench queue --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p backend --bench live --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p backend --bench search --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p executor --bench executor --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p executor --bench input_latency --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p executor-manager --bench dispatch --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p executor-manager --bench export --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p executor-manager --bench answer_latency --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p executor-manager --bench cancel --quiet -- --bench
  BENCH_SMOKE=1 cargo test -p executor-manager --bench scale --quiet -- --bench
fi
log "all tests passed"
