// Conversation rows from a run's events (through `buildItems`, as the conversation builds them):
// the prompt, Markdown text, thinking, tool calls with their output (terminal, compact, JSON),
// failures (a failed tool call, a failed run, a dead-lettered run), the result line and subagents.
import { screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Event, EventBody, RunView } from "@/generated/protocol";
import { buildItems, type Item } from "@/lib/conversation";
import { mockFetch } from "@/test/fetch";
import { renderWithProviders } from "@/test/render";
import { ItemRow } from "./ItemRow";
import { ToolCall } from "./ToolCall";

vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);

const T = "2026-01-15T12:00:00Z";
const base = { session_id: "s1", time: T };
let seq = 0;
/** An event of run r1 (`seq` counts up). */
function ev(body: EventBody): Event {
  seq += 1;
  return { ...base, seq, run_id: "r1", run_seq: seq, ...body };
}

function run(over: Partial<RunView> = {}): RunView {
  return {
    id: "r1", session_id: "s1", prompt: "Write a short report", status: "completed", model: null, permission_mode: "default", attempts: 1,
    max_attempts: 3, error: null, created_at: T, scheduled_at: T, started_at: T, finished_at: T, usage: null, export: null,
    kind: "interactive", scheduled_task_id: null, dead_lettered_at: null, attempt_errors: [], capabilities: null, ...over,
  };
}

/** Renders the rows the way the conversation does (each in a keyed row). */
function renderRows(items: Item[], onRetry = vi.fn()) {
  const rendered = renderWithProviders(
    <div data-testid="conversation">
      {items.map((i) => (
        <div key={i.key} className="row" data-key={i.key}>
          <ItemRow item={i} onRetry={onRetry} />
        </div>
      ))}
    </div>,
  );
  return { ...rendered, onRetry, conv: screen.getByTestId("conversation") };
}

beforeEach(() => {
  seq = 0;
  mockFetch({ "GET /models": { models: [], default_model: null } });
});

