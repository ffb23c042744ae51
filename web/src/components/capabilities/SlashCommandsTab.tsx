"use client";
// Slash commands: the CLI's `commands/{name}.md`. A prompt that starts with `/{name}` runs the
// command's body, with `$ARGUMENTS` (and `$1`, `$2`, …) replaced by what follows the name.
import { useState } from "react";
import type { SlashCommandRequest } from "@/generated/protocol";
import { formatList, nameProblem, parseList } from "@/lib/capabilities";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";
import { MarkdownEditor } from "./parts";

export function SlashCommandsTab() {
  return (
    <LibraryTab
      kind="slash-commands"
      noun="command"
      intro={
        <>
          A prompt that starts with <code>/name</code> runs the command. Type <code>/</code> in the composer to pick one.
        </>
      }
      summary={(c) => (
        <>
          <span className="mono">
            /{c.name}
            {c.argument_hint ? ` ${c.argument_hint}` : ""}
          </span>
          {c.description && ` — ${c.description}`}
          {c.allowed_tools.length > 0 && <div>Tools: {formatList(c.allowed_tools)}</div>}
          {c.model && <div>Model: {c.model}</div>}
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

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const problem = nameProblem(name.trim());
    if (problem) return setError(problem);
    if (!body.trim()) return setError("The command needs a body: the prompt it runs.");
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
    <form className="cap-form" onSubmit={submit} aria-label={initial ? `Edit command ${initial.name}` : "New command"}>
      <div className="grid2">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="review" required maxLength={64} className="mono" />
        </label>
        <label>
          Argument hint
          <input value={hint} onChange={(e) => setHint(e.target.value)} placeholder="[file] [focus]" />
        </label>
      </div>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder="What the command does (shown in suggestions)" />
      </label>
      <div className="grid2">
        <label>
          Allowed tools (comma-separated)
          <input value={tools} onChange={(e) => setTools(e.target.value)} placeholder="Read, Grep, Bash(git diff:*)" className="mono" />
        </label>
        <label>
          Model
          <input value={model} onChange={(e) => setModel(e.target.value)} placeholder="the run's model" />
        </label>
      </div>
      <MarkdownEditor
        label="Body"
        value={body}
        onChange={setBody}
        placeholder={"Review $ARGUMENTS for bugs and explain each finding."}
        hint={
          <>
            <code>$ARGUMENTS</code> is replaced by everything after the command name, <code>$1</code>, <code>$2</code>, … by single arguments.
          </>
        }
      />
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled (new tasks get it unless a preset says otherwise)
      </label>
      <FormFooter saving={saving} error={error} isNew={!initial} noun="command" cancel={cancel} />
    </form>
  );
}
