"use client";
// A run's capabilities by name (`CapabilitySummary`): in the composer's options (what a new task
// would get) and at the head of each run in the conversation (what it was queued with).
import { useTranslations } from "next-intl";
import type { CapabilitySummary } from "@/generated/protocol";
import { summaryIsEmpty } from "@/lib/capabilities";
import { permissionModeLabel } from "@/lib/permissionModes";

export function SummaryView({ summary, testId }: { summary: CapabilitySummary; testId?: string }) {
  const t = useTranslations("capabilities.summary");
  const tr = useTranslations();
  if (summaryIsEmpty(summary)) {
    return (
      <div className="cap-summary muted small" data-testid={testId}>
        {t("empty")}
      </div>
    );
  }
  const mode = summary.permission_mode && permissionModeLabel(summary.permission_mode, tr);
  return (
    <div className="cap-summary small" data-testid={testId}>
      {summary.preset && (
        <span className="cap-group">
          <span className="cap-label">{t("preset")}</span> <span className="chip chip-preset" data-preset={summary.preset.name}>{summary.preset.name}</span>
        </span>
      )}
      {summary.model && (
        <span className="cap-group">
          <span className="cap-label">{t("model")}</span> <span className="mono">{summary.model}</span>
        </span>
      )}
      {mode && (
        <span className="cap-group">
          <span className="cap-label">{t("mode")}</span> {mode}
        </span>
      )}
      <Names label={t("skills")} names={summary.skills.map((s) => s.name)} />
      <Names label={t("mcp")} names={summary.mcp_servers.map((s) => s.name)} />
      <Names label={t("commands")} names={summary.slash_commands.map((s) => `/${s.name}`)} />
      <Names label={t("subagents")} names={summary.subagents.map((s) => s.name)} />
      {summary.instructions && (
        <span className="cap-group">
          <span className="chip mono" title={t("instructionsTitle")}>
            CLAUDE.md
          </span>
        </span>
      )}
    </div>
  );
}

function Names({ label, names }: { label: string; names: string[] }) {
  if (names.length === 0) return null;
  return (
    <span className="cap-group">
      <span className="cap-label">{label}</span>
      {names.map((n) => (
        <span key={n} className="chip mono">
          {n}
        </span>
      ))}
    </span>
  );
}
