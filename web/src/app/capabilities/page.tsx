"use client";
// The Capabilities screen: the user's library of what agents are configured with, one tab per
// kind. The open tab is kept in the address's hash (`/capabilities#presets`) so it can be linked.
import { useEffect, useState } from "react";
import { useTranslations } from "next-intl";
import { InstructionsTab } from "@/components/capabilities/InstructionsTab";
import { McpServersTab } from "@/components/capabilities/McpServersTab";
import { PresetsTab } from "@/components/capabilities/PresetsTab";
import { SkillsTab } from "@/components/capabilities/SkillsTab";
import { SlashCommandsTab } from "@/components/capabilities/SlashCommandsTab";
import { SubagentsTab } from "@/components/capabilities/SubagentsTab";

/** The tabs; their words are `capabilities.tabs.{id}`. */
const TABS = [
  { id: "skills", Tab: SkillsTab },
  { id: "mcp-servers", Tab: McpServersTab },
  { id: "commands", Tab: SlashCommandsTab },
  { id: "subagents", Tab: SubagentsTab },
  { id: "instructions", Tab: InstructionsTab },
  { id: "presets", Tab: PresetsTab },
] as const;
type TabId = (typeof TABS)[number]["id"];

function tabFromHash(): TabId | null {
  const h = window.location.hash.slice(1);
  return TABS.find((t) => t.id === h)?.id ?? null;
}

export default function CapabilitiesPage() {
  const [tab, setTab] = useState<TabId>("skills");
  const t = useTranslations("capabilities");

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
        <h1>{t("title")}</h1>
      </div>
      <p className="muted small">{t("intro")}</p>
      <div className="tabs cap-tabs" role="tablist" aria-label={t("tabsLabel")}>
        {TABS.map((x) => (
          <button key={x.id} role="tab" aria-selected={tab === x.id} className={tab === x.id ? "active" : ""} onClick={() => choose(x.id)}>
            {t(`tabs.${x.id}`)}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={t(`tabs.${current.id}`)} className="cap-panel">
        <current.Tab key={current.id} />
      </div>
    </div>
  );
}
