"use client";
// The Capabilities screen: the user's library of what agents are configured with, one tab per
// kind. The open tab is kept in the address's hash (`/capabilities#presets`) so it can be linked.
import { useEffect, useState } from "react";
import { InstructionsTab } from "@/components/capabilities/InstructionsTab";
import { McpServersTab } from "@/components/capabilities/McpServersTab";
import { PresetsTab } from "@/components/capabilities/PresetsTab";
import { SkillsTab } from "@/components/capabilities/SkillsTab";
import { SlashCommandsTab } from "@/components/capabilities/SlashCommandsTab";
import { SubagentsTab } from "@/components/capabilities/SubagentsTab";

const TABS = [
  { id: "skills", label: "Skills", Tab: SkillsTab },
  { id: "mcp-servers", label: "MCP servers", Tab: McpServersTab },
  { id: "commands", label: "Commands", Tab: SlashCommandsTab },
  { id: "subagents", label: "Subagents", Tab: SubagentsTab },
  { id: "instructions", label: "Instructions", Tab: InstructionsTab },
  { id: "presets", label: "Presets", Tab: PresetsTab },
] as const;
type TabId = (typeof TABS)[number]["id"];

function tabFromHash(): TabId | null {
  const h = window.location.hash.slice(1);
  return TABS.find((t) => t.id === h)?.id ?? null;
}

export default function CapabilitiesPage() {
  const [tab, setTab] = useState<TabId>("skills");

  useEffect(() => {
    const sync = () => setTab((t) => tabFromHash() ?? t);
    sync();
    window.addEventListener("hashchange", sync);
    return () => window.removeEventListener("hashchange", sync);
  }, []);

  const choose = (id: TabId) => {
    setTab(id);
    window.history.replaceState(null, "", `#${id}`);
  };
  const current = TABS.find((t) => t.id === tab)!;

  return (
    <div className="page capabilities">
      <div className="page-head">
        <h1>Capabilities</h1>
      </div>
      <p className="muted small">
        What your agents work with besides the prompt. New tasks get every enabled item, or exactly what a preset names; a task keeps what it was
        queued with even if you edit the library later.
      </p>
      <div className="tabs cap-tabs" role="tablist" aria-label="Capability kinds">
        {TABS.map((t) => (
          <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? "active" : ""} onClick={() => choose(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={current.label} className="cap-panel">
        <current.Tab key={current.id} />
      </div>
    </div>
  );
}
