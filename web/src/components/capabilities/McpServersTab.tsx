"use client";
// MCP servers: a name and the JSON the CLI's `--mcp-config` takes under `mcpServers.{name}`. The
// JSON is checked to parse before it is sent; the server's own validation message is shown as is.
import { useMemo, useState } from "react";
import type { JsonValue, McpServerRequest } from "@/generated/protocol";
import { nameProblem, parseMcpConfig } from "@/lib/capabilities";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";

export function McpServersTab() {
  return (
    <LibraryTab
      kind="mcp-servers"
      noun="MCP server"
      intro={
        <>
          Tool servers the agent connects to when a run starts: a local command (<code>{'{"command": …, "args": […]}'}</code>) or a
          remote one (<code>{'{"type": "http", "url": …}'}</code>). The conversation shows whether each one connected.
        </>
      }
      summary={(s) => <span className="mono">{describeConfig(s.config)}</span>}
      Form={McpServerForm}
    />
  );
}

/** One line for a config: the transport and what it runs or reaches. */
function describeConfig(config: JsonValue): string {
  if (!config || typeof config !== "object" || Array.isArray(config)) return "";
  const type = typeof config.type === "string" ? config.type : "stdio";
  if (typeof config.url === "string") return `${type} ${config.url}`;
  const args = Array.isArray(config.args) ? config.args.filter((a): a is string => typeof a === "string") : [];
  return [type, typeof config.command === "string" ? config.command : "", ...args].filter(Boolean).join(" ");
}

const EXAMPLE = `{
  "command": "npx",
  "args": ["-y", "@modelcontextprotocol/server-everything"],
  "env": {}
}`;

function McpServerForm({ initial, save, cancel }: FormProps<"mcp-servers">) {
  const [name, setName] = useState(initial?.name ?? "");
  const [text, setText] = useState(initial ? JSON.stringify(initial.config, null, 2) : "");
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const { saving, error, setError, run } = useSaving();
  const parsed = useMemo(() => (text.trim() ? parseMcpConfig(text) : null), [text]);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const result = parseMcpConfig(text);
    if (!result.ok) return setError(result.error);
    const finalName = name.trim() || result.name || "";
    const problem = nameProblem(finalName);
    if (problem) return setError(problem);
    const request: McpServerRequest = { name: finalName, config: result.config as JsonValue, enabled };
    void run(() => save(request));
  };

  return (
    <form className="cap-form" onSubmit={submit} aria-label={initial ? `Edit MCP server ${initial.name}` : "New MCP server"}>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder={parsed?.ok && parsed.name ? parsed.name : "github"} maxLength={64} className="mono" />
      </label>
      <label>
        Configuration (JSON)
        <textarea
          className="mono"
          rows={8}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            const p = parseMcpConfig(e.target.value);
            // A pasted `{"mcpServers": {"name": …}}` names the server.
            if (p.ok && p.name && !name.trim()) setName(p.name);
          }}
          placeholder={EXAMPLE}
          spellCheck={false}
          aria-describedby="mcp-json-state"
        />
      </label>
      <p id="mcp-json-state" className={`small ${parsed && !parsed.ok ? "error" : "muted"}`}>
        {parsed === null
          ? "Paste one server's configuration, or a whole “mcpServers” file with one server."
          : parsed.ok
            ? parsed.name
              ? `Valid JSON: the server “${parsed.name}” from an mcpServers file.`
              : "Valid JSON."
            : parsed.error}
      </p>
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled (new tasks get it unless a preset says otherwise)
      </label>
      <FormFooter saving={saving} error={error} isNew={!initial} noun="MCP server" cancel={cancel} />
    </form>
  );
}
