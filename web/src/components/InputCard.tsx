"use client";
// A request the agent waits on, answered from the conversation: a permission card (the tool and its
// input, a diff for edits; Allow / Deny with a message / Always allow), a question card (options as
// buttons or checkboxes, free text) and a plan card (the plan; Approve with a mode / Keep planning
// with feedback). The card closes when the `input_answer` event arrives, never on its own answer.
import { memo, useEffect, useState } from "react";
import { useFormatter, useTranslations } from "next-intl";
import type { AnswerInputRequest, JsonValue, PermissionMode, Question } from "@/generated/protocol";
import { api } from "@/lib/api";
import type { InputItem } from "@/lib/conversation";
import {
  answerError,
  emptyChoice,
  outcomeText,
  editableInput,
  editedInput,
  permissionAnswer,
  PLAN_MODES,
  planAnswer,
  planModeLabel,
  planText,
  questionAnswer,
  questionAnswers,
  setOther,
  timeLeft,
  toggleOption,
  type InputCard as Card,
  type QuestionChoice,
} from "@/lib/inputRequests";
import { Code } from "./Code";
import { Diff } from "./Diff";
import { Markdown } from "./Markdown";

type Send = (body: AnswerInputRequest) => void;

export const InputCard = memo(function InputCard({ item }: { item: InputItem }) {
  const { card } = item;
  const r = card.request;
  const pending = card.status === "pending";
  const [sending, setSending] = useState(false);
  const [note, setNote] = useState<{ text: string; wait: boolean } | null>(null);
  const t = useTranslations("inputs");
  const tr = useTranslations();
  // Once answered here (or elsewhere, or expired), the card waits for the event that closes it.
  const waiting = sending || (note?.wait ?? false);

  const send: Send = (body) => {
    setSending(true);
    setNote(null);
    api<unknown>(`/input-requests/${r.request_id}/answer`, { method: "POST", json: body })
      .then(() => setNote({ text: t("sent"), wait: true }))
      .catch((e) => setNote(answerError(e, tr)))
      .finally(() => setSending(false));
  };

  const title = t(`titles.${r.kind}`);
  return (
    <section
      className={`input-card input-${r.kind} input-${card.status}`}
      data-kind="input"
      data-input-kind={r.kind}
      data-status={card.status}
      data-request={r.request_id}
      data-tool-use-id={r.tool_use_id ?? undefined}
      aria-label={title}
    >
      <header className="input-head">
        <strong>{title}</strong>
        {r.kind === "permission" && <span className="tool-name">{r.tool_name}</span>}
        <span className="spacer" />
        {pending && <Countdown expiresAt={r.expires_at} />}
      </header>
      {r.kind === "permission" && <PermissionBody card={card} toolInput={item.tool?.input} />}
      {r.kind === "plan" && <Markdown text={planText(r, item.tool?.input) || t("noPlan")} />}
      {pending ? (
        <>
          {r.kind === "permission" && <PermissionActions tool={r.tool_name} input={r.input ?? item.tool?.input ?? null} send={send} disabled={waiting} />}
          {r.kind === "question" && <QuestionForm questions={r.questions ?? []} send={send} disabled={waiting} />}
          {r.kind === "plan" && <PlanActions send={send} disabled={waiting} />}
          {note && (
            <p className={note.wait ? "muted small" : "error small"} role={note.wait ? "status" : "alert"} data-testid="input-note">
              {note.text}
            </p>
          )}
        </>
      ) : (
        <>
          {r.kind === "question" && <QuestionList questions={r.questions ?? []} />}
          <p className="input-outcome small" data-testid="input-outcome">
            {outcomeText(card, tr)}
          </p>
        </>
      )}
    </section>
  );
});

function Countdown({ expiresAt }: { expiresAt: string }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const t = useTranslations("inputs");
  const format = useFormatter();
  const left = timeLeft(expiresAt, now);
  return (
    <span className="muted small" title={t("expiresAt", { time: format.dateTime(new Date(expiresAt), { timeStyle: "medium" }) })} data-testid="time-left">
      {left === "0:00" ? t("expiring") : t("left", { time: left })}
    </span>
  );
}

