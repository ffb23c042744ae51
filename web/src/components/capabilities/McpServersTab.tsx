"use client";
// MCP servers: a name and the JSON the CLI's `--mcp-config` takes under `mcpServers.{name}`. The
// JSON is checked to parse before it is sent; the server's own validation message is shown as is.
import { useMemo, useState } from "react";
import { useTranslations } from "next-intl";
import type { JsonValue, McpServerRequest } from "@/generated/protocol";
import { nameProblem, parseMcpConfig } from "@/lib/capabilities";
import { FormFooter, LibraryTab, useSaving, type FormProps } from "./LibraryTab";

export function McpServersTab() {
  const t = useTranslations("capabilities.mcp");
  return (
    <LibraryTab
      kind="mcp-servers"
      intro={t.rich("intro", {
        code: (chunks) => <code>{chunks}</code>,
        local: '{"command": …, "args": […]}',
        remote: '{"type": "http", "url": …}',
      })}
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
  const t = useTranslations("capabilities");
  const tr = useTranslations();
  const parsed = useMemo(() => (text.trim() ? parseMcpConfig(text, tr) : null), [text, tr]);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const result = parseMcpConfig(text, tr);
    if (!result.ok) return setError(result.error);
    const finalName = name.trim() || result.name || "";
    const problem = nameProblem(finalName, tr);
    if (problem) return setError(problem);
    const request: McpServerRequest = { name: finalName, config: result.config as JsonValue, enabled };
    void run(() => save(request));
  };

  return (
    <form className="cap-form" onSubmit={submit} aria-label={initial ? t("mcp.editLabel", { name: initial.name }) : t("kinds.mcpServers.new")}>
      <label>
        {t("mcp.name")}
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder={parsed?.ok && parsed.name ? parsed.name : "github"} maxLength={64} className="mono" />
      </label>
      <label>
        {t("mcp.config")}
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
          ? t("mcp.empty")
          : parsed.ok
            ? parsed.name
              ? t("mcp.validNamed", { name: parsed.name })
              : t("mcp.valid")
            : parsed.error}
      </p>
      <label className="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> {t("parts.enabledForNew")}
      </label>
      <FormFooter saving={saving} error={error} isNew={!initial} kind="mcp-servers" cancel={cancel} />
    </form>
  );
}
