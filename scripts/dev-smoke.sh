#!/usr/bin/env bash
# What a newcomer does with scripts/dev.sh, checked: start the local stack with the scripted model,
# post a task with curl, wait for it to complete, check the files it wrote (in the workspace and
# exported to S3), stop the stack and check that nothing is left behind.
#
#   scripts/dev-smoke.sh                          # the runtime dev.sh picks (docker if it answers)
#   EXECUTOR_RUNTIME=process scripts/dev-smoke.sh # force one
#
# Exits non-zero on any failure, with dev.sh's output.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

DEV_DIR=$(mktemp -d /tmp/workcell-dev-smoke.XXXXXX)
rmdir "$DEV_DIR" # dev.sh creates it and removes it at exit
OUT=$(mktemp /tmp/workcell-dev-smoke-log.XXXXXX)
PORT=$(free_port)
MANAGER_PORT=$(free_port)
API="http://127.0.0.1:$PORT/api/v1"

WEB="${WEB:-0}" WORKCELL_FAKE_LLM=1 WORKCELL_DEV_DIR="$DEV_DIR" PORT="$PORT" MANAGER_PORT="$MANAGER_PORT" \
  scripts/dev.sh >"$OUT" 2>&1 &
DEV_PID=$!

fail() {
  echo "dev-smoke: FAILED: $*" >&2
  echo "----- dev.sh output (last 80 lines) -----" >&2
  tail -n 80 "$OUT" >&2
  kill -TERM "$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
  rm -f "$OUT"
  exit 1
}

# 1. The stack says it is ready (first run: builds and installs; allow time).
for _ in $(seq 1 1800); do
  grep -q "ready (Ctrl-C" "$OUT" && break
  kill -0 "$DEV_PID" 2>/dev/null || fail "dev.sh exited before it was ready"
  sleep 1
done
grep -q "ready (Ctrl-C" "$OUT" || fail "dev.sh was not ready in 30 minutes"
runtime=$(sed -n 's/.*(runtime: \([a-z]*\)).*/\1/p' "$OUT" | head -n 1)
log "stack ready (runtime: $runtime)"

# 2. A task, as the README shows it.
task=$(curl -fsS -X POST "$API/tasks" -H 'content-type: application/json' \
  -d '{"prompt":"[scenario:write_file] Please write hello to out.txt"}') || fail "POST /tasks"
session=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])' <<<"$task")
run=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])' <<<"$task")
log "task posted: session $session, run $run"

# 3. It completes, and its export is reported.
status=""
for _ in $(seq 1 300); do
  view=$(curl -fsS "$API/runs/$run") || fail "GET /runs/$run"
  status=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' <<<"$view")
  export_status=$(python3 -c 'import json,sys; e=json.load(sys.stdin).get("export"); print(e["status"] if e else "")' <<<"$view")
  case "$status" in
    completed) [ -n "$export_status" ] && break ;;
    failed | canceled) fail "the run ended $status: $view" ;;
  esac
  sleep 1
done
[ "$status" = completed ] || fail "the run did not complete in 5 minutes: $view"
[ "$export_status" = ready ] || fail "export not ready: $view"
log "run completed; export $export_status"

# 4. The agent's file: in the session's workspace, and in S3 with its manifest and archive.
ws=$(ls -d "$DEV_DIR"/workspaces/active/*/"$session"/workspace 2>/dev/null | head -n 1)
[ -n "$ws" ] || fail "no workspace for session $session under $DEV_DIR/workspaces"
[ "$(cat "$ws/out.txt" 2>/dev/null)" = hello ] || fail "out.txt in the workspace does not say hello"
prefix="$DEV_DIR/s3/workcell/workspaces/$session/runs/$run"
[ "$(cat "$prefix/files/out.txt" 2>/dev/null)" = hello ] || fail "out.txt is not in S3 under $prefix"
python3 - "$prefix/manifest.json" <<'PY' || fail "manifest.json"
import json, sys
m = json.load(open(sys.argv[1]))
paths = [f["path"] for f in m["files"]]
assert paths == ["out.txt"], paths
assert m["files"][0]["change"] == "added", m["files"][0]
PY
[ -s "$prefix/archive.zip" ] || fail "archive.zip is not in S3"
events=$(curl -fsS "$API/sessions/$session/events") || fail "GET events"
EVENTS="$events" python3 - <<'PY' || fail "events"
import json, os
kinds = [e["type"] for e in json.loads(os.environ["EVENTS"])["events"]]
assert kinds[0] == "system_init" and kinds[-1] == "completed", kinds
assert "tool_use" in kinds and "tool_result" in kinds, kinds
PY
log "files, manifest, archive and events are there"

# 5. Ctrl-C (SIGINT does not reach a background job of a script: SIGTERM, handled the same way).
kill -TERM "$DEV_PID"
for _ in $(seq 1 60); do kill -0 "$DEV_PID" 2>/dev/null || break; sleep 1; done
kill -0 "$DEV_PID" 2>/dev/null && fail "dev.sh did not stop within 60 s"
wait "$DEV_PID" 2>/dev/null || true
[ ! -e "$DEV_DIR" ] || fail "temporary data left in $DEV_DIR"
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && fail "the backend still answers"
if [ "$runtime" = docker ] && command -v docker >/dev/null; then
  left=$(docker ps -aq --filter "label=workcell.session_id=$session")
  [ -z "$left" ] || fail "containers left: $left"
fi
grep -q "stopped; temporary data removed" "$OUT" || fail "dev.sh did not report its stop"
rm -f "$OUT"
log "dev-smoke passed (runtime: $runtime)"