type Obj = { [key: string]: JsonValue | undefined };
const obj = (v: JsonValue | undefined): Obj => (v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: JsonValue | undefined): string => (typeof v === "string" ? v : "");

/** What the tool would do: a diff for edits, else its input as JSON. */
function PermissionBody({ card, toolInput }: { card: Card; toolInput?: JsonValue }) {
  const r = card.request;
  const t = useTranslations("inputs");
  const input = r.input ?? toolInput ?? null;
  const i = obj(input);
  const path = str(i.file_path);
  let detail: React.ReactNode;
  if (r.tool_name === "Edit" || r.tool_name === "MultiEdit") {
    const edits = r.tool_name === "Edit" ? [i] : Array.isArray(i.edits) ? i.edits.map((e) => obj(e)) : [];
    detail = edits.map((e, n) => <Diff key={n} path={path} before={str(e.old_string)} after={str(e.new_string)} />);
  } else if (r.tool_name === "Write") {
    detail = <Diff path={path} before="" after={str(i.content)} />;
  } else {
    detail = <Code code={JSON.stringify(input, null, 2)} language="json" />;
  }
  return (
    <div className="input-body">
      {r.description && <p className="input-description">{r.description}</p>}
      {path && r.tool_name !== "Bash" && <p className="mono small">{path}</p>}
      {/* The path that made the CLI ask (it names files inside the workspace too). */}
      {r.blocked_path && r.blocked_path !== path && (
        <p className="small muted">{t.rich("path", { path: r.blocked_path, mono: (chunks) => <span className="mono">{chunks}</span> })}</p>
      )}
      {detail}
    </div>
  );
}

function PermissionActions({ tool, input, send, disabled }: { tool: string; input: JsonValue; send: Send; disabled: boolean }) {
  const [message, setMessage] = useState("");
  // Edit, then allow: the agent's call runs with the person's input instead.
  const [edited, setEdited] = useState<string | null>(null);
  const [editError, setEditError] = useState<string | null>(null);
  const t = useTranslations("inputs.permission");
  const tr = useTranslations();
  const allowEdited = () => {
    if (edited === null) return;
    const out = editedInput(tool, input, edited, tr);
    if ("error" in out) {
      setEditError(out.error);
      return;
    }
    setEditError(null);
    send(permissionAnswer("allow", "", out.input));
  };
  if (edited !== null) {
    return (
      <div className="input-edit">
        <textarea
          className="mono"
          value={edited}
          onChange={(e) => setEdited(e.target.value)}
          rows={tool === "Bash" ? 3 : 8}
          aria-label={tool === "Bash" ? t("commandLabel") : t("inputLabel")}
          disabled={disabled}
        />
        {editError && (
          <p className="error small" role="alert">
            {editError}
          </p>
        )}
        <div className="input-actions">
          <button type="button" className="button primary" disabled={disabled} onClick={allowEdited}>
            {t("allowEdited")}
          </button>
          <button type="button" className="button" disabled={disabled} onClick={() => (setEdited(null), setEditError(null))}>
            {t("back")}
          </button>
        </div>
      </div>
    );
  }
  return (
    <div className="input-actions">
      <button type="button" className="button primary" disabled={disabled} onClick={() => send(permissionAnswer("allow"))}>
        {t("allow")}
      </button>
      <button type="button" className="button" disabled={disabled} onClick={() => setEdited(editableInput(tool, input))} title={t("editTitle")}>
        {t("edit")}
      </button>
      <button type="button" className="button" disabled={disabled} onClick={() => send(permissionAnswer("always"))} title={t("alwaysTitle", { tool })}>
        {t("always")}
      </button>
      <input
        className="input-message"
        value={message}
        onChange={(e) => setMessage(e.target.value)}
        placeholder={t("messagePlaceholder")}
        aria-label={t("messageLabel")}
        disabled={disabled}
      />
      <button type="button" className="button danger" disabled={disabled} onClick={() => send(permissionAnswer("deny", message))}>
        {t("deny")}
      </button>
    </div>
  );
}

