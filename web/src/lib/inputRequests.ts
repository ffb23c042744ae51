// The human in the loop, on the page: the state of each request the agent waits on (from the event
// log alone: `input_request` opens it, its `input_answer` or the run's end closes it), the answer
// bodies the cards send, and what a closed card says about how it ended.
import type {
  AnswerInputRequest,
  Event,
  InputAnswer,
  InputRequest,
  InputRequestView,
  JsonValue,
  PermissionMode,
  Question,
} from "@/generated/protocol";
import { english, type Translate } from "@/i18n/translate";
import enErrors from "../../messages/en/errors.json";
import enInputs from "../../messages/en/inputs.json";
import { ApiError, readableError } from "./api";

// The functions that return words take `t` (`useTranslations()`, keys under `inputs.*`) and answer
// in English without it.
const ENGLISH = english({ inputs: enInputs, errors: enErrors });

export type CardStatus = "pending" | "answered" | "expired" | "canceled";

/** One request as a card shows it. */
export interface InputCard {
  runId: string;
  request: InputRequest;
  status: CardStatus;
  /** The `input_answer` event's answer (absent while pending, or when the run ended first). */
  answer?: InputAnswer;
}

const TERMINAL = new Set(["completed", "failed", "canceled"]);

/** Whether this event ends its run. */
export function isTerminalEvent(e: Event): boolean {
  return TERMINAL.has(e.type);
}

/** The card's status once its `input_answer` arrived. */
export function statusOfAnswer(answer: InputAnswer): CardStatus {
  return answer.outcome;
}

/**
 * Every request of the log, in order, with its state: pending until its `input_answer` event,
 * canceled when its run ended first. `endedRuns` names runs known to have ended some other way
 * (a terminal status without a terminal event, e.g. a run lost with its executor).
 */
export function inputCards(
  events: readonly Event[],
  endedRuns: ReadonlySet<string> = new Set(),
  closed: ReadonlyMap<string, CardStatus> = new Map(),
): InputCard[] {
  const cards = new Map<string, InputCard>();
  for (const e of events) {
    if (e.type === "input_request") {
      if (!cards.has(e.payload.request_id)) cards.set(e.payload.request_id, { runId: e.run_id, request: e.payload, status: "pending" });
    } else if (e.type === "input_answer") {
      const card = cards.get(e.payload.request_id);
      if (card) cards.set(e.payload.request_id, { ...card, status: statusOfAnswer(e.payload), answer: e.payload });
    } else if (isTerminalEvent(e)) {
      for (const [id, card] of cards) if (card.runId === e.run_id && card.status === "pending") cards.set(id, { ...card, status: "canceled" });
    }
  }
  const out = [...cards.values()];
  return out.map((c) => {
    if (c.status !== "pending") return c;
    if (endedRuns.has(c.runId)) return { ...c, status: "canceled" };
    const server = closed.get(c.request.request_id);
    return server ? { ...c, status: server } : c;
  });
}

/**
 * Requests the server closed without an event in the log (expired or canceled: e.g. canceled by
 * the database when its run was re-queued after its worker was lost), from
 * `GET /sessions/{id}/input-requests`.
 */
export function closedByServer(requests: readonly InputRequestView[]): Map<string, CardStatus> {
  const out = new Map<string, CardStatus>();
  for (const r of requests) if (r.status === "expired" || r.status === "canceled") out.set(r.id, r.status);
  return out;
}

/** How many requests of the log still wait for an answer. */
export function pendingCount(
  events: readonly Event[],
  endedRuns?: ReadonlySet<string>,
  closed?: ReadonlyMap<string, CardStatus>,
): number {
  return inputCards(events, endedRuns, closed).filter((c) => c.status === "pending").length;
}

/** The browser tab's title: the pending count first when there is one, e.g. `(2) Title — Workcell`. */
export function tabTitle(title: string | null | undefined, pending: number, app = "Workcell"): string {
  const base = title ? `${title} — ${app}` : app;
  return pending > 0 ? `(${pending}) ${base}` : base;
}

