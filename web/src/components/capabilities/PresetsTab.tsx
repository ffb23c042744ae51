"use client";
// Presets: a named bundle of run settings (model, permission mode, a prompt template put before
// the task's prompt) and the skills, MCP servers, commands and subagents it turns on. A task that
// names a preset gets exactly the preset's items.
import { useEffect, useState } from "react";
import type { PermissionMode, PresetRequest, SkillView } from "@/generated/protocol";
import { readableError } from "@/lib/api";
import { listItems, listSkills, nameProblem, type ViewOf } from "@/lib/capabilities";
import { PERMISSION_MODES, permissionModeLabel } from "@/lib/permissionModes";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";
import { ModelPicker } from "../ModelPicker";
import { Checklist } from "./parts";

export function PresetsTab() {
  return (
    <LibraryTab
      kind="presets"
      noun="preset"
      intro="A preset bundles a model, a permission mode, a prompt template and the capabilities a task gets. Pick one in the composer."
      summary={(p) => (
        <>
          {p.description}
          <div>
            {[
              p.model && `Model: ${p.model}`,
              p.permission_mode && `Mode: ${permissionModeLabel(p.permission_mode)}`,
              count(p.skill_ids.length, "skill"),
              count(p.mcp_server_ids.length, "MCP server"),
              count(p.slash_command_ids.length, "command"),
              count(p.subagent_ids.length, "subagent"),
              p.prompt_template && "prompt template",
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

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Everything a preset can turn on, loaded once per form. */
function useChoices() {
  const [skills, setSkills] = useState<SkillView[] | null>(null);
  const [servers, setServers] = useState<ViewOf<"mcp-servers">[] | null>(null);
  const [commands, setCommands] = useState<ViewOf<"slash-commands">[] | null>(null);
  const [agents, setAgents] = useState<ViewOf<"subagents">[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    // A kind this server lacks (or a failed list) offers nothing rather than blocking the form.
    const load = <T,>(p: Promise<T[]>, set: (v: T[]) => void) =>
      p.then((v) => alive && set(v)).catch((e) => {
        if (!alive) return;
        set([]);
        setError(readableError(e));
      });
    void load(listSkills(), setSkills);
    void load(listItems("mcp-servers"), setServers);
    void load(listItems("slash-commands"), setCommands);
    void load(listItems("subagents"), setAgents);
    return () => {
      alive = false;
    };
  }, []);
  return { skills, servers, commands, agents, error };
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

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const problem = nameProblem(name.trim());
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
    <form className="cap-form" onSubmit={submit} aria-label={initial ? `Edit preset ${initial.name}` : "New preset"}>
      <div className="grid2">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="reviewer" required maxLength={64} className="mono" />
        </label>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder="What tasks it is for" />
        </label>
        <ModelPicker value={model} onChange={setModel} />
        <label>
          Permission mode
          <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode | "")}>
            <option value="">{initial?.permission_mode ? "Keep as it is" : "Not set (server default)"}</option>
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label>
        Prompt template (put before the task&apos;s prompt)
        <textarea rows={4} value={template} onChange={(e) => setTemplate(e.target.value)} placeholder="Work in small steps and explain each change." />
      </label>
      {choices.error && <p className="error small">Some items could not be listed: {choices.error}</p>}
      <div className="grid2">
        <Checklist legend="Skills" items={choices.skills} selected={skillIds} onChange={setSkillIds} empty="No skills in the library." />
        <Checklist legend="MCP servers" items={choices.servers} selected={serverIds} onChange={setServerIds} empty="No MCP servers in the library." />
        <Checklist legend="Commands" items={choices.commands} selected={commandIds} onChange={setCommandIds} empty="No commands in the library." />
        <Checklist legend="Subagents" items={choices.agents} selected={agentIds} onChange={setAgentIds} empty="No subagents in the library." />
      </div>
      <p className="muted small">A task with this preset gets exactly the items checked here (none of a kind when none is checked).</p>
      <FormFooter saving={saving} error={error} isNew={!initial} noun="preset" cancel={cancel} />
    </form>
  );
}
