"use client";
// Small pieces every Capabilities tab uses: the system badge, the enabled switch, a Markdown
// editor with a preview, and a checklist for choosing items.
import { useId, useState } from "react";
import { Markdown } from "../Markdown";

/** Marks an item every user sees and nobody edits here. */
export function SystemBadge() {
  return (
    <span className="badge badge-system" title="Provided by the administrator for every user; read-only">
      system
    </span>
  );
}

/** The enabled switch of an item; read-only text for system items. */
export function EnabledToggle({ name, enabled, system, onChange }: { name: string; enabled: boolean; system: boolean; onChange: (enabled: boolean) => void }) {
  if (system) return <span className="muted small">{enabled ? "enabled" : "disabled"}</span>;
  return (
    <label className="check small">
      <input type="checkbox" checked={enabled} onChange={(e) => onChange(e.target.checked)} aria-label={`Enable ${name}`} /> Enabled
    </label>
  );
}

/** A Markdown text with Write and Preview modes (the preview renders as the conversation does). */
export function MarkdownEditor({
  label,
  value,
  onChange,
  rows = 10,
  placeholder,
  hint,
  required,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  rows?: number;
  placeholder?: string;
  hint?: React.ReactNode;
  required?: boolean;
}) {
  const [preview, setPreview] = useState(false);
  const id = useId();
  return (
    <div className="md-editor">
      <div className="md-editor-bar">
        <label htmlFor={id} className="md-editor-label">
          {label}
        </label>
        <span className="spacer" />
        <div className="segmented" role="group" aria-label={`${label}: write or preview`}>
          <button type="button" className={preview ? "" : "active"} aria-pressed={!preview} onClick={() => setPreview(false)}>
            Write
          </button>
          <button type="button" className={preview ? "active" : ""} aria-pressed={preview} onClick={() => setPreview(true)}>
            Preview
          </button>
        </div>
      </div>
      {preview ? (
        <div className="md-preview" data-testid="markdown-preview">
          {value.trim() ? <Markdown text={value} /> : <p className="muted small">Nothing to preview.</p>}
        </div>
      ) : (
        <textarea id={id} className="mono" rows={rows} value={value} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} required={required} />
      )}
      {hint && <p className="muted small md-editor-hint">{hint}</p>}
    </div>
  );
}

/** A checklist of items to pick (a preset's skills, servers, commands, subagents). */
export function Checklist({
  legend,
  items,
  selected,
  onChange,
  empty,
}: {
  legend: string;
  items: { id: string; name: string; system: boolean; enabled?: boolean }[] | null;
  selected: readonly string[];
  onChange: (ids: string[]) => void;
  empty: string;
}) {
  const chosen = new Set(selected);
  // Ids the preset names that this user no longer sees (deleted items) stay listed so they can
  // be removed.
  const unknown = selected.filter((id) => !items?.some((i) => i.id === id));
  return (
    <fieldset className="checklist">
      <legend>{legend}</legend>
      {items === null ? (
        <p className="muted small">Loading…</p>
      ) : items.length === 0 && unknown.length === 0 ? (
        <p className="muted small">{empty}</p>
      ) : (
        <>
          {items.map((i) => (
            <label key={i.id} className="check">
              <input
                type="checkbox"
                checked={chosen.has(i.id)}
                onChange={(e) => onChange(e.target.checked ? [...selected, i.id] : selected.filter((x) => x !== i.id))}
              />{" "}
              <span className="mono">{i.name}</span>
              {i.system && <SystemBadge />}
              {i.enabled === false && <span className="muted small">(disabled)</span>}
            </label>
          ))}
          {unknown.map((id) => (
            <label key={id} className="check">
              <input type="checkbox" checked onChange={() => onChange(selected.filter((x) => x !== id))} />{" "}
              <span className="muted small">an item that no longer exists</span>
            </label>
          ))}
        </>
      )}
    </fieldset>
  );
}
