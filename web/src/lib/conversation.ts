// Turns a session's runs and event log into the rows the conversation view renders: each run's
// prompt, then its events, with every tool call paired with its result.
import type { Event, FileChange, JsonValue, RunResult, RunView, TodoItem } from "@/generated/protocol";

export type Item =
  | { kind: "prompt"; key: string; run: RunView }
  | { kind: "text"; key: string; text: string }
  | { kind: "thinking"; key: string; text: string }
  | {
      kind: "tool";
      key: string;
      name: string;
      input: JsonValue;
      toolUseId: string;
      result?: { content: JsonValue; isError: boolean };
    }
  | { kind: "todos"; key: string; todos: TodoItem[] }
  | { kind: "result"; key: string; result: RunResult }
  | { kind: "changes"; key: string; runId: string; changes: FileChange[] }
  | { kind: "end"; key: string; status: "completed" | "failed" | "canceled"; detail: string | null }
  | { kind: "raw"; key: string; line: string };

/** Builds the rows. `runs` may be in any order; they are shown by creation time. */
export function buildItems(runs: RunView[], events: Event[]): Item[] {
  const ordered = [...runs].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  const runById = new Map(ordered.map((r) => [r.id, r]));
  const items: Item[] = [];
  const shown = new Set<string>();
  const tools = new Map<string, Extract<Item, { kind: "tool" }>>();
  const showPrompt = (runId: string) => {
    if (shown.has(runId)) return;
    // Earlier runs without events yet come first, in order.
    for (const r of ordered) {
      if (r.id === runId) break;
      if (!shown.has(r.id) && r.created_at <= (runById.get(runId)?.created_at ?? "")) {
        shown.add(r.id);
        items.push({ kind: "prompt", key: `p-${r.id}`, run: r });
      }
    }
    const run = runById.get(runId);
    shown.add(runId);
    if (run) items.push({ kind: "prompt", key: `p-${run.id}`, run });
  };
  for (const e of events) {
    showPrompt(e.run_id);
    const key = `e-${e.seq}`;
    switch (e.type) {
      case "assistant_text":
        items.push({ kind: "text", key, text: e.payload.text });
        break;
      case "thinking":
        items.push({ kind: "thinking", key, text: e.payload.text });
        break;
      case "tool_use": {
        const item: Extract<Item, { kind: "tool" }> = {
          kind: "tool",
          key,
          name: e.payload.name,
          input: e.payload.input,
          toolUseId: e.payload.tool_use_id,
        };
        tools.set(e.payload.tool_use_id, item);
        items.push(item);
        break;
      }
      case "tool_result": {
        const tool = tools.get(e.payload.tool_use_id);
        const result = { content: e.payload.content, isError: e.payload.is_error };
        if (tool) {
          // Replace rather than mutate: memoized rows see a new object.
          const updated = { ...tool, result };
          tools.set(e.payload.tool_use_id, updated);
          const at = items.lastIndexOf(tool);
          if (at >= 0) items[at] = updated;
        } else {
          items.push({ kind: "tool", key, name: "result", input: null, toolUseId: e.payload.tool_use_id, result });
        }
        break;
      }
      case "todo_update":
        items.push({ kind: "todos", key, todos: e.payload.todos });
        break;
      case "result":
        items.push({ kind: "result", key, result: e.payload });
        break;
      case "file_changes":
        items.push({ kind: "changes", key, runId: e.run_id, changes: e.payload.changes });
        break;
      case "raw":
        items.push({ kind: "raw", key, line: e.payload.line });
        break;
      case "completed":
        items.push({ kind: "end", key, status: "completed", detail: null });
        break;
      case "failed":
        items.push({ kind: "end", key, status: "failed", detail: e.payload.error });
        break;
      case "canceled":
        items.push({ kind: "end", key, status: "canceled", detail: e.payload.reason ?? null });
        break;
      case "system_init":
        break;
    }
  }
  for (const r of ordered) {
    if (!shown.has(r.id)) items.push({ kind: "prompt", key: `p-${r.id}`, run: r });
  }
  return items;
}

/** The text of a tool result (a string or the CLI's list of content blocks). */
export function resultText(content: JsonValue): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((b) => {
        if (b && typeof b === "object" && !Array.isArray(b)) {
          if (typeof b.text === "string") return b.text;
          if (b.type === "image") return "[image]";
        }
        return typeof b === "string" ? b : JSON.stringify(b);
      })
      .join("\n");
  }
  if (content === null) return "";
  return JSON.stringify(content, null, 2);
}

/** The latest todo list of the session. */
export function latestTodos(events: Event[]): TodoItem[] | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.type === "todo_update") return e.payload.todos;
  }
  return null;
}
