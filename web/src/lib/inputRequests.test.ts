import { describe, expect, it } from "vitest";
import type { Event, InputAnswer, InputRequest, Question } from "@/generated/protocol";
import { ApiError } from "./api";
import {
  answerError,
  answerText,
  closedByServer,
  editableInput,
  editedInput,
  emptyChoice,
  inputCards,
  KEEP_PLANNING,
  outcomeText,
  pendingCount,
  permissionAnswer,
  planAnswer,
  planText,
  questionAnswer,
  questionAnswers,
  setOther,
  tabTitle,
  timeLeft,
  toggleOption,
} from "./inputRequests";

const base = { session_id: "s", time: "2026-01-01T00:00:00Z" };
let seq = 0;
function ev(run: string, body: Pick<Event, "type" | "payload">): Event {
  seq += 1;
  return { ...base, seq, run_id: run, run_seq: seq, ...body } as Event;
}
function request(id: string, over: Partial<InputRequest> = {}): InputRequest {
  return { request_id: id, kind: "permission", tool_name: "Bash", tool_use_id: `t-${id}`, input: { command: "ls" }, expires_at: "2026-01-01T00:05:00Z", ...over };
}
function answer(id: string, over: Partial<InputAnswer> = {}): InputAnswer {
  return { request_id: id, outcome: "answered", decision: "allow", always: false, answered_by: "a@example.com", answered_at: "2026-01-01T00:01:00Z", ...over };
}

describe("editing a call before allowing it", () => {
  it("edits a Bash command as text and anything else as a JSON object", () => {
    const bash = { command: "rm -rf build", description: "clean" };
    expect(editableInput("Bash", bash)).toBe("rm -rf build");
    expect(editedInput("Bash", bash, "rm -rf build/tmp")).toEqual({ input: { command: "rm -rf build/tmp", description: "clean" } });
    expect(editedInput("Bash", bash, "  ")).toEqual({ error: "The command must not be empty." });
    const write = { file_path: "a.txt", content: "x" };
    expect(JSON.parse(editableInput("Write", write))).toEqual(write);
    expect(editedInput("Write", write, '{"file_path":"b.txt","content":"y"}')).toEqual({ input: { file_path: "b.txt", content: "y" } });
    expect(editedInput("Write", write, "{nope")).toEqual({ error: "The input must be valid JSON." });
    expect(editedInput("Write", write, "[1]")).toEqual({ error: "The input must be a JSON object." });
  });

  it("says what ran when the input was edited", () => {
    const card = {
      runId: "r1", status: "answered" as const, request: request("q1"),
      answer: answer("q1", { updated_input: { command: "ls -la" } }),
    };
    expect(outcomeText(card)).toBe("Allowed by a@example.com with an edited input: ls -la");
  });

  it("sends the edited input with the allow", () => {
    const body = permissionAnswer("allow", "", { command: "ls -la" });
    expect([body.decision, body.updated_input, body.always]).toEqual(["allow", { command: "ls -la" }, false]);
    expect(permissionAnswer("allow").updated_input).toBeNull();
  });
});

describe("input request state closed by the server", () => {
  it("closes a pending card the server says expired or was canceled, and nothing else", () => {
    const events = [
      ev("r1", { type: "input_request", payload: request("q1") }),
      ev("r1", { type: "input_request", payload: request("q2") }),
      ev("r1", { type: "input_request", payload: request("q3") }),
      ev("r1", { type: "input_answer", payload: answer("q3") }),
    ];
    const view = (id: string, status: "pending" | "answered" | "expired" | "canceled") => ({
      id, run_id: "r1", session_id: "s", status, request: request(id), answer: null, created_at: "2026-01-01T00:00:00Z",
    });
    // The run was re-queued after its worker was lost: the database canceled q1 without an event.
    const closed = closedByServer([view("q1", "canceled"), view("q2", "pending"), view("q3", "canceled")]);
    expect([...closed.keys()]).toEqual(["q1", "q3"]);
    expect(inputCards(events, new Set(), closed).map((c) => c.status)).toEqual(["canceled", "pending", "answered"]);
    expect(pendingCount(events, new Set(), closed)).toBe(1);
  });
});

