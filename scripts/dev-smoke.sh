#!/usr/bin/env bash
# What a newcomer does with scripts/dev.sh, checked: start the local stack with the scripted model,
# post a task with curl, wait for it to complete, check the files it wrote (in the workspace and
# exported to S3), do the same and more with the `workcell` CLI, stop the stack and check that
# nothing is left behind.
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

# The example scenarios, and a slow one for the CLI's cancel (its second model turn waits a
# minute, so the run stays running).
SCENARIOS=$(mktemp /tmp/workcell-dev-smoke-scenarios.XXXXXX)
python3 - crates/fake-llm/scenarios/example.json "$SCENARIOS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["scenarios"]["slow"] = {"turns": [
    {"blocks": [{"type": "text", "text": "Taking my time."},
                {"type": "tool_use", "name": "Bash",
                 "input": {"command": "echo waiting", "description": "Say it waits"}}]},
    {"delay_ms": 60000, "blocks": [{"type": "text", "text": "Done waiting."}]},
]}
json.dump(s, open(sys.argv[2], "w"))
PY

WEB="${WEB:-0}" WORKCELL_FAKE_LLM=1 FAKE_LLM_SCENARIOS="$SCENARIOS" WORKCELL_DEV_DIR="$DEV_DIR" \
  PORT="$PORT" MANAGER_PORT="$MANAGER_PORT" scripts/dev.sh >"$OUT" 2>&1 &
DEV_PID=$!

fail() {
  echo "dev-smoke: FAILED: $*" >&2
  echo "----- dev.sh output (last 80 lines) -----" >&2
  tail -n 80 "$OUT" >&2
  kill -TERM "$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
  rm -f "$OUT" "$SCENARIOS"
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

# 5. The command-line client (crates/cli) against the same stack, with a config directory of its
#    own (never the user's).
log "building the CLI"
PATH="$HOME/.cargo/bin:$PATH" cargo build --quiet -p workcell-cli >>"$OUT" 2>&1 || fail "cargo build -p workcell-cli"
CLI="$CARGO_TARGET_DIR/debug/workcell"
unset WORKCELL_SERVER WORKCELL_TOKEN
CLI_DIR=$(mktemp -d /tmp/workcell-dev-smoke-cli.XXXXXX)
# (Each command within 5 minutes: a hang fails the smoke rather than stalling it.)
cli() { XDG_CONFIG_HOME="$CLI_DIR/config" timeout 300 "$CLI" --server "http://127.0.0.1:$PORT" "$@"; }
cli_fail() { rm -rf "$CLI_DIR"; fail "$@"; }

# A task followed to its end: the tool call and the final status.
out=$(cli run --follow "[scenario:write_file] Please write hello to out.txt" 2>&1) \
  || cli_fail "workcell run --follow exited $?: $out"
grep -qx '→ Bash printf hello > out.txt' <<<"$out" || cli_fail "run --follow did not show the tool call: $out"
grep -q '^✓ completed in .* · \$' <<<"$out" || cli_fail "run --follow did not show the final status: $out"
cli_session=$(sed -n 's/^session \([0-9a-f-]\{36\}\)$/\1/p' <<<"$out")
[ -n "$cli_session" ] || cli_fail "run --follow did not print the session id: $out"

# Both sessions are listed; the log shows the events; the files, one file and the zip.
cli --json sessions >"$CLI_DIR/sessions.json" || cli_fail "workcell --json sessions"
python3 - "$CLI_DIR/sessions.json" "$session" "$cli_session" <<'PY' || cli_fail "sessions: $(cat "$CLI_DIR/sessions.json")"
import json, sys
ids = {s["id"] for s in json.load(open(sys.argv[1]))["sessions"]}
assert set(sys.argv[2:]) <= ids, ids
PY
out=$(cli logs "$cli_session") || cli_fail "workcell logs: $out"
for line in '› [scenario:write_file] Please write hello to out.txt' '→ Bash printf hello > out.txt' 'Wrote hello to out.txt.'; do
  grep -qxF "$line" <<<"$out" || cli_fail "workcell logs lacks \"$line\": $out"
done
cli --json logs "$cli_session" >"$CLI_DIR/events.jsonl" || cli_fail "workcell --json logs"
python3 - "$CLI_DIR/events.jsonl" <<'PY' || cli_fail "workcell --json logs: $(cat "$CLI_DIR/events.jsonl")"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), events
assert events[0]["type"] == "system_init" and events[-1]["type"] == "completed", events
PY
out=$(cli files "$cli_session" 2>&1) || cli_fail "workcell files: $out"
grep -qE '^ +5 B +added +out.txt$' <<<"$out" || cli_fail "workcell files does not list out.txt: $out"
[ "$(cli files "$cli_session" --get out.txt)" = hello ] || cli_fail "workcell files --get out.txt is not hello"
cli files "$cli_session" --zip -o "$CLI_DIR/f.zip" 2>/dev/null || cli_fail "workcell files --zip"
python3 - "$CLI_DIR/f.zip" <<'PY' || cli_fail "the zip from workcell files --zip"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
assert z.read("out.txt") == b"hello", z.namelist()
PY

