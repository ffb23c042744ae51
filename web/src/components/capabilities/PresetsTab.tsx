"use client";
// Presets: a named bundle of run settings (model, permission mode, a prompt template put before
// the task's prompt) and the skills, MCP servers, commands and subagents it turns on. A task that
// names a preset gets exactly the preset's items.
import { useState } from "react";
import { useQuery, type UseQueryResult } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import type { PermissionMode, PresetRequest, SkillView } from "@/generated/protocol";
import { nameProblem, type ViewOf } from "@/lib/capabilities";
import { PERMISSION_MODES, permissionModeLabel } from "@/lib/permissionModes";
import { useReadableError } from "@/lib/useReadableError";
import { libraryQuery, skillsQuery } from "@/lib/query/library";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";
import { ModelPicker } from "../ModelPicker";
import { Checklist } from "./parts";

export function PresetsTab() {
  const t = useTranslations("capabilities.presets");
  const tr = useTranslations();
  return (
    <LibraryTab
      kind="presets"
      intro={t("intro")}
      summary={(p) => (
        <>
          {p.description}
          <div>
            {[
              p.model && t("model", { model: p.model }),
              p.permission_mode && t("mode", { mode: permissionModeLabel(p.permission_mode, tr) }),
              t("skills", { count: p.skill_ids.length }),
              t("mcpServers", { count: p.mcp_server_ids.length }),
              t("commands", { count: p.slash_command_ids.length }),
              t("subagents", { count: p.subagent_ids.length }),
              p.prompt_template && t("promptTemplate"),
            ]
              .filter(Boolean)
              .join(" · ")}
          </div>
        </>
      )}
      Form={PresetForm}
    />
  );
}

/** Everything a preset can turn on: the library's cached lists (what the other tabs show). */
function useChoices() {
  const readable = useReadableError();
  const choice = <T,>(q: UseQueryResult<T[]>): T[] | null => q.data ?? (q.isError ? [] : null);
  const skills = useQuery(skillsQuery());
  const servers = useQuery(libraryQuery("mcp-servers"));
  const commands = useQuery(libraryQuery("slash-commands"));
  const agents = useQuery(libraryQuery("subagents"));
  // A kind this server lacks (or a failed list) offers nothing rather than blocking the form.
  const failed = [skills, servers, commands, agents].find((q) => q.error)?.error;
  return {
    skills: choice<SkillView>(skills),
    servers: choice<ViewOf<"mcp-servers">>(servers),
    commands: choice<ViewOf<"slash-commands">>(commands),
    agents: choice<ViewOf<"subagents">>(agents),
    error: failed ? readable(failed) : null,
  };
}

function PresetForm({ initial, save, cancel }: FormProps<"presets">) {
  const [name, setName] = useState(initial?.name ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [model, setModel] = useState(initial?.model ?? "");
  const [mode, setMode] = useState<PermissionMode | "">(initial?.permission_mode ?? "");
  const [template, setTemplate] = useState(initial?.prompt_template ?? "");
  const [skillIds, setSkillIds] = useState<string[]>(initial?.skill_ids ?? []);
  const [serverIds, setServerIds] = useState<string[]>(initial?.mcp_server_ids ?? []);
  const [commandIds, setCommandIds] = useState<string[]>(initial?.slash_command_ids ?? []);
  const [agentIds, setAgentIds] = useState<string[]>(initial?.subagent_ids ?? []);
  const choices = useChoices();
  const { saving, error, setError, run } = useSaving();
  const t = useTranslations("capabilities.presets");
  const tr = useTranslations();

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const problem = nameProblem(name.trim(), tr);
    if (problem) return setError(problem);
    const optional = (v: string) => (v.trim() ? v : initial ? "" : null);
    const request: PresetRequest = {
      name: name.trim(),
      description: description.trim(),
      model: optional(model.trim()),
      // The API cannot clear a mode once set: "not set" leaves an edited preset's mode as it was.
      permission_mode: mode === "" ? null : mode,
      prompt_template: optional(template),
      skill_ids: skillIds,
      mcp_server_ids: serverIds,
      slash_command_ids: commandIds,
      subagent_ids: agentIds,
    };
    void run(() => save(request));
  };

  return (
    <form className="cap-form" onSubmit={submit} aria-label={initial ? t("editLabel", { name: initial.name }) : tr("capabilities.kinds.presets.new")}>
      <div className="grid2">
        <label>
          {t("name")}
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="reviewer" required maxLength={64} className="mono" />
        </label>
        <label>
          {t("description")}
          <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder={t("descriptionPlaceholder")} />
        </label>
        <ModelPicker value={model} onChange={setModel} />
        <label>
          {tr("common.permissionMode")}
          <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode | "")}>
            <option value="">{initial?.permission_mode ? t("keepMode") : t("noMode")}</option>
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {permissionModeLabel(m.value, tr)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        {t("template")}
        <textarea rows={4} value={template} onChange={(e) => setTemplate(e.target.value)} placeholder={t("templatePlaceholder")} />
      </label>
      {choices.error && <p className="error small">{t("listError", { error: choices.error })}</p>}
      <div className="grid2">
        <Checklist legend={t("skillsLegend")} items={choices.skills} selected={skillIds} onChange={setSkillIds} empty={t("noSkills")} />
        <Checklist legend={t("mcpServersLegend")} items={choices.servers} selected={serverIds} onChange={setServerIds} empty={t("noMcpServers")} />
        <Checklist legend={t("commandsLegend")} items={choices.commands} selected={commandIds} onChange={setCommandIds} empty={t("noCommands")} />
        <Checklist legend={t("subagentsLegend")} items={choices.agents} selected={agentIds} onChange={setAgentIds} empty={t("noSubagents")} />
      </div>
      <p className="muted small">{t("exactly")}</p>
      <FormFooter saving={saving} error={error} isNew={!initial} kind="presets" cancel={cancel} />
    </form>
  );
}
