"use client";
// A run's start as the agent reported it (its init line): the model, each MCP server with whether
// it connected, and the skills, commands and subagents it loaded. The run's own items (what it
// was queued with) come first and stand out; the CLI's many built-ins stay folded away.
import { useState } from "react";
import type { AgentInit } from "@/lib/conversation";
import { splitLoaded } from "@/lib/capabilities";

export function AgentInitView({ init }: { init: AgentInit }) {
  const [open, setOpen] = useState(false);
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
        <span className="muted">Agent started</span>
        {init.model && <span className="mono">{init.model}</span>}
        <span className="muted">
          {init.tools.length} tool{init.tools.length === 1 ? "" : "s"}
        </span>
        <button className="link-button small" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
          {open ? "Hide details" : builtIns > 0 ? `Details (${builtIns} built-in)` : "Details"}
        </button>
      </div>
      {(init.mcpServers.length > 0 || unreported.length > 0) && (
        <div className="agent-init-line">
          <span className="cap-label">MCP</span>
          {init.mcpServers.map((s) => (
            <span key={s.name} className={`mcp-status mcp-${statusClass(s.status)}`} data-mcp={s.name} data-status={s.status} title={`${s.name}: ${s.status}`}>
              <span aria-hidden>{statusMark(s.status)}</span> <span className="mono">{s.name}</span> {s.status}
            </span>
          ))}
          {unreported.map((s) => (
            <span key={s.id} className="mcp-status mcp-other" data-mcp={s.name} data-status="not reported" title="Staged for this run but not reported by the agent">
              <span aria-hidden>?</span> <span className="mono">{s.name}</span> not reported
            </span>
          ))}
        </div>
      )}
      <Loaded label="Skills" split={skills} open={open} />
      <Loaded label="Commands" split={commands} open={open} prefix="/" />
      <Loaded label="Subagents" split={agents} open={open} />
      {open && init.tools.length > 0 && (
        <div className="agent-init-line">
          <span className="cap-label">Tools</span> <span className="mono muted">{init.tools.join(", ")}</span>
        </div>
      )}
    </div>
  );
}

/** One kind: the run's own items as chips (marked when the agent did not report one), then the
 * rest as a count, listed when `open`. */
function Loaded({ label, split, open, prefix = "" }: { label: string; split: ReturnType<typeof splitLoaded>; open: boolean; prefix?: string }) {
  if (split.own.length === 0 && (split.others.length === 0 || !open)) {
    return null;
  }
  return (
    <div className="agent-init-line" data-loaded={label}>
      <span className="cap-label">{label}</span>
      {split.own.map((o) => (
        <span
          key={o.name}
          className={`chip mono ${o.loaded ? "chip-own" : "chip-missing"}`}
          title={o.loaded ? "This run's own (loaded)" : "Staged for this run but not reported by the agent"}
        >
          {prefix}
          {o.name}
          {!o.loaded && " (not reported)"}
        </span>
      ))}
      {split.others.length > 0 &&
        (open ? (
          <span className="mono muted">{split.others.map((n) => `${prefix}${n}`).join(", ")}</span>
        ) : (
          <span className="muted">+{split.others.length} built-in</span>
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