# An attachment reaches the run's inputs/.
printf 'a note for the agent\n' >"$CLI_DIR/note.txt"
out=$(cli run --follow --attach "$CLI_DIR/note.txt" "Read the attached note" 2>&1) || cli_fail "run --attach: $out"
grep -q 'attached note.txt' <<<"$out" || cli_fail "run --attach did not upload: $out"
att_session=$(sed -n 's/^session \([0-9a-f-]\{36\}\)$/\1/p' <<<"$out")
note=$(cat "$DEV_DIR"/workspaces/active/*/"$att_session"/workspace/inputs/note.txt 2>/dev/null || true)
[ "$note" = "a note for the agent" ] || cli_fail "the attachment is not in the run's inputs/: $out"

# Cancel on a finished session answers cleanly.
out=$(cli cancel "$cli_session" 2>&1) || cli_fail "workcell cancel on a finished session: $out"
grep -q '^nothing to cancel' <<<"$out" || cli_fail "workcell cancel said: $out"

# A slow run: Ctrl-C detaches from it (exit 130, how to resume), cancel stops it, logs --follow
# shows its end and exits 1.
# (Not through the function: `$!` must be the CLI's own pid for the SIGINT to reach it.)
XDG_CONFIG_HOME="$CLI_DIR/config" "$CLI" --server "http://127.0.0.1:$PORT" \
  run --follow "[scenario:slow] Take your time" >"$CLI_DIR/slow.out" 2>"$CLI_DIR/slow.err" &
follow_pid=$!
for _ in $(seq 1 120); do grep -q '^→ Bash echo waiting$' "$CLI_DIR/slow.out" && break; sleep 0.5; done
grep -q '^→ Bash echo waiting$' "$CLI_DIR/slow.out" || cli_fail "the slow run did not start: $(cat "$CLI_DIR/slow.out" "$CLI_DIR/slow.err")"
kill -INT "$follow_pid"
rc=0; wait "$follow_pid" || rc=$?
slow_session=$(sed -n 's/^session \([0-9a-f-]\{36\}\)$/\1/p' "$CLI_DIR/slow.out")
[ "$rc" = 130 ] || cli_fail "Ctrl-C while following exited $rc, not 130"
grep -qF "workcell logs $slow_session --follow" "$CLI_DIR/slow.err" || cli_fail "no resume hint: $(cat "$CLI_DIR/slow.err")"
out=$(cli cancel "$slow_session" 2>&1) || cli_fail "workcell cancel on a running session: $out"
grep -q '^stopping 1 running run' <<<"$out" || cli_fail "workcell cancel said: $out"
rc=0
out=$(XDG_CONFIG_HOME="$CLI_DIR/config" timeout 120 "$CLI" --server "http://127.0.0.1:$PORT" \
  logs "$slow_session" --follow 2>&1) || rc=$?
[ "$rc" = 1 ] || cli_fail "logs --follow of the canceled run exited $rc, not 1: $out"
grep -q '^■ canceled' <<<"$out" || cli_fail "logs --follow did not show the cancel: $out"

# Errors: one line with the server's message and code, exit 1; usage errors exit 2.
rc=0; out=$(cli logs 00000000-0000-0000-0000-000000000000 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -qx 'error: .*(not_found, HTTP 404)' <<<"$out" || cli_fail "a missing session: exit $rc, $out"
rc=0; cli logs not-an-id >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || cli_fail "a usage error exited $rc, not 2"

# login against a single-user server stores just the server, in a private file.
out=$(cli login 2>&1) || cli_fail "workcell login: $out"
grep -q 'single-user mode' <<<"$out" || cli_fail "workcell login said: $out"
[ "$(stat -c %a "$CLI_DIR/config/workcell/config.toml")" = 600 ] || cli_fail "config.toml is not 0600"
[ "$(stat -c %a "$CLI_DIR/config/workcell")" = 700 ] || cli_fail "the config directory is not 0700"
XDG_CONFIG_HOME="$CLI_DIR/config" "$CLI" sessions --limit 1 >/dev/null || cli_fail "the stored server is not used"
rm -rf "$CLI_DIR"
log "the CLI works: run --follow, sessions, logs, files, attachments, cancel, detach, login"

# 6. Ctrl-C (SIGINT does not reach a background job of a script: SIGTERM, handled the same way).
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
rm -f "$OUT" "$SCENARIOS"
log "dev-smoke passed (runtime: $runtime)"
