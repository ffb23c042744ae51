"use client";
// Subagents: the CLI's `agents/{name}.md`. The agent hands them work through its `Task` tool;
// their events show nested under that call in the conversation.
import { useState } from "react";
import type { SubagentRequest } from "@/generated/protocol";
import { formatList, nameProblem, parseList } from "@/lib/capabilities";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";
import { MarkdownEditor } from "./parts";

export function SubagentsTab() {
  return (
    <LibraryTab
      kind="subagents"
      noun="subagent"
      intro="Specialised agents the main agent can hand work to (through its Task tool), each with its own system prompt and tools."
      summary={(a) => (
        <>
          {a.description}
          <div>
            Tools: {a.tools.length ? formatList(a.tools) : "all of the main agent's"}
            {a.model && ` · Model: ${a.model}`}
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

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const problem = nameProblem(name.trim());
    if (problem) return setError(problem);
    if (!description.trim()) return setError("Describe when the agent should use this subagent.");
    if (!prompt.trim()) return setError("The subagent needs a system prompt.");
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
    <form className="cap-form" onSubmit={submit} aria-label={initial ? `Edit subagent ${initial.name}` : "New subagent"}>
      <div className="grid2">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="code-reviewer" required maxLength={64} className="mono" />
        </label>
        <label>
          Model
          <input value={model} onChange={(e) => setModel(e.target.value)} placeholder="the run's model" />
        </label>
      </div>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder="When to use it: “Reviews a diff for bugs after code changes.”" required />
      </label>
      <label>
        Tools (comma-separated; empty: all)
        <input value={tools} onChange={(e) => setTools(e.target.value)} placeholder="Read, Grep, Glob" className="mono" />
      </label>
      <MarkdownEditor label="System prompt" value={prompt} onChange={setPrompt} placeholder="You are a careful code reviewer…" />
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled (new tasks get it unless a preset says otherwise)
      </label>
      <FormFooter saving={saving} error={error} isNew={!initial} noun="subagent" cancel={cancel} />
    </form>
  );
}