function body(decision: AnswerInputRequest["decision"], rest: Partial<AnswerInputRequest> = {}): AnswerInputRequest {
  return { decision, message: null, updated_input: null, answers: {}, always: false, mode: null, ...rest };
}

/** A permission card's answer: allow, allow for the rest of the session, or deny (with an
 * optional message the agent sees). */
export function permissionAnswer(
  choice: "allow" | "always" | "deny",
  message = "",
  updatedInput: { [key: string]: JsonValue } | null = null,
): AnswerInputRequest {
  if (choice === "deny") return body("deny", { message: message.trim() || null });
  return body("allow", { always: choice === "always", updated_input: updatedInput });
}

/** The text a person edits before allowing a call: a Bash command as it is, any other input as
 * JSON. */
export function editableInput(tool: string, input: JsonValue): string {
  const o = input && typeof input === "object" && !Array.isArray(input) ? input : {};
  if (tool === "Bash" && typeof o.command === "string") return o.command;
  return JSON.stringify(input ?? {}, null, 2);
}

/** The tool input to run instead of the agent's, from the edited text (`editableInput`'s
 * counterpart): the Bash command replaced, or the JSON object given. */
export function editedInput(
  tool: string,
  input: JsonValue,
  text: string,
  t: Translate = ENGLISH,
): { input: { [key: string]: JsonValue } } | { error: string } {
  const o = input && typeof input === "object" && !Array.isArray(input) ? (input as { [key: string]: JsonValue }) : {};
  if (tool === "Bash" && typeof o.command === "string") {
    if (!text.trim()) return { error: t("inputs.errors.emptyCommand") };
    return { input: { ...o, command: text } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: t("inputs.errors.invalidJson") };
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return { error: t("inputs.errors.notObject") };
  return { input: parsed as { [key: string]: JsonValue } };
}

/** The modes a plan's approval can switch to (in words: `planModeLabel`). */
export const PLAN_MODES: { value: PermissionMode }[] = [{ value: "acceptEdits" }, { value: "bypassPermissions" }];

/** A plan mode in words (its own name when it is none of `PLAN_MODES`). */
export function planModeLabel(mode: PermissionMode, t: Translate = ENGLISH): string {
  return PLAN_MODES.some((m) => m.value === mode) ? t(`inputs.plan.modes.${mode}`) : mode;
}

/** What the agent is told when the plan is sent back without feedback. */
export const KEEP_PLANNING = "Keep planning: the plan is not approved yet.";

/** A plan card's answer: approve with a mode, or keep planning with feedback (a deny). */
export function planAnswer(approve: true, mode: PermissionMode): AnswerInputRequest;
export function planAnswer(approve: false, feedback: string): AnswerInputRequest;
export function planAnswer(approve: boolean, modeOrFeedback: string): AnswerInputRequest {
  if (approve) return body("allow", { mode: modeOrFeedback as PermissionMode });
  return body("deny", { message: modeOrFeedback.trim() || KEEP_PLANNING });
}

/** What the user picked for one question: option labels (in the options' order) and free text. */
export interface QuestionChoice {
  labels: string[];
  other: string;
}

export const emptyChoice: QuestionChoice = { labels: [], other: "" };

/** A click on an option: a single-select question keeps only that one (and drops the free text);
 * a multi-select question toggles it. */
export function toggleOption(question: Question, choice: QuestionChoice, label: string): QuestionChoice {
  if (!question.multi_select) return { labels: [label], other: "" };
  const picked = choice.labels.includes(label) ? choice.labels.filter((l) => l !== label) : [...choice.labels, label];
  const order = question.options.map((o) => o.label);
  return { ...choice, labels: picked.sort((a, b) => order.indexOf(a) - order.indexOf(b)) };
}

/** Free text typed for a question: for a single-select question it replaces the option. */
export function setOther(question: Question, choice: QuestionChoice, other: string): QuestionChoice {
  return question.multi_select ? { ...choice, other } : { labels: other.trim() ? [] : choice.labels, other };
}

/** One question's answer: the labels, then the free text, joined with ", " (empty when none). */
export function answerText(choice: QuestionChoice | undefined): string {
  if (!choice) return "";
  return [...choice.labels, choice.other.trim()].filter((s) => s !== "").join(", ");
}

/** The `answers` of a question card, keyed by each question's full text; null while a question
 * has no answer yet. */
export function questionAnswers(questions: readonly Question[], choices: Readonly<Record<string, QuestionChoice>>): Record<string, string> | null {
  const answers: Record<string, string> = {};
  for (const q of questions) {
    const text = answerText(choices[q.question]);
    if (!text) return null;
    answers[q.question] = text;
  }
  return answers;
}

/** A question card's answer body. */
export function questionAnswer(answers: Record<string, string>): AnswerInputRequest {
  return body("allow", { answers });
}

/** Time left until `expiresAt` as `m:ss` (or `h:mm:ss`), "0:00" once past. */
export function timeLeft(expiresAt: string, now: number): string {
  const ms = Date.parse(expiresAt) - now;
  const s = Number.isFinite(ms) ? Math.max(0, Math.ceil(ms / 1000)) : 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** What a closed card says: who answered what, or that it expired or was canceled. */
export function outcomeText(card: InputCard, t: Translate = ENGLISH): string {
  if (card.status === "canceled") return t("inputs.outcome.canceled");
  const a = card.answer;
  if (card.status === "expired" || !a) return t("inputs.outcome.expired");
  const who = a.answered_by;
  // `key` said by whom when the answer names someone (`keyBy`).
  const say = (key: string, values: Record<string, string> = {}) =>
    who ? t(`inputs.outcome.${key}By`, { ...values, who }) : t(`inputs.outcome.${key}`, values);
  const note = a.message ? t("inputs.outcome.note", { message: a.message }) : "";
  switch (card.request.kind) {
    case "question": {
      if (a.decision === "deny") return say("declined", { note });
      const pairs = Object.entries(a.answers ?? {}).map(([q, v]) => `${q} → ${v ?? ""}`);
      return say("answered", { pairs: pairs.length ? t("inputs.outcome.pairs", { list: pairs.join("; ") }) : "" });
    }
    case "plan":
      if (a.decision === "deny") return say("keptPlanning", { note });
      return say("approved", { mode: a.mode ? t("inputs.outcome.mode", { mode: planModeLabel(a.mode, t) }) : "" });
    case "permission":
      if (a.decision === "deny") return say("denied", { note });
      if (a.updated_input) return say("allowedEdited", { input: editableInput(card.request.tool_name, a.updated_input) });
      return a.always ? say("alwaysAllowed", { tool: card.request.tool_name }) : say("allowed");
  }
}

/** What a failed answer tells the person: by its code, never its message. `wait` means the card
 * stays and waits for the event that closes it. */
export function answerError(e: unknown, t: Translate = ENGLISH): { text: string; wait: boolean } {
  if (e instanceof ApiError) {
    if (e.status === 409 && e.code === "already_answered") return { text: t("inputs.errors.answeredElsewhere"), wait: true };
    if (e.status === 410 && e.code === "request_expired") return { text: t("inputs.errors.expired"), wait: true };
  }
  return { text: readableError(e, t), wait: false };
}

/** The plan of a `plan` request: its own, else the `ExitPlanMode` call's `input.plan`. */
export function planText(request: InputRequest, toolInput?: unknown): string {
  if (request.plan) return request.plan;
  if (toolInput && typeof toolInput === "object" && !Array.isArray(toolInput)) {
    const plan = (toolInput as Record<string, unknown>).plan;
    if (typeof plan === "string") return plan;
  }
  const own = request.input;
  if (own && typeof own === "object" && !Array.isArray(own) && typeof own.plan === "string") return own.plan;
  return "";
}
