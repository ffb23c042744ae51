"use client";
// Small pieces every Capabilities tab uses: the system badge, the enabled switch, a Markdown
// editor with a preview, and a checklist for choosing items.
import { OptimisticCheckbox } from "../OptimisticCheckbox";
import { useId, useState } from "react";
import { useTranslations } from "next-intl";
import { Markdown } from "../Markdown";

/** Marks an item every user sees and nobody edits here. */
export function SystemBadge() {
  const t = useTranslations("capabilities.parts");
  return (
    <span className="badge badge-system" title={t("systemTitle")}>
      {t("system")}
    </span>
  );
}

/** The enabled switch of an item; read-only text for system items. */
export function EnabledToggle({ name, enabled, system, onChange }: { name: string; enabled: boolean; system: boolean; onChange: (enabled: boolean) => void }) {
  const t = useTranslations("capabilities.parts");
  const tr = useTranslations();
  if (system) return <span className="muted small">{enabled ? t("enabled") : t("disabled")}</span>;
  return (
    <label className="check small">
      <OptimisticCheckbox checked={enabled} onChange={onChange} aria-label={t("enableLabel", { name })} /> {tr("common.states.enabled")}
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
  const t = useTranslations("capabilities.parts");
  return (
    <div className="md-editor">
      <div className="md-editor-bar">
        <label htmlFor={id} className="md-editor-label">
          {label}
        </label>
        <span className="spacer" />
        <div className="segmented" role="group" aria-label={t("writeOrPreview", { label })}>
          <button type="button" className={preview ? "" : "active"} aria-pressed={!preview} onClick={() => setPreview(false)}>
            {t("write")}
          </button>
          <button type="button" className={preview ? "active" : ""} aria-pressed={preview} onClick={() => setPreview(true)}>
            {t("preview")}
          </button>
        </div>
      </div>
      {preview ? (
        <div className="md-preview" data-testid="markdown-preview">
          {value.trim() ? <Markdown text={value} /> : <p className="muted small">{t("nothingToPreview")}</p>}
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
  const t = useTranslations("capabilities.parts");
  const tr = useTranslations();
  const chosen = new Set(selected);
  // Ids the preset names that this user no longer sees (deleted items) stay listed so they can
  // be removed.
  const unknown = selected.filter((id) => !items?.some((i) => i.id === id));
  return (
    <fieldset className="checklist">
      <legend>{legend}</legend>
      {items === null ? (
        <p className="muted small">{tr("common.states.loading")}</p>
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
              {i.enabled === false && <span className="muted small">{t("itemDisabled")}</span>}
            </label>
          ))}
          {unknown.map((id) => (
            <label key={id} className="check">
              <input type="checkbox" checked onChange={() => onChange(selected.filter((x) => x !== id))} />{" "}
              <span className="muted small">{t("itemGone")}</span>
            </label>
          ))}
        </>
      )}
    </fieldset>
  );
}
