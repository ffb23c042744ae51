"use client";
// A run's start as the agent reported it (its init line): the model, each MCP server with whether
// it connected, and the skills, commands and subagents it loaded. The run's own items (what it
// was queued with) come first and stand out; the CLI's many built-ins stay folded away.
import { useState } from "react";
import { useTranslations } from "next-intl";
import type { AgentInit } from "@/lib/conversation";
import { splitLoaded } from "@/lib/capabilities";

export function AgentInitView({ init }: { init: AgentInit }) {
  const [open, setOpen] = useState(false);
  const t = useTranslations("tools.init");
  const caps = init.capabilities;
  const skills = splitLoaded(init.skills, caps?.skills ?? []);
  const commands = splitLoaded(init.slashCommands, caps?.slash_commands ?? []);
  const agents = splitLoaded(init.agents, caps?.subagents ?? []);
  const reported = new Set(init.mcpServers.map((s) => s.name));
  const unreported = (caps?.mcp_servers ?? []).filter((s) => !reported.has(s.name));
  const builtIns = skills.others.length + commands.others.length + agents.others.length;

  return (
    <div className="agent-init small" data-kind="init" data-testid="agent-init">
      <div className="agent-init-head">
        <span className="muted">{t("started")}</span>
        {init.model && <span className="mono">{init.model}</span>}
        <span className="muted">{t("tools", { count: init.tools.length })}</span>
        <button className="link-button small" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
          {open ? t("hideDetails") : builtIns > 0 ? t("detailsBuiltIn", { count: builtIns }) : t("details")}
        </button>
      </div>
      {(init.mcpServers.length > 0 || unreported.length > 0) && (
        <div className="agent-init-line">
          <span className="cap-label">{t("mcp")}</span>
          {init.mcpServers.map((s) => (
            <span key={s.name} className={`mcp-status mcp-${statusClass(s.status)}`} data-mcp={s.name} data-status={s.status} title={`${s.name}: ${s.status}`}>
              <span aria-hidden>{statusMark(s.status)}</span> <span className="mono">{s.name}</span> {s.status}
            </span>
          ))}
          {unreported.map((s) => (
            <span key={s.id} className="mcp-status mcp-other" data-mcp={s.name} data-status="not reported" title={t("notReportedTitle")}>
              <span aria-hidden>?</span> <span className="mono">{s.name}</span> {t("notReported")}
            </span>
          ))}
        </div>
      )}
      <Loaded kind="skills" split={skills} open={open} />
      <Loaded kind="commands" split={commands} open={open} prefix="/" />
      <Loaded kind="subagents" split={agents} open={open} />
      {open && init.tools.length > 0 && (
        <div className="agent-init-line">
          <span className="cap-label">{t("toolsLabel")}</span> <span className="mono muted">{init.tools.join(", ")}</span>
        </div>
      )}
    </div>
  );
}

/** One kind: the run's own items as chips (marked when the agent did not report one), then the
 * rest as a count, listed when `open`. */
function Loaded({
  kind,
  split,
  open,
  prefix = "",
}: {
  kind: "skills" | "commands" | "subagents";
  split: ReturnType<typeof splitLoaded>;
  open: boolean;
  prefix?: string;
}) {
  const t = useTranslations("tools.init");
  if (split.own.length === 0 && (split.others.length === 0 || !open)) {
    return null;
  }
  // `data-loaded` names the kind in English whatever the language (for tests and styles).
  const english = { skills: "Skills", commands: "Commands", subagents: "Subagents" }[kind];
  return (
    <div className="agent-init-line" data-loaded={english}>
      <span className="cap-label">{t(kind)}</span>
      {split.own.map((o) => (
        <span
          key={o.name}
          className={`chip mono ${o.loaded ? "chip-own" : "chip-missing"}`}
          title={o.loaded ? t("ownTitle") : t("notReportedTitle")}
        >
          {prefix}
          {o.name}
          {!o.loaded && t("ownNotReported")}
        </span>
      ))}
      {split.others.length > 0 &&
        (open ? (
          <span className="mono muted">{split.others.map((n) => `${prefix}${n}`).join(", ")}</span>
        ) : (
          <span className="muted">{t("builtIn", { count: split.others.length })}</span>
        ))}
    </div>
  );
}

function statusClass(status: string): "connected" | "failed" | "other" {
  if (status === "connected") return "connected";
  if (status === "failed" || status === "error") return "failed";
  return "other";
}

function statusMark(status: string): string {
  const c = statusClass(status);
  return c === "connected" ? "●" : c === "failed" ? "✕" : "◌";
}

