// The screens speak Simplified Chinese when the locale is zh: conversation rows, input cards, the
// sign-in screen, the capabilities library and the schedule form render in Chinese, with no
// message missing or failing to format (next-intl reports those through console.error).
import { screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Event, EventBody, RunView } from "@/generated/protocol";
import { buildItems } from "@/lib/conversation";
import { apiError, mockFetch } from "@/test/fetch";
import { renderWithProviders } from "@/test/render";
import { ItemRow } from "@/components/ItemRow";
import { ScheduleForm } from "@/components/ScheduleForm";
import CapabilitiesPage from "@/app/capabilities/page";
import Login from "@/app/login/page";
import { useReadableError } from "@/lib/useReadableError";
import { ApiError } from "@/lib/api";

vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);

const T = "2026-01-15T12:00:00Z";
let seq = 0;
function ev(body: EventBody, runId = "r1"): Event {
  seq += 1;
  return { session_id: "s1", time: T, seq, run_id: runId, run_seq: seq, ...body };
}
const run: RunView = {
  id: "r1", session_id: "s1", prompt: "写一份报告", status: "failed", model: null, permission_mode: "default", attempts: 2,
  max_attempts: 3, error: null, created_at: T, scheduled_at: T, started_at: T, finished_at: T, usage: null, export: null,
  kind: "scheduled", scheduled_task_id: null, dead_lettered_at: T, attempt_errors: [], capabilities: null,
};

let intlErrors: string[] = [];
beforeEach(() => {
  seq = 0;
  intlErrors = [];
  const original = console.error;
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    const text = args.map(String).join(" ");
    if (/MISSING_MESSAGE|FORMATTING_ERROR|INVALID_MESSAGE|INVALID_KEY/.test(text)) intlErrors.push(text);
    else original(...args);
  });
});
afterEach(() => expect(intlErrors).toEqual([]));

describe("in Simplified Chinese", () => {
  it("renders a run's rows", async () => {
    mockFetch({ "GET /models": { models: [], default_model: null } });
    const permission = { request_id: "q1", kind: "permission" as const, tool_name: "Bash", tool_use_id: "t2", input: { command: "rm x" }, expires_at: "2099-01-01T00:00:00Z" };
    const plan = { request_id: "q2", kind: "plan" as const, tool_name: "ExitPlanMode", tool_use_id: null, input: {}, plan: "1. 做事", expires_at: T };
    const running: RunView = { ...run, id: "r2", status: "running", kind: "interactive", dead_lettered_at: null, attempts: 1, created_at: "2026-01-15T12:01:00Z" };
    const items = buildItems([run, running], [
      ev({ type: "system_init", payload: { agent_session_id: "a", tools: ["Bash", "Read"], skills: ["pdf"], slash_commands: [], agents: [] } }),
      ev({ type: "thinking", payload: { text: "想一想" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "t1", name: "Read", input: { file_path: "a.txt" } } }),
      ev({ type: "tool_result", payload: { tool_use_id: "t1", content: "one\ntwo", is_error: false } }),
      ev({ type: "failed", payload: { error: "boom" } }),
      ev({ type: "tool_use", payload: { tool_use_id: "t2", name: "Bash", input: { command: "rm x" } } }, "r2"),
      ev({ type: "input_request", payload: permission }, "r2"),
      ev({ type: "input_request", payload: plan }, "r2"),
      ev({ type: "input_answer", payload: { request_id: "q2", outcome: "answered", decision: "allow", always: false, mode: "acceptEdits", answered_by: "a@example.com", answered_at: T } }, "r2"),
      ev({ type: "todo_update", payload: { todos: [{ content: "写", status: "completed", active_form: null }, { content: "查", status: "pending", active_form: null }] } }, "r2"),
      ev({ type: "file_changes", payload: { changes: [{ path: "a.txt", change: "added", old_path: null, lines_added: 2, lines_deleted: 0 }] } }, "r2"),
    ] as Event[]);
    renderWithProviders(
      <div>
        {items.map((i) => (
          <ItemRow key={i.key} item={i} onRetry={() => {}} />
        ))}
      </div>,
      { locale: "zh" },
    );
    for (const text of ["定时", "重试此次运行", "智能体已启动", "思考过程", "需要权限", "允许", "始终允许", "计划待批准", "a@example.com 已批准（自动接受编辑）", "待办 1/2", "改动的文件", "新增", "运行失败：boom"]) {
      expect(document.body.textContent, text).toContain(text);
    }
    expect(screen.getByText(/^剩余 \d+:\d\d:\d\d$/)).toBeTruthy();
  });

  it("renders the sign-in screen", async () => {
    mockFetch({ "GET /auth/config": { auth_mode: "password", registration: "open", first_account: false, providers: [{ id: "gh", name: "GitHub", start_path: "/auth/gh/start" }] } });
    renderWithProviders(<Login />, { locale: "zh" });
    await screen.findByText("使用 GitHub 登录");
    expect(screen.getByRole("tab", { name: "注册" })).toBeTruthy();
    expect(screen.getByLabelText("电子邮箱")).toBeTruthy();
  });

  it("renders the capabilities library", async () => {
    mockFetch({ "GET /skills": { skills: [] } });
    renderWithProviders(<CapabilitiesPage />, { locale: "zh" });
    await screen.findByText("还没有技能。");
    expect(screen.getByRole("tablist", { name: "能力类型" })).toBeTruthy();
    expect(screen.getByRole("tab", { name: "MCP 服务器" })).toBeTruthy();
  });

  it("describes a schedule with cronstrue's Chinese", async () => {
    mockFetch({ "GET /scheduled-tasks/preview*": { upcoming: [] }, "GET /models": apiError(404, "route_not_found") });
    renderWithProviders(<ScheduleForm onSaved={() => {}} />, { locale: "zh" });
    await waitFor(() => expect(document.getElementById("cron-words")?.textContent).toContain("星期一至星期五"));
    expect(screen.getByRole("button", { name: "创建定时任务" })).toBeTruthy();
  });

  it("says a server failure in Chinese", () => {
    function Failure() {
      const readable = useReadableError();
      return <p>{readable(new ApiError(502, "bad_gateway", "the backend cannot be reached"))}</p>;
    }
    renderWithProviders(<Failure />, { locale: "zh" });
    expect(screen.getByText("暂时无法连接服务器，请稍后再试。")).toBeTruthy();
  });
});
