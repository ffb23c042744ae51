"use client";
// Slash commands: the CLI's `commands/{name}.md`. A prompt that starts with `/{name}` runs the
// command's body, with `$ARGUMENTS` (and `$1`, `$2`, …) replaced by what follows the name.
import { useState } from "react";
import { useTranslations } from "next-intl";
import type { SlashCommandRequest } from "@/generated/protocol";
import { formatList, nameProblem, parseList } from "@/lib/capabilities";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";
import { MarkdownEditor } from "./parts";

export function SlashCommandsTab() {
  const t = useTranslations("capabilities.commands");
  return (
    <LibraryTab
      kind="slash-commands"
      intro={t.rich("intro", { code: (chunks) => <code>{chunks}</code> })}
      summary={(c) => (
        <>
          <span className="mono">
            /{c.name}
            {c.argument_hint ? ` ${c.argument_hint}` : ""}
          </span>
          {c.description && ` — ${c.description}`}
          {c.allowed_tools.length > 0 && <div>{t("tools", { list: formatList(c.allowed_tools) })}</div>}
          {c.model && <div>{t("model", { model: c.model })}</div>}
        </>
      )}
      Form={SlashCommandForm}
    />
  );
}

function SlashCommandForm({ initial, save, cancel }: FormProps<"slash-commands">) {
  const [name, setName] = useState(initial?.name ?? "");
  const [description, setDescription] = useState(initial?.description ?? "");
  const [hint, setHint] = useState(initial?.argument_hint ?? "");
  const [tools, setTools] = useState(formatList(initial?.allowed_tools ?? []));
  const [model, setModel] = useState(initial?.model ?? "");
  const [body, setBody] = useState(initial?.body ?? "");
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const { saving, error, setError, run } = useSaving();
  const t = useTranslations("capabilities");
  const tr = useTranslations();

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const problem = nameProblem(name.trim(), tr);
    if (problem) return setError(problem);
    if (!body.trim()) return setError(t("commands.needsBody"));
    // On an edit, "" clears the hint and the model; on a new command, empty means unset.
    const optional = (v: string) => (v.trim() ? v.trim() : initial ? "" : null);
    const request: SlashCommandRequest = {
      name: name.trim(),
      description: description.trim(),
      argument_hint: optional(hint),
      allowed_tools: parseList(tools),
      model: optional(model),
      body,
      enabled,
    };
    void run(() => save(request));
  };

  return (
    <form className="cap-form" onSubmit={submit} aria-label={initial ? t("commands.editLabel", { name: initial.name }) : t("kinds.commands.new")}>
      <div className="grid2">
        <label>
          {t("commands.name")}
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="review" required maxLength={64} className="mono" />
        </label>
        <label>
          {t("commands.argumentHint")}
          <input value={hint} onChange={(e) => setHint(e.target.value)} placeholder="[file] [focus]" />
        </label>
      </div>
      <label>
        {t("commands.description")}
        <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder={t("commands.descriptionPlaceholder")} />
      </label>
      <div className="grid2">
        <label>
          {t("commands.allowedTools")}
          <input value={tools} onChange={(e) => setTools(e.target.value)} placeholder="Read, Grep, Bash(git diff:*)" className="mono" />
        </label>
        <label>
          {t("commands.modelLabel")}
          <input value={model} onChange={(e) => setModel(e.target.value)} placeholder={t("commands.modelPlaceholder")} />
        </label>
      </div>
      <MarkdownEditor
        label={t("commands.body")}
        value={body}
        onChange={setBody}
        placeholder={t("commands.bodyPlaceholder")}
        hint={t.rich("commands.bodyHint", { code: (chunks) => <code>{chunks}</code> })}
      />
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> {t("parts.enabledForNew")}
      </label>
      <FormFooter saving={saving} error={error} isNew={!initial} kind="slash-commands" cancel={cancel} />
    </form>
  );
}