describe("input request state from events", () => {
  it("is pending until its answer arrives, then answered, expired or canceled by it", () => {
    const events = [
      ev("r1", { type: "input_request", payload: request("q1") }),
      ev("r1", { type: "input_request", payload: request("q2") }),
      ev("r1", { type: "input_request", payload: request("q3") }),
      ev("r1", { type: "input_answer", payload: answer("q1") }),
      ev("r1", { type: "input_answer", payload: answer("q2", { outcome: "expired", decision: "deny", answered_by: null }) }),
    ];
    const cards = inputCards(events);
    expect(cards.map((c) => [c.request.request_id, c.status])).toEqual([
      ["q1", "answered"],
      ["q2", "expired"],
      ["q3", "pending"],
    ]);
    expect(cards[0]!.answer?.answered_by).toBe("a@example.com");
    expect(pendingCount(events)).toBe(1);
  });

  it("is canceled when its run ends first, and only its own run's end counts", () => {
    const events = [
      ev("r1", { type: "input_request", payload: request("a") }),
      ev("r2", { type: "input_request", payload: request("b") }),
      ev("r1", { type: "canceled", payload: { reason: "canceled by the user" } }),
    ];
    expect(inputCards(events).map((c) => c.status)).toEqual(["canceled", "pending"]);
    // A run that ended without a terminal event (its status says so) cancels its requests too.
    expect(inputCards(events, new Set(["r2"])).map((c) => c.status)).toEqual(["canceled", "canceled"]);
    // An answer after the run's end (the executor's own `canceled` answer) keeps its outcome.
    const late = [...events, ev("r1", { type: "input_answer", payload: answer("a", { outcome: "canceled", decision: "deny", answered_by: null }) })];
    expect(inputCards(late)[0]!.status).toBe("canceled");
    expect(pendingCount(late)).toBe(1);
  });

  it("ignores an answer to a request it never saw and a repeated request", () => {
    const events = [
      ev("r1", { type: "input_answer", payload: answer("nope") }),
      ev("r1", { type: "input_request", payload: request("x") }),
      ev("r1", { type: "input_request", payload: request("x", { tool_name: "Other" }) }),
    ];
    const cards = inputCards(events);
    expect(cards).toHaveLength(1);
    expect(cards[0]!.request.tool_name).toBe("Bash");
  });
});

describe("answer bodies", () => {
  it("builds permission answers", () => {
    expect(permissionAnswer("allow")).toEqual({ decision: "allow", message: null, updated_input: null, answers: {}, always: false, mode: null });
    expect(permissionAnswer("always").always).toBe(true);
    expect(permissionAnswer("deny", "  not that file ")).toMatchObject({ decision: "deny", message: "not that file", always: false });
    expect(permissionAnswer("deny", "   ").message).toBeNull();
  });

  it("builds plan answers", () => {
    expect(planAnswer(true, "bypassPermissions")).toMatchObject({ decision: "allow", mode: "bypassPermissions", message: null });
    expect(planAnswer(false, "add tests first")).toMatchObject({ decision: "deny", message: "add tests first", mode: null });
    expect(planAnswer(false, " ").message).toBe(KEEP_PLANNING);
  });

  it("joins question answers by the question's text", () => {
    const color: Question = { question: "Which color?", header: "Color", multi_select: false, options: [{ label: "Red" }, { label: "Blue" }] };
    const sizes: Question = { question: "Which sizes?", multi_select: true, options: [{ label: "S" }, { label: "M" }, { label: "L" }] };
    // Single-select: one option; free text replaces it, and an option click drops the free text.
    let c = toggleOption(color, emptyChoice, "Red");
    c = toggleOption(color, c, "Blue");
    expect(answerText(c)).toBe("Blue");
    expect(answerText(setOther(color, c, "Green"))).toBe("Green");
    expect(answerText(toggleOption(color, setOther(color, c, "Green"), "Red"))).toBe("Red");
    // Multi-select: toggled, in the options' order, free text last.
    let m = toggleOption(sizes, emptyChoice, "L");
    m = toggleOption(sizes, m, "S");
    m = toggleOption(sizes, m, "M");
    m = toggleOption(sizes, m, "M");
    m = setOther(sizes, m, " XXL ");
    expect(answerText(m)).toBe("S, L, XXL");
    // Every question needs an answer.
    expect(questionAnswers([color, sizes], { "Which color?": c })).toBeNull();
    const answers = questionAnswers([color, sizes], { "Which color?": c, "Which sizes?": m });
    expect(answers).toEqual({ "Which color?": "Blue", "Which sizes?": "S, L, XXL" });
    expect(questionAnswer(answers!)).toMatchObject({ decision: "allow", answers, always: false });
  });
});

