import { describe, expect, it } from "vitest";
import type { Event, RunView } from "@/generated/protocol";
import { buildItems, type Item, type ToolItem } from "./conversation";
import { nest } from "./nesting";

type E = { id?: string; parent?: string; label: string; children?: E[] };
const nestE = (entries: E[]) =>
  nest(
    entries,
    (e) => e.id,
    (e) => e.parent,
    (e, children) => ({ ...e, children }),
  );
const labels = (entries: E[]): unknown[] => entries.map((e) => (e.children ? [e.label, labels(e.children)] : e.label));

describe("nest", () => {
  it("moves children under their parent, in order, and keeps the roots' order", () => {
    const out = nestE([
      { label: "a" },
      { id: "t1", label: "task" },
      { parent: "t1", label: "c1" },
      { label: "b" },
      { parent: "t1", label: "c2" },
      { label: "c" },
    ]);
    expect(labels(out)).toEqual(["a", ["task", ["c1", "c2"]], "b", "c"]);
  });

  it("leaves an orphan (its parent unknown, or seen only later) in the main flow", () => {
    const out = nestE([
      { parent: "later", label: "early child" },
      { parent: "nobody", label: "orphan" },
      { id: "later", label: "task" },
      { parent: "later", label: "child" },
    ]);
    expect(labels(out)).toEqual(["early child", "orphan", ["task", ["child"]]]);
  });

  it("nests recursively and never modifies its input", () => {
    const input: E[] = [
      { id: "t1", label: "outer" },
      { id: "t2", parent: "t1", label: "inner" },
      { parent: "t2", label: "deep" },
      { parent: "t1", label: "after inner" },
    ];
    const copy = structuredClone(input);
    expect(labels(nestE(input))).toEqual([["outer", [["inner", ["deep"]], "after inner"]]]);
    expect(input).toEqual(copy);
  });

  it("gives an entry without children back as it was", () => {
    const entry: E = { id: "t1", label: "alone" };
    expect(nestE([entry])[0]).toBe(entry);
  });
});

const base = { session_id: "s", time: "2026-01-01T00:00:00Z" };
function run(id: string, created: string): RunView {
  return {
    id, session_id: "s", prompt: `prompt ${id}`, status: "completed", model: null, permission_mode: "default", attempts: 1,
    max_attempts: 3, error: null, created_at: created, scheduled_at: created, started_at: null, finished_at: null,
    usage: null, export: null, kind: "interactive", scheduled_task_id: null, dead_lettered_at: null, attempt_errors: [], capabilities: null,
  };
}
let seq = 0;
const ev = (body: Pick<Event, "type" | "payload">, runId = "r1"): Event => {
  seq += 1;
  return { ...base, seq, run_id: runId, run_seq: seq, ...body } as Event;
};
const shape = (items: Item[]): unknown[] =>
  items.map((i) => {
    const label = i.kind === "tool" ? `tool:${i.name}${i.result ? "+result" : ""}` : i.kind === "text" ? `text:${i.text}` : i.kind;
    return i.kind === "tool" && i.children ? [label, shape(i.children)] : label;
  });

describe("a subagent's events in the conversation", () => {
  it("nest under their Task call, paired with their results, the Task keeping its own result", () => {
    seq = 0;
    const events: Event[] = [
      ev({ type: "assistant_text", payload: { text: "delegating" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "task1", name: "Task", input: { subagent_type: "reviewer", prompt: "look" } } }),
      ev({ type: "assistant_text", payload: { text: "sub: reading", parent_tool_use_id: "task1" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "read1", name: "Read", input: { file_path: "a" }, parent_tool_use_id: "task1" } }),
      ev({ type: "tool_result", payload: { tool_use_id: "read1", content: "x", is_error: false, parent_tool_use_id: "task1" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "todo1", name: "TodoWrite", input: {}, parent_tool_use_id: "task1" } }),
      ev({ type: "todo_update", payload: { todos: [{ content: "sub step", status: "pending" }] } }),
      ev({ type: "thinking", payload: { text: "hmm", parent_tool_use_id: "task1" } }),
      ev({ type: "tool_result", payload: { tool_use_id: "task1", content: "review done", is_error: false } }),
      ev({ type: "assistant_text", payload: { text: "done" } }),
      ev({ type: "completed", payload: {} }),
    ];
    const items = buildItems([run("r1", "2026-01-01")], events);
    expect(shape(items)).toEqual([
      "prompt",
      "text:delegating",
      ["tool:Task+result", ["text:sub: reading", "tool:Read+result", "tool:TodoWrite", "todos", "thinking"]],
      "text:done",
      "end",
    ]);
    const task = items[2] as ToolItem;
    expect(task.children!.every((c) => "parent" in c && c.parent === "task1")).toBe(true);
    // Every key once, nested or not.
    const keys: string[] = [];
    const walk = (l: Item[]) => l.forEach((i) => (keys.push(i.key), i.kind === "tool" && i.children && walk(i.children)));
    walk(items);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("keeps events whose parent is unknown in the main flow, in order", () => {
    seq = 0;
    const events: Event[] = [
      ev({ type: "assistant_text", payload: { text: "one", parent_tool_use_id: "gone" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "b1", name: "Bash", input: { command: "ls" }, parent_tool_use_id: "gone" } }),
      ev({ type: "assistant_text", payload: { text: "two" } }),
      // A main-flow to-do update (its TodoWrite had no parent) stays in the main flow.
      ev({ type: "tool_use", payload: { tool_use_id: "todo", name: "TodoWrite", input: {} } }),
      ev({ type: "todo_update", payload: { todos: [] } }),
    ];
    expect(shape(buildItems([run("r1", "2026-01-01")], events))).toEqual(["prompt", "text:one", "tool:Bash", "text:two", "tool:TodoWrite", "todos"]);
  });

  it("nests the events of a Task that is still running, and of several runs apart", () => {
    seq = 0;
    const events: Event[] = [
      ev({ type: "tool_use", payload: { tool_use_id: "t1", name: "Task", input: {} } }),
      ev({ type: "assistant_text", payload: { text: "a", parent_tool_use_id: "t1" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "t2", name: "Task", input: {} } }, "r2"),
      ev({ type: "assistant_text", payload: { text: "b", parent_tool_use_id: "t2" } }, "r2"),
      ev({ type: "assistant_text", payload: { text: "c", parent_tool_use_id: "t1" } }),
    ];
    expect(shape(buildItems([run("r1", "2026-01-01"), run("r2", "2026-01-02")], events))).toEqual([
      "prompt",
      ["tool:Task", ["text:a", "text:c"]],
      "prompt",
      ["tool:Task", ["text:b"]],
    ]);
  });
});
