// Turns a session's runs and event log into the rows the conversation view renders: each run's
// prompt, then its events, with every tool call paired with its result and a subagent's events
// nested under the call that started it (see `nesting.ts`), and each request the agent waits on
// (permission, question, plan) as a card right where it asked, in its final state.
import type { CapabilitySummary, Event, FileChange, JsonValue, McpServerStatus, RunResult, RunView, TodoItem } from "@/generated/protocol";
import { inputCards, type CardStatus, type InputCard } from "./inputRequests";
import { nest } from "./nesting";

/** Rows a subagent can produce carry `parent`: the `tool_use_id` of the call it works for. */
export type Item =
  | { kind: "prompt"; key: string; run: RunView }
  | { kind: "init"; key: string; init: AgentInit }
  | { kind: "text"; key: string; text: string; parent?: string }
  | { kind: "thinking"; key: string; text: string; parent?: string }
  | ToolItem
  | { kind: "todos"; key: string; todos: TodoItem[]; parent?: string }
  /** `model`: the run's (`null`: the catalog's default), for a cost the CLI did not report. */
  | { kind: "result"; key: string; result: RunResult; model: string | null }
  | { kind: "changes"; key: string; runId: string; changes: FileChange[] }
  | { kind: "end"; key: string; status: "completed" | "failed" | "canceled"; detail: string | null }
  | { kind: "raw"; key: string; line: string }
  | InputItem;

/** A request the agent waits on, tied to its tool call (`tool`, when the log holds it). It stays
 * in the main flow even when a subagent asked, so a pending card is never folded away. */
export interface InputItem {
  kind: "input";
  key: string;
  card: InputCard;
  tool?: { name: string; input: JsonValue };
}

export interface ToolItem {
  kind: "tool";
  key: string;
  name: string;
  input: JsonValue;
  toolUseId: string;
  result?: { content: JsonValue; isError: boolean };
  parent?: string;
  /** The events of the subagent this call started, in order (absent when none). */
  children?: Item[];
  /** The call waits for a person's answer (a pending input request names it). */
  waiting?: boolean;
}

/** What the agent reported when it started (its init line), with what the run was queued with. */
export interface AgentInit {
  runId: string;
  model: string | null;
  tools: string[];
  mcpServers: McpServerStatus[];
  skills: string[];
  slashCommands: string[];
  agents: string[];
  /** The run's own capabilities (`RunView.capabilities`); null for runs from before them. */
  capabilities: CapabilitySummary | null;
}

/**
 * Builds the rows. `runs` may be in any order; they are shown by creation time. `closed`: requests
 * the server closed without an event (see `closedByServer`).
 */
export function buildItems(runs: RunView[], events: Event[], closed?: ReadonlyMap<string, CardStatus>): Item[] {
  const ordered = [...runs].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  const runById = new Map(ordered.map((r) => [r.id, r]));
  const items: Item[] = [];
  const shown = new Set<string>();
  const tools = new Map<string, ToolItem>();
  const ended = new Set(ordered.filter((r) => ["completed", "failed", "canceled"].includes(r.status)).map((r) => r.id));
  const cards = new Map(inputCards(events, ended, closed).map((c) => [c.request.request_id, c]));
  // The parent of the last event's TodoWrite call: its to-do update belongs to the same agent.
  let todoParent: { runId: string; parent: string } | null = null;
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
    const inherited = todoParent?.runId === e.run_id ? todoParent.parent : undefined;
    todoParent = null;
    switch (e.type) {
      case "assistant_text":
        items.push(withParent({ kind: "text", key, text: e.payload.text }, e.payload.parent_tool_use_id));
        break;
      case "thinking":
        items.push(withParent({ kind: "thinking", key, text: e.payload.text }, e.payload.parent_tool_use_id));
        break;
      case "tool_use": {
        const item: ToolItem = withParent(
          { kind: "tool", key, name: e.payload.name, input: e.payload.input, toolUseId: e.payload.tool_use_id },
          e.payload.parent_tool_use_id,
        );
        tools.set(e.payload.tool_use_id, item);
        items.push(item);
        if (item.parent && item.name === "TodoWrite") todoParent = { runId: e.run_id, parent: item.parent };
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
          items.push(
            withParent({ kind: "tool", key, name: "result", input: null, toolUseId: e.payload.tool_use_id, result }, e.payload.parent_tool_use_id),
          );
        }
        break;
      }
      case "todo_update":
        items.push(withParent({ kind: "todos", key, todos: e.payload.todos }, inherited));
        break;
      case "result":
        items.push({ kind: "result", key, result: e.payload, model: runById.get(e.run_id)?.model ?? null });
        break;
      case "file_changes":
        items.push({ kind: "changes", key, runId: e.run_id, changes: e.payload.changes });
        break;
      case "raw":
        items.push({ kind: "raw", key, line: e.payload.line });
        break;
      case "input_request": {
        const card = cards.get(e.payload.request_id);
        // A repeated request id (never expected) is shown once.
        if (!card || card.request !== e.payload) break;
        const call = e.payload.tool_use_id ? tools.get(e.payload.tool_use_id) : undefined;
        if (call && !call.result && card.status === "pending") {
          // The call is not running yet: it waits for the card's answer.
          const updated: ToolItem = { ...call, waiting: true };
          tools.set(call.toolUseId, updated);
          const at = items.lastIndexOf(call);
          if (at >= 0) items[at] = updated;
        }
        items.push({ kind: "input", key, card, ...(call ? { tool: { name: call.name, input: call.input } } : {}) });
        break;
      }
      case "completed":
        items.push({ kind: "end", key, status: "completed", detail: null });
        break;
      case "failed":
        items.push({ kind: "end", key, status: "failed", detail: e.payload.error });
        break;
      case "canceled":
        items.push({ kind: "end", key, status: "canceled", detail: e.payload.reason ?? null });
        break;
      case "system_init": {
        const p = e.payload;
        items.push({
          kind: "init",
          key,
          init: {
            runId: e.run_id,
            model: p.model ?? null,
            tools: p.tools,
            mcpServers: p.mcp_servers ?? [],
            skills: p.skills ?? [],
            slashCommands: p.slash_commands ?? [],
            agents: p.agents ?? [],
            capabilities: runById.get(e.run_id)?.capabilities ?? null,
          },
        });
        break;
      }
    }
  }
  for (const r of ordered) {
    if (!shown.has(r.id)) items.push({ kind: "prompt", key: `p-${r.id}`, run: r });
  }
  return nest(
    items,
    (i) => (i.kind === "tool" ? i.toolUseId : null),
    (i) => ("parent" in i ? i.parent : null),
    (i, children) => (i.kind === "tool" ? { ...i, children } : i),
  );
}

/** The item with its `parent` set when the event names one (absent otherwise). */
function withParent<T extends Item>(item: T, parent: string | null | undefined): T {
  return parent ? { ...item, parent } : item;
}

/** The text of a tool result (a string or the CLI's list of content blocks); an image block reads
 * `image` (the UI's words for it). */
export function resultText(content: JsonValue, image = "[image]"): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((b) => {
        if (b && typeof b === "object" && !Array.isArray(b)) {
          if (typeof b.text === "string") return b.text;
          if (b.type === "image") return image;
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
