"use client";
// One row of the conversation; a tool call that started a subagent carries the subagent's rows,
// shown nested under it (folded until opened).
import { useState } from "react";
import { useFormatter, useTranslations } from "next-intl";
import type { Item } from "@/lib/conversation";
import { summaryIsEmpty } from "@/lib/capabilities";
import { AgentInitView } from "./AgentInit";
import { RunCost } from "./Cost";
import { InputCard } from "./InputCard";
import { SummaryView } from "./capabilities/SummaryView";
import { Markdown } from "./Markdown";
import { StatusBadge } from "./StatusBadge";
import { ToolCall } from "./ToolCall";
import { Todos } from "./Todos";

export function ItemRow({ item, onRetry }: { item: Item; onRetry: (runId: string) => void }) {
  const t = useTranslations("tools.row");
  const tr = useTranslations();
  const format = useFormatter();
  switch (item.kind) {
    case "prompt": {
      const r = item.run;
      return (
        <div className="prompt" data-kind="prompt" data-run={r.id}>
          <div className="prompt-meta">
            {r.kind === "scheduled" && <span className="badge">{t("scheduled")}</span>}
            {r.status === "queued" ? <span className="badge badge-queued">{tr("tools.status.queued")}</span> : <StatusBadge status={r.status} />}
            {r.attempts > 1 && <span className="muted small">{t("attempt", { attempt: r.attempts, max: r.max_attempts })}</span>}
          </div>
          <div className="prompt-text">{r.prompt}</div>
          {r.capabilities && !summaryIsEmpty(r.capabilities) && <SummaryView summary={r.capabilities} testId="run-capabilities" />}
          {r.error && r.status !== "canceled" && <p className="error small">{r.error}</p>}
          {r.attempt_errors?.length > 1 && (
            <details className="small">
              <summary>{t("failedAttempts", { count: r.attempt_errors.length })}</summary>
              <ul>
                {r.attempt_errors.map((a) => (
                  <li key={a.attempt}>
                    {t("attemptError", {
                      attempt: a.attempt,
                      date: format.dateTime(new Date(a.at), { dateStyle: "medium", timeStyle: "medium" }),
                      error: a.error,
                    })}
                  </li>
                ))}
              </ul>
            </details>
          )}
          {r.dead_lettered_at && (
            <button className="button small" onClick={() => onRetry(r.id)}>
              {t("retry")}
            </button>
          )}
        </div>
      );
    }
    case "text":
      return (
        <div className="assistant" data-kind="text">
          <Markdown text={item.text} />
        </div>
      );
    case "thinking":
      return (
        <details className="thinking" data-kind="thinking">
          <summary>{t("thinking")}</summary>
          <div className="thinking-text">{item.text}</div>
        </details>
      );
    case "init":
      return <AgentInitView init={item.init} />;
    case "tool":
      if (!item.children) return <ToolCall name={item.name} input={item.input} result={item.result} waiting={item.waiting} />;
      return (
        <div className="tool-group">
          <ToolCall name={item.name} input={item.input} result={item.result} waiting={item.waiting} />
          <Nested items={item.children} onRetry={onRetry} />
        </div>
      );
    case "todos":
      return <Todos todos={item.todos} />;
    case "result": {
      const u = item.result.usage;
      return (
        <div className="run-result muted small" data-kind="result">
          {t("result", {
            turns: item.result.num_turns,
            seconds: format.number(item.result.duration_ms / 1000, { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
            input: formatTokens(u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens),
            output: formatTokens(u.output_tokens),
          })}
          <RunCost reported={item.result.total_cost_usd} tokens={u} model={item.model} />
        </div>
      );
    }
    case "changes":
      if (item.changes.length === 0) return <div className="muted small" data-kind="changes">{t("noChanges")}</div>;
      return (
        <div className="changes small" data-kind="changes">
          <div className="muted">{t("changes")}</div>
          <ul>
            {item.changes.map((c) => (
              <li key={c.path}>
                <span className={`change change-${c.change}`}>{t.has(`change.${c.change}`) ? t(`change.${c.change}`) : c.change}</span> {c.old_path ? `${c.old_path} → ` : ""}
                {c.path} <span className="add-count">+{c.lines_added}</span> <span className="del-count">−{c.lines_deleted}</span>
              </li>
            ))}
          </ul>
        </div>
      );
    case "end":
      return (
        <div className={`run-end run-end-${item.status}`} data-kind="end">
          {t(`end.${item.status}`)}
          {item.detail ? t("endDetail", { detail: item.detail }) : ""}
        </div>
      );
    case "raw":
      return <pre className="raw small">{item.line}</pre>;
    case "input":
      return <InputCard item={item} />;
  }
}

/** A subagent's rows under its call: a count until opened (they are only rendered when open). */
function Nested({ items, onRetry }: { items: Item[]; onRetry: (runId: string) => void }) {
  const [open, setOpen] = useState(false);
  const t = useTranslations("tools.row");
  return (
    <div className="nested" data-testid="subagent-events">
      <button className="link-button small nested-toggle" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
        {open ? "▾" : "▸"} {t("subagentEvents", { count: items.length })}
      </button>
      {open && (
        <div className="nested-items">
          {items.map((i) => (
            <div key={i.key} className="row nested-row" data-nested-key={i.key}>
              <ItemRow item={i} onRetry={onRetry} />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

export function formatTokens(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}
