"use client";
// A tool call with its result, shown by kind: Bash as a terminal, Edit/Write as a diff,
// Read/Grep/Glob (and the question and plan calls, whose cards show them) as one compact line,
// anything else as JSON.
import { memo, useState } from "react";
import { useTranslations } from "next-intl";
import type { JsonValue } from "@/generated/protocol";
import { resultText } from "@/lib/conversation";
import { languageFor } from "@/lib/highlight";
import { Code } from "./Code";
import { Diff } from "./Diff";
import { Markdown } from "./Markdown";

type Obj = { [key: string]: JsonValue | undefined };

function obj(v: JsonValue): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {};
}

function str(v: JsonValue | undefined): string {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);
}

interface Props {
  name: string;
  input: JsonValue;
  result?: { content: JsonValue; isError: boolean };
  /** Waits for a person's answer (its card follows): not running yet. */
  waiting?: boolean;
}

export const ToolCall = memo(function ToolCall({ name, input, result, waiting }: Props) {
  const t = useTranslations("tools.toolCall");
  const clip = useClip();
  const i = obj(input);
  const output = result ? resultText(result.content, t("image")) : null;
  const pending = !result;
  const cls = `tool ${result?.isError ? "tool-error" : ""}`;
  switch (name) {
    case "Bash":
      return (
        <div className={cls} data-tool="Bash">
          <div className="terminal">
            {i.description !== undefined && <div className="terminal-note"># {str(i.description)}</div>}
            <div className="terminal-cmd">
              <span className="prompt-sign">$</span> {str(i.command)}
            </div>
            {output !== null && output !== "" && <pre className="terminal-out">{clip(output)}</pre>}
            {pending && <div className="terminal-out muted">{t(waiting ? "waiting" : "running")}</div>}
          </div>
        </div>
      );
    case "Edit":
    case "MultiEdit": {
      const path = str(i.file_path);
      const edits = name === "Edit" ? [i] : Array.isArray(i.edits) ? i.edits.map(obj) : [];
      return (
        <div className={cls} data-tool={name}>
          <ToolHead waiting={waiting} name={name} detail={path} result={result} />
          {edits.map((e, n) => (
            <Diff key={n} path={path} before={str(e.old_string)} after={str(e.new_string)} />
          ))}
          {result?.isError && <pre className="tool-out">{clip(output ?? "")}</pre>}
        </div>
      );
    }
    case "Write": {
      const path = str(i.file_path);
      return (
        <div className={cls} data-tool="Write">
          <ToolHead waiting={waiting} name="Write" detail={path} result={result} />
          <Diff path={path} before="" after={str(i.content)} />
          {result?.isError && <pre className="tool-out">{clip(output ?? "")}</pre>}
        </div>
      );
    }
    case "Read":
    case "Grep":
    case "Glob":
    case "LS": {
      const detail =
        name === "Read"
          ? str(i.file_path)
          : name === "Grep"
            ? i.path
              ? t("grepIn", { pattern: str(i.pattern), path: str(i.path) })
              : str(i.pattern)
            : name === "Glob"
              ? str(i.pattern)
              : str(i.path);
      return <Compact waiting={waiting} name={name} detail={detail} output={output} isError={result?.isError ?? false} language={name === "Read" ? languageFor(str(i.file_path)) : null} />;
    }
    case "Task":
    case "Agent": {
      // A subagent's work: whom it went to and why; the prompt folded; its answer as Markdown.
      const agent = str(i.subagent_type) || t("subagent");
      return (
        <div className={`${cls} tool-task`} data-tool={name}>
          <ToolHead waiting={waiting} name={name} detail={`${agent}${i.description ? `: ${str(i.description)}` : ""}`} result={result} />
          {i.prompt !== undefined && (
            <details className="task-prompt small">
              <summary>{t("prompt")}</summary>
              <div className="thinking-text">{str(i.prompt)}</div>
            </details>
          )}
          {output !== null && output !== "" && (
            <div className="task-answer">
              <Markdown text={clip(output)} />
            </div>
          )}
        </div>
      );
    }
    case "TodoWrite":
      return <Compact waiting={waiting} name="TodoWrite" detail={t("todoUpdated")} output={null} isError={false} language={null} />;
    // The questions and the plan are shown by their input card (see InputCard); here one line.
    case "AskUserQuestion": {
      const qs = Array.isArray(i.questions) ? i.questions.map((q) => str(obj(q).question)) : [];
      return <Compact waiting={waiting} name={name} detail={qs.join(" · ") || t("asked")} output={output} isError={result?.isError ?? false} language={null} />;
    }
    case "ExitPlanMode":
      return <Compact waiting={waiting} name={name} detail={t("planAsked")} output={output} isError={result?.isError ?? false} language={null} />;
    default:
      return (
        <div className={cls} data-tool={name}>
          <ToolHead waiting={waiting} name={name} detail="" result={result} />
          <Code code={JSON.stringify(input, null, 2)} language="json" />
          {output !== null && output !== "" && <pre className="tool-out">{clip(output)}</pre>}
        </div>
      );
  }
});

/** What a call without a result shows (after a space). */
function NotYet({ waiting }: { waiting?: boolean }) {
  const t = useTranslations("tools.toolCall");
  return <span className="muted small">{` ${t(waiting ? "waiting" : "running")}`}</span>;
}

function ToolHead({ name, detail, result, waiting }: { name: string; detail: string; result?: Props["result"]; waiting?: boolean }) {
  const t = useTranslations("tools.toolCall");
  return (
    <div className="tool-head">
      <span className="tool-name">{name}</span> <span className="tool-detail">{detail}</span>
      {!result && <NotYet waiting={waiting} />}
      {result?.isError && <span className="error small">{` ${t("failed")}`}</span>}
    </div>
  );
}

function Compact({ name, detail, output, isError, language, waiting }: { name: string; detail: string; output: string | null; isError: boolean; language: string | null; waiting?: boolean }) {
  const [open, setOpen] = useState(false);
  const t = useTranslations("tools.toolCall");
  const clip = useClip();
  const lines = output ? output.split("\n").length : 0;
  return (
    <div className={`tool compact ${isError ? "tool-error" : ""}`} data-tool={name}>
      <button className="compact-head" onClick={() => setOpen((o) => !o)} aria-expanded={open} disabled={!output}>
        <span className="tool-name">{name}</span> <span className="tool-detail">{detail}</span>
        {output !== null && <span className="muted small">{` · ${t("lines", { count: lines })}`}</span>}
        {output === null && name !== "TodoWrite" && <NotYet waiting={waiting} />}
      </button>
      {open && output && <Code code={clip(output)} language={language} />}
    </div>
  );
}

/** Very long output is cut so one tool call cannot freeze the page. */
const MAX_OUTPUT_CHARS = 20_000;

/** `clip(s)`: `s`, or its start and how much was left out, in the UI's language. */
function useClip(): (s: string) => string {
  const t = useTranslations("tools.toolCall");
  return (s) => (s.length > MAX_OUTPUT_CHARS ? `${s.slice(0, MAX_OUTPUT_CHARS)}\n${t("clipped", { count: s.length - MAX_OUTPUT_CHARS })}` : s);
}