describe("card texts", () => {
  it("says who answered what", () => {
    const perm = { runId: "r", request: request("p"), status: "answered" as const };
    expect(outcomeText({ ...perm, answer: answer("p") })).toBe("Allowed by a@example.com");
    expect(outcomeText({ ...perm, answer: answer("p", { always: true }) })).toBe("Always allowed Bash by a@example.com");
    expect(outcomeText({ ...perm, answer: answer("p", { decision: "deny", message: "no" }) })).toBe("Denied by a@example.com: no");
    const q = { runId: "r", request: request("q", { kind: "question", tool_name: "AskUserQuestion" }), status: "answered" as const };
    expect(outcomeText({ ...q, answer: answer("q", { answers: { "Which color?": "Blue" } }) })).toBe("Answered by a@example.com: Which color? → Blue");
    const plan = { runId: "r", request: request("x", { kind: "plan", tool_name: "ExitPlanMode" }), status: "answered" as const };
    expect(outcomeText({ ...plan, answer: answer("x", { mode: "acceptEdits" }) })).toBe("Approved by a@example.com (Accept edits)");
    expect(outcomeText({ ...plan, answer: answer("x", { decision: "deny", message: "more detail" }) })).toBe("Kept planning by a@example.com: more detail");
    expect(outcomeText({ ...perm, status: "expired" })).toMatch(/^Expired/);
    expect(outcomeText({ ...perm, status: "canceled" })).toMatch(/^Canceled/);
  });

  it("tells answer errors apart by code, not message", () => {
    expect(answerError(new ApiError(409, "already_answered", "whatever"))).toEqual({ text: "Answered elsewhere", wait: true });
    expect(answerError(new ApiError(410, "request_expired", "whatever"))).toEqual({ text: "This request expired", wait: true });
    // Another 409 (or a message that merely says "answered") is not "answered elsewhere".
    expect(answerError(new ApiError(409, "not_queued", "already answered")).wait).toBe(false);
    expect(answerError(new TypeError("fetch failed"))).toEqual({ text: "The network request failed. Check your connection.", wait: false });
  });

  it("counts the time left and titles the tab", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(timeLeft("2026-01-01T00:04:59.2Z", now)).toBe("5:00");
    expect(timeLeft("2026-01-01T00:00:09Z", now)).toBe("0:09");
    expect(timeLeft("2026-01-01T01:02:03Z", now)).toBe("1:02:03");
    expect(timeLeft("2025-12-31T23:00:00Z", now)).toBe("0:00");
    expect(tabTitle("Fix the bug", 2)).toBe("(2) Fix the bug — Workcell");
    expect(tabTitle("Fix the bug", 0)).toBe("Fix the bug — Workcell");
    expect(tabTitle(null, 0)).toBe("Workcell");
  });

  it("finds a plan in the request or its ExitPlanMode call", () => {
    const r = request("p", { kind: "plan", tool_name: "ExitPlanMode", input: {} });
    expect(planText({ ...r, plan: "# Mine" })).toBe("# Mine");
    expect(planText(r, { plan: "# From the call" })).toBe("# From the call");
    expect(planText(r)).toBe("");
  });
});