function QuestionForm({ questions, send, disabled }: { questions: Question[]; send: Send; disabled: boolean }) {
  const [choices, setChoices] = useState<Record<string, QuestionChoice>>({});
  const t = useTranslations("inputs.question");
  const answers = questionAnswers(questions, choices);
  const update = (q: Question, next: QuestionChoice) => setChoices((c) => ({ ...c, [q.question]: next }));
  return (
    <form
      className="input-questions"
      onSubmit={(e) => {
        e.preventDefault();
        if (answers) send(questionAnswer(answers));
      }}
    >
      {questions.map((q, n) => {
        const choice = choices[q.question] ?? emptyChoice;
        return (
          <fieldset key={n} className="input-question" disabled={disabled}>
            <legend>
              {q.header && <span className="badge">{q.header}</span>} {q.question}
            </legend>
            {q.multi_select ? (
              <div className="input-options" role="group" aria-label={q.question}>
                {q.options.map((o) => (
                  <label key={o.label} className="input-check">
                    <input type="checkbox" checked={choice.labels.includes(o.label)} onChange={() => update(q, toggleOption(q, choice, o.label))} />
                    <span>
                      {o.label}
                      {o.description && <span className="muted small"> — {o.description}</span>}
                    </span>
                  </label>
                ))}
              </div>
            ) : (
              <div className="input-options" role="group" aria-label={q.question}>
                {q.options.map((o) => (
                  <button
                    key={o.label}
                    type="button"
                    className={`button option ${choice.labels.includes(o.label) ? "chosen" : ""}`}
                    aria-pressed={choice.labels.includes(o.label)}
                    onClick={() => update(q, toggleOption(q, choice, o.label))}
                    title={o.description ?? undefined}
                  >
                    {o.label}
                    {o.description && <span className="muted small option-description">{o.description}</span>}
                  </button>
                ))}
              </div>
            )}
            <input
              value={choice.other}
              onChange={(e) => update(q, setOther(q, choice, e.target.value))}
              placeholder={t("otherPlaceholder")}
              aria-label={t("otherLabel", { question: q.question })}
            />
          </fieldset>
        );
      })}
      <div className="input-actions">
        <button type="submit" className="button primary" disabled={disabled || !answers}>
          {t("send", { count: questions.length })}
        </button>
      </div>
    </form>
  );
}

/** The questions of a closed question card, with their options, for the record. */
function QuestionList({ questions }: { questions: Question[] }) {
  return (
    <ul className="small input-question-list">
      {questions.map((q, n) => (
        <li key={n}>
          {q.header && <span className="badge">{q.header}</span>} {q.question}{" "}
          <span className="muted">({q.options.map((o) => o.label).join(" / ")})</span>
        </li>
      ))}
    </ul>
  );
}

function PlanActions({ send, disabled }: { send: Send; disabled: boolean }) {
  const [mode, setMode] = useState<PermissionMode>("acceptEdits");
  const [feedback, setFeedback] = useState("");
  const t = useTranslations("inputs.plan");
  const tr = useTranslations();
  return (
    <div className="input-plan-actions">
      <div className="input-actions">
        <label className="inline">
          {t("then")}
          <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode)} disabled={disabled} aria-label={t("modeLabel")}>
            {PLAN_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {planModeLabel(m.value, tr)}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="button primary" disabled={disabled} onClick={() => send(planAnswer(true, mode))}>
          {t("approve")}
        </button>
      </div>
      <div className="input-actions">
        <textarea
          value={feedback}
          onChange={(e) => setFeedback(e.target.value)}
          rows={2}
          placeholder={t("feedbackPlaceholder")}
          aria-label={t("feedbackLabel")}
          disabled={disabled}
        />
        <button type="button" className="button" disabled={disabled} onClick={() => send(planAnswer(false, feedback))}>
          {t("keepPlanning")}
        </button>
      </div>
    </div>
  );
}
