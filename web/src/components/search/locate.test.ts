import { describe, expect, it } from "vitest";
import type { Event, RunView } from "@/generated/protocol";
import { buildItems } from "@/lib/conversation";
import { jumpTarget, locate } from "./locate";

function run(id: string, created: string): RunView {
  return {
    id, session_id: "s", prompt: `prompt ${id}`, status: "completed", model: null, permission_mode: "default", attempts: 1,
    max_attempts: 3, error: null, created_at: created, scheduled_at: created, started_at: null, finished_at: null,
    usage: null, export: null, kind: "interactive", scheduled_task_id: null, dead_lettered_at: null, attempt_errors: [], capabilities: null,
  };
}
const base = { session_id: "s", time: "2026-01-01T00:00:00Z" };
const events: Event[] = [
  { ...base, seq: 1, run_id: "r1", run_seq: 1, type: "assistant_text", payload: { text: "hi" } },
  { ...base, seq: 2, run_id: "r1", run_seq: 2, type: "tool_use", payload: { tool_use_id: "task", name: "Task", input: {} } },
  { ...base, seq: 3, run_id: "r1", run_seq: 3, type: "assistant_text", payload: { text: "sub", parent_tool_use_id: "task" } },
  { ...base, seq: 4, run_id: "r1", run_seq: 4, type: "tool_result", payload: { tool_use_id: "task", content: "done", is_error: false } },
  { ...base, seq: 5, run_id: "r2", run_seq: 1, type: "assistant_text", payload: { text: "again" } },
  {
    ...base, seq: 6, run_id: "r2", run_seq: 2, type: "input_answer",
    payload: { request_id: "q", outcome: "answered", decision: "allow", always: false } as Extract<Event, { type: "input_answer" }>["payload"],
  },
  { ...base, seq: 7, run_id: "r2", run_seq: 3, type: "file_changes", payload: { changes: [] } },
];
const runs = [run("r1", "2026-01-01"), run("r2", "2026-01-02")];
const items = buildItems(runs, events);
// Rows: p-r1, e-1, e-2 (Task with e-3 nested, result e-4), p-r2, e-5, e-7.
const keyAt = (l: ReturnType<typeof locate>) => (typeof l === "string" ? l : l.key);

describe("locate", () => {
  it("finds an event's own row", () => {
    expect(locate(items, events, 7, { seq: 1 })).toEqual({ index: 1, key: "e-1" });
    expect(keyAt(locate(items, events, 7, { seq: 7 }))).toBe("e-7");
  });

  it("finds a subagent's event under the call that started it, and a result in its call's row", () => {
    expect(keyAt(locate(items, events, 7, { seq: 3 }))).toBe("e-2");
    expect(keyAt(locate(items, events, 7, { seq: 4 }))).toBe("e-2");
  });

  it("points an event without a row at the closest row before it", () => {
    expect(keyAt(locate(items, events, 7, { seq: 6 }))).toBe("e-5");
  });

  it("finds a run's prompt", () => {
    expect(keyAt(locate(items, events, 7, { run: "r2" }))).toBe("p-r2");
    expect(locate(items, events, 7, { run: "nope" })).toBe("pending");
  });

  it("waits for an event not loaded yet, and gives up on one that cannot come", () => {
    expect(locate(items, events, 7, { seq: 9 })).toBe("pending");
    const partial = events.slice(0, 3);
    expect(locate(buildItems(runs, partial), partial, 3, { seq: 5 })).toBe("pending");
    const gap = events.filter((e) => e.seq !== 5);
    expect(locate(buildItems(runs, gap), gap, 4, { seq: 5 })).toBe("pending");
    expect(locate(buildItems(runs, gap), gap, 7, { seq: 5 })).toBe("missing");
  });
});

describe("jumpTarget", () => {
  const q = (s: string) => new URLSearchParams(s);
  it("reads a positive seq, else a run", () => {
    expect(jumpTarget(q("seq=12"))).toEqual({ seq: 12 });
    expect(jumpTarget(q("run=r1"))).toEqual({ run: "r1" });
    expect(jumpTarget(q("seq=12&run=r1"))).toEqual({ seq: 12 });
  });
  it("ignores what is not one", () => {
    expect(jumpTarget(q(""))).toBeNull();
    expect(jumpTarget(q("seq=0"))).toBeNull();
    expect(jumpTarget(q("seq=-3"))).toBeNull();
    expect(jumpTarget(q("seq=1e3"))).toBeNull();
  });
});
