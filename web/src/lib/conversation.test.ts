import { describe, expect, it } from "vitest";
import type { Event, RunView } from "@/generated/protocol";
import { buildItems, resultText } from "./conversation";

function run(id: string, created: string, status: RunView["status"] = "completed"): RunView {
  return {
    id, session_id: "s", prompt: `prompt ${id}`, status, model: null, permission_mode: "default", attempts: 1,
    max_attempts: 3, error: null, created_at: created, scheduled_at: created, started_at: null, finished_at: null,
    usage: null, export: null, kind: "interactive", scheduled_task_id: null, dead_lettered_at: null, attempt_errors: [], capabilities: null,
  };
}
const base = { session_id: "s", time: "2026-01-01T00:00:00Z" };

describe("conversation rows", () => {
  it("puts each run's prompt before its events and pairs tool calls with results", () => {
    const events: Event[] = [
      { ...base, seq: 1, run_id: "r1", run_seq: 1, type: "assistant_text", payload: { text: "hi" } },
      { ...base, seq: 2, run_id: "r1", run_seq: 2, type: "tool_use", payload: { tool_use_id: "t1", name: "Bash", input: { command: "ls" } } },
      { ...base, seq: 3, run_id: "r1", run_seq: 3, type: "tool_result", payload: { tool_use_id: "t1", content: [{ type: "text", text: "a.txt" }], is_error: false } },
      { ...base, seq: 4, run_id: "r2", run_seq: 1, type: "assistant_text", payload: { text: "again" } },
    ];
    const items = buildItems([run("r2", "2026-01-02"), run("r1", "2026-01-01"), run("r3", "2026-01-03", "queued")], events);
    expect(items.map((i) => i.kind)).toEqual(["prompt", "text", "tool", "prompt", "text", "prompt"]);
    const tool = items[2]!;
    expect(tool.kind === "tool" && tool.result && resultText(tool.result.content)).toBe("a.txt");
    expect(new Set(items.map((i) => i.key)).size).toBe(items.length);
  });

  it("gives a run's result its run's model, for a cost the CLI did not report", () => {
    const usage = { input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    const result = { is_error: false, num_turns: 1, duration_ms: 5, total_cost_usd: 0, usage };
    const events: Event[] = [
      { ...base, seq: 1, run_id: "r1", run_seq: 1, type: "result", payload: result },
      { ...base, seq: 2, run_id: "r2", run_seq: 1, type: "result", payload: result },
    ];
    const items = buildItems([{ ...run("r1", "2026-01-01"), model: "acme/coder" }, run("r2", "2026-01-02")], events);
    expect(items.flatMap((i) => (i.kind === "result" ? [i.model] : []))).toEqual(["acme/coder", null]);
  });

  it("shows the agent's init line with what it loaded and the run's own capabilities", () => {
    const caps = {
      preset: { id: "p", name: "reviewer" }, skills: [], mcp_servers: [{ id: "m", name: "docs" }], slash_commands: [{ id: "c", name: "review" }],
      subagents: [], instructions: false, model: null, permission_mode: null,
    };
    const events: Event[] = [
      {
        ...base, seq: 1, run_id: "r1", run_seq: 1, type: "system_init",
        payload: {
          agent_session_id: "a", model: "m1", tools: ["Bash"], mcp_servers: [{ name: "docs", status: "failed" }],
          slash_commands: ["compact", "review"], skills: [], agents: ["general-purpose"],
        },
      },
      // An init line from an older executor, without the lists.
      { ...base, seq: 2, run_id: "r2", run_seq: 1, type: "system_init", payload: { agent_session_id: "a", tools: [] } },
    ];
    const items = buildItems([{ ...run("r1", "2026-01-01"), capabilities: caps }, run("r2", "2026-01-02")], events);
    expect(items.map((i) => i.kind)).toEqual(["prompt", "init", "prompt", "init"]);
    const [first, second] = [items[1]!, items[3]!];
    expect(first.kind === "init" && first.init).toEqual({
      runId: "r1", model: "m1", tools: ["Bash"], mcpServers: [{ name: "docs", status: "failed" }], skills: [],
      slashCommands: ["compact", "review"], agents: ["general-purpose"], capabilities: caps,
    });
    expect(second.kind === "init" && second.init).toEqual({
      runId: "r2", model: null, tools: [], mcpServers: [], skills: [], slashCommands: [], agents: [], capabilities: null,
    });
  });
});

describe("input request cards", () => {
  const req = (id: string, toolUseId: string) => ({
    request_id: id, kind: "permission" as const, tool_name: "Bash", tool_use_id: toolUseId, input: { command: "rm -rf x" }, expires_at: "2026-01-01T00:05:00Z",
  });
  it("puts each request after its tool call, tied to it, in its final state", () => {
    const events: Event[] = [
      { ...base, seq: 1, run_id: "r1", run_seq: 1, type: "tool_use", payload: { tool_use_id: "t1", name: "Bash", input: { command: "rm -rf x" } } },
      { ...base, seq: 2, run_id: "r1", run_seq: 2, type: "input_request", payload: req("q1", "t1") },
      { ...base, seq: 3, run_id: "r1", run_seq: 3, type: "input_answer", payload: { request_id: "q1", outcome: "answered", decision: "allow", always: false, answered_by: "a@b.c", answered_at: "2026-01-01T00:00:01Z" } },
      { ...base, seq: 4, run_id: "r1", run_seq: 4, type: "tool_result", payload: { tool_use_id: "t1", content: "ok", is_error: false } },
      // A request whose call is not in the log; its run then fails.
      { ...base, seq: 5, run_id: "r1", run_seq: 5, type: "input_request", payload: req("q2", "t-unknown") },
      { ...base, seq: 6, run_id: "r1", run_seq: 6, type: "failed", payload: { error: "boom" } },
    ];
    const items = buildItems([run("r1", "2026-01-01", "failed")], events);
    expect(items.map((i) => i.kind)).toEqual(["prompt", "tool", "input", "input", "end"]);
    const [first, second] = [items[2]!, items[3]!];
    expect(first.kind === "input" && [first.card.status, first.card.answer?.answered_by, first.tool?.name]).toEqual(["answered", "a@b.c", "Bash"]);
    // An answered call is not marked as waiting.
    expect(items[1]!.kind === "tool" && items[1]!.waiting).toBeFalsy();
    expect(second.kind === "input" && [second.card.status, second.tool]).toEqual(["canceled", undefined]);
  });

  it("marks a call waiting for its pending card, and not once answered", () => {
    const asked: Event[] = [
      { ...base, seq: 1, run_id: "r1", run_seq: 1, type: "tool_use", payload: { tool_use_id: "t1", name: "Bash", input: { command: "ls" } } },
      { ...base, seq: 2, run_id: "r1", run_seq: 2, type: "input_request", payload: req("q1", "t1") },
    ];
    const waiting = buildItems([run("r1", "2026-01-01", "running")], asked)[1]!;
    expect(waiting.kind === "tool" && waiting.waiting).toBe(true);
    const answered = buildItems([run("r1", "2026-01-01", "running")], [
      ...asked,
      { ...base, seq: 3, run_id: "r1", run_seq: 3, type: "input_answer", payload: { request_id: "q1", outcome: "answered", decision: "allow", always: false, answered_by: "a@b.c", answered_at: "2026-01-01T00:00:01Z" } },
    ])[1]!;
    expect(answered.kind === "tool" && answered.waiting).toBeFalsy();
  });

  it("keeps a subagent's request in the main flow and cancels a pending one of a run that ended without an event", () => {
    const events: Event[] = [
      { ...base, seq: 1, run_id: "r1", run_seq: 1, type: "tool_use", payload: { tool_use_id: "task", name: "Task", input: {} } },
      { ...base, seq: 2, run_id: "r1", run_seq: 2, type: "tool_use", payload: { tool_use_id: "t1", name: "Bash", input: {}, parent_tool_use_id: "task" } },
      { ...base, seq: 3, run_id: "r1", run_seq: 3, type: "input_request", payload: req("q1", "t1") },
    ];
    const running = buildItems([run("r1", "2026-01-01", "running")], events);
    expect(running.map((i) => i.kind)).toEqual(["prompt", "tool", "input"]);
    const card = running[2]!;
    expect(card.kind === "input" && card.card.status).toBe("pending");
    const lost = buildItems([run("r1", "2026-01-01", "failed")], events)[2]!;
    expect(lost.kind === "input" && lost.card.status).toBe("canceled");
  });
});