describe("conversation rows", () => {
  it("shows the prompt, the answer as Markdown and thinking folded", () => {
    const items = buildItems([run()], [
      ev({ type: "thinking", payload: { text: "The user wants a report." } }),
      ev({ type: "assistant_text", payload: { text: "I'll write **the report** now.\n\n- one\n- two" } }),
      ev({ type: "completed", payload: {} }),
    ]);
    const { conv } = renderRows(items);
    const prompt = conv.querySelector('[data-kind="prompt"]')!;
    expect(prompt.textContent).toContain("Write a short report");
    const answer = conv.querySelector('[data-kind="text"]')!;
    expect(within(answer as HTMLElement).getByText("the report").tagName).toBe("STRONG");
    expect(within(answer as HTMLElement).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["one", "two"]);
    const thinking = conv.querySelector("details.thinking") as HTMLDetailsElement;
    expect(thinking.open).toBe(false);
    expect(thinking.textContent).toContain("The user wants a report.");
    expect(conv.querySelector('[data-kind="end"]')!.textContent).toBe("Run completed");
  });

  it("shows a Bash call as a terminal with its command, description and output", () => {
    const items = buildItems([run()], [
      ev({ type: "tool_use", payload: { tool_use_id: "t1", name: "Bash", input: { command: "echo hi && ls", description: "List the files" } } }),
      ev({ type: "tool_result", payload: { tool_use_id: "t1", content: [{ type: "text", text: "hi\nreport.md" }], is_error: false } }),
    ]);
    const { conv } = renderRows(items);
    const bash = conv.querySelector('[data-tool="Bash"]')!;
    expect(bash.querySelector(".terminal-note")!.textContent).toBe("# List the files");
    expect(bash.querySelector(".terminal-cmd")!.textContent).toContain("echo hi && ls");
    expect(bash.querySelector(".terminal-out")!.textContent).toBe("hi\nreport.md");
    expect(bash.classList.contains("tool-error")).toBe(false);
  });

  it("shows a call still running, and one waiting for a person's answer", () => {
    const { container, rerender } = renderWithProviders(<ToolCall name="Bash" input={{ command: "sleep 5" }} />);
    expect(container.querySelector(".terminal-out")!.textContent).toBe("running…");
    rerender(<ToolCall name="Bash" input={{ command: "sleep 5" }} waiting />);
    expect(container.querySelector(".terminal-out")!.textContent).toBe("waiting for your answer…");
  });

  it("marks a failed tool call and shows its error output", () => {
    const items = buildItems([run()], [
      ev({ type: "tool_use", payload: { tool_use_id: "t1", name: "Write", input: { file_path: "/etc/passwd", content: "x" } } }),
      ev({ type: "tool_result", payload: { tool_use_id: "t1", content: "Permission denied", is_error: true } }),
      ev({ type: "tool_use", payload: { tool_use_id: "t2", name: "Bash", input: { command: "false" } } }),
      ev({ type: "tool_result", payload: { tool_use_id: "t2", content: "exit code 1", is_error: true } }),
    ]);
    const { conv } = renderRows(items);
    const write = conv.querySelector('[data-tool="Write"]')!;
    expect(write.classList.contains("tool-error")).toBe(true);
    expect(write.querySelector(".tool-head")!.textContent).toContain("/etc/passwd");
    expect(write.querySelector(".tool-head")!.textContent).toContain("failed");
    expect(write.querySelector(".tool-out")!.textContent).toBe("Permission denied");
    const bash = conv.querySelector('[data-tool="Bash"]')!;
    expect(bash.classList.contains("tool-error")).toBe(true);
    expect(bash.querySelector(".terminal-out")!.textContent).toBe("exit code 1");
  });

  it("folds a Read call's output into one line until opened", async () => {
    const items = buildItems([run()], [
      ev({ type: "tool_use", payload: { tool_use_id: "t1", name: "Read", input: { file_path: "src/main.rs" } } }),
      ev({ type: "tool_result", payload: { tool_use_id: "t1", content: "fn main() {\n    println!(\"hi\");\n}", is_error: false } }),
    ]);
    const { conv, user } = renderRows(items);
    const head = within(conv).getByRole("button", { name: /Read src\/main\.rs/ });
    expect(head.textContent).toContain("3 lines");
    expect(head.getAttribute("aria-expanded")).toBe("false");
    expect(conv.textContent).not.toContain("println!");
    await user.click(head);
    expect(head.getAttribute("aria-expanded")).toBe("true");
    expect(conv.textContent).toContain('println!("hi");');
  });

  it("shows another tool's input as JSON with its output", () => {
    const items = buildItems([run()], [
      ev({ type: "tool_use", payload: { tool_use_id: "t1", name: "WebFetch", input: { url: "https://example.com" } } }),
      ev({ type: "tool_result", payload: { tool_use_id: "t1", content: "Example Domain", is_error: false } }),
    ]);
    const { conv } = renderRows(items);
    const tool = conv.querySelector('[data-tool="WebFetch"]')!;
    expect(tool.textContent).toContain('"url": "https://example.com"');
    expect(tool.querySelector(".tool-out")!.textContent).toBe("Example Domain");
  });

  it("shows a failed run's error and its end, and offers a retry for a dead-lettered run", async () => {
    const failed = run({
      status: "failed",
      error: "the executor was lost",
      attempts: 3,
      dead_lettered_at: T,
      attempt_errors: [
        { attempt: 1, at: T, error: "lost" },
        { attempt: 2, at: T, error: "lost again" },
        { attempt: 3, at: T, error: "the executor was lost" },
      ],
    });
    const items = buildItems([failed], [ev({ type: "failed", payload: { error: "the executor was lost" } })]);
    const { conv, user, onRetry } = renderRows(items);
    const prompt = conv.querySelector('[data-kind="prompt"]')!;
    expect(prompt.querySelector(".error")!.textContent).toBe("the executor was lost");
    expect(prompt.textContent).toContain("attempt 3 of 3");
    expect(prompt.querySelector("details summary")!.textContent).toBe("3 failed attempts");
    const end = conv.querySelector('[data-kind="end"]')!;
    expect(end.textContent).toBe("Run failed: the executor was lost");
    expect(end.classList.contains("run-end-failed")).toBe(true);
    await user.click(within(conv).getByRole("button", { name: "Retry this run" }));
    expect(onRetry).toHaveBeenCalledWith("r1");
  });

  it("shows a canceled run without its cancellation as an error", () => {
    const items = buildItems([run({ status: "canceled", error: "canceled by the user" })], [ev({ type: "canceled", payload: { reason: "by the user" } })]);
    const { conv } = renderRows(items);
    expect(conv.querySelector('[data-kind="prompt"] .error')).toBeNull();
    expect(conv.querySelector('[data-kind="end"]')!.textContent).toBe("Run canceled: by the user");
  });

  it("sums the run's turns, time, tokens and cost in the result line", () => {
    const usage = { input_tokens: 1200, output_tokens: 80, cache_creation_input_tokens: 0, cache_read_input_tokens: 10_000 };
    const items = buildItems([run()], [ev({ type: "result", payload: { is_error: false, num_turns: 2, duration_ms: 4_250, total_cost_usd: 0.0123, usage } })]);
    const { conv } = renderRows(items);
    const result = conv.querySelector('[data-kind="result"]')!;
    expect(result.textContent).toContain("2 turns");
    expect(result.textContent).toContain("4.3 s");
    expect(result.textContent).toContain("11.2k in / 80 out");
    expect(within(result as HTMLElement).getByTestId("cost").textContent).toMatch(/\$0\.01/);
  });

  it("folds a subagent's work under the call that started it", async () => {
    const items = buildItems([run()], [
      ev({ type: "tool_use", payload: { tool_use_id: "task1", name: "Task", input: { subagent_type: "helper", description: "Check the helper", prompt: "Say hello" } } }),
      ev({ type: "assistant_text", payload: { text: "Helper at work.", parent_tool_use_id: "task1" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "b1", name: "Bash", input: { command: "echo helper-output" }, parent_tool_use_id: "task1" } }),
      ev({ type: "tool_result", payload: { tool_use_id: "b1", content: "helper-output", is_error: false, parent_tool_use_id: "task1" } }),
      ev({ type: "tool_result", payload: { tool_use_id: "task1", content: "Helper done.", is_error: false } }),
    ]);
    const { conv, user } = renderRows(items);
    const task = conv.querySelector(".tool-group")!;
    expect(task.querySelector(".tool-head")!.textContent).toContain("helper: Check the helper");
    expect(task.querySelector(".task-answer")!.textContent).toContain("Helper done.");
    const toggle = within(task as HTMLElement).getByRole("button", { name: /Subagent: 2 events/ });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    expect(conv.textContent).not.toContain("helper-output");
    await user.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(within(task as HTMLElement).getByTestId("subagent-events").querySelector('[data-tool="Bash"] .terminal-out')!.textContent).toBe("helper-output");
  });

  it("lists the files a run changed with their line counts", () => {
    const items = buildItems([run()], [
      ev({
        type: "file_changes",
        payload: {
          changes: [
            { path: "report.md", change: "added", old_path: null, lines_added: 3, lines_deleted: 0 },
            { path: "b.txt", change: "renamed", old_path: "a.txt", lines_added: 1, lines_deleted: 1 },
          ],
        },
      }),
    ]);
    const { conv } = renderRows(items);
    const changes = conv.querySelector('[data-kind="changes"]')!;
    const rows = within(changes as HTMLElement).getAllByRole("listitem").map((li) => li.textContent);
    expect(rows[0]).toContain("report.md");
    expect(rows[0]).toContain("+3");
    expect(rows[1]).toContain("a.txt → b.txt");
    expect(screen.queryByText("No files changed")).toBeNull();
  });
});
