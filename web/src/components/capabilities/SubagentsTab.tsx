"use client";
// Subagents: the CLI's `agents/{name}.md`. The agent hands them work through its `Task` tool;
// their events show nested under that call in the conversation.
import { useState } from "react";
import { useTranslations } from "next-intl";
import type { SubagentRequest } from "@/generated/protocol";
import { formatList, nameProblem, parseList } from "@/lib/capabilities";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";
import { MarkdownEditor } from "./parts";

export function SubagentsTab() {
  const t = useTranslations("capabilities.subagents");
  return (
    <LibraryTab
      kind="subagents"
      intro={t("intro")}
      summary={(a) => (
        <>
          {a.description}
          <div>
            {t("tools", { list: a.tools.length ? formatList(a.tools) : t("allTools") })}
            {a.model && t("model", { model: a.model })}
          </div>
        </>
      )}
      Form={SubagentForm}
    />
  );
}

function SubagentForm({ initial, save, cancel }: FormProps<"subagents">) {
  const [name, setName] = useState(initial?.name ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [tools, setTools] = useState(formatList(initial?.tools ?? []));
  const [model, setModel] = useState(initial?.model ?? "");
  const [prompt, setPrompt] = useState(initial?.system_prompt ?? "");
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const { saving, error, setError, run } = useSaving();
  const t = useTranslations("capabilities");
  const tr = useTranslations();

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const problem = nameProblem(name.trim(), tr);
    if (problem) return setError(problem);
    if (!description.trim()) return setError(t("subagents.needsDescription"));
    if (!prompt.trim()) return setError(t("subagents.needsPrompt"));
    const request: SubagentRequest = {
      name: name.trim(),
      description: description.trim(),
      tools: parseList(tools),
      model: model.trim() ? model.trim() : initial ? "" : null,
      system_prompt: prompt,
      enabled,
    };
    void run(() => save(request));
  };

  return (
    <form className="cap-form" onSubmit={submit} aria-label={initial ? t("subagents.editLabel", { name: initial.name }) : t("kinds.subagents.new")}>
      <div className="grid2">
        <label>
          {t("subagents.name")}
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="code-reviewer" required maxLength={64} className="mono" />
        </label>
        <label>
          {t("subagents.modelLabel")}
          <input value={model} onChange={(e) => setModel(e.target.value)} placeholder={t("subagents.modelPlaceholder")} />
        </label>
      </div>
      <label>
        {t("subagents.description")}
        <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder={t("subagents.descriptionPlaceholder")} required />
      </label>
      <label>
        {t("subagents.toolsLabel")}
        <input value={tools} onChange={(e) => setTools(e.target.value)} placeholder="Read, Grep, Glob" className="mono" />
      </label>
      <MarkdownEditor label={t("subagents.systemPrompt")} value={prompt} onChange={setPrompt} placeholder={t("subagents.systemPromptPlaceholder")} />
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> {t("parts.enabledForNew")}
      </label>
      <FormFooter saving={saving} error={error} isNew={!initial} kind="subagents" cancel={cancel} />
    </form>
  );
}
