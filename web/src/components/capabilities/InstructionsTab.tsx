"use client";
// Instructions: the user's CLAUDE.md, which every run gets (after the system's, shown read-only).
import { useEffect, useState } from "react";
import { useFormatter, useTranslations } from "next-intl";
import type { InstructionsView } from "@/generated/protocol";
import { ApiError } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { getInstructions, putInstructions } from "@/lib/capabilities";
import { Markdown } from "../Markdown";
import { MarkdownEditor } from "./parts";

export function InstructionsTab() {
  const [view, setView] = useState<InstructionsView | null>(null);
  const [text, setText] = useState("");
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const t = useTranslations("capabilities.instructions");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();

  useEffect(() => {
    getInstructions()
      .then((v) => {
        setView(v);
        setText(v.text);
      })
      .catch((e) => (e instanceof ApiError && e.routeMissing ? setMissing(true) : setError(readable(e))));
  }, [readable]);

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const v = await putInstructions(text);
      setView(v);
      setText(v.text);
      setSaved(true);
    } catch (err) {
      setError(readable(err));
    } finally {
      setSaving(false);
    }
  };

  if (missing) return <p className="muted">{t("missing")}</p>;
  if (!view) return error ? <p className="error">{error}</p> : <p className="muted">{tr("common.states.loading")}</p>;
  return (
    <section className="cap-tab" data-testid="cap-instructions">
      <p className="muted small cap-intro">{t.rich("intro", { code: (chunks) => <code>{chunks}</code> })}</p>
      {view.system_text && (
        <details className="system-text" open>
          <summary>
            {t("system")} <span className="badge badge-system">{tr("capabilities.parts.system")}</span> <span className="muted small">{t("systemNote")}</span>
          </summary>
          <Markdown text={view.system_text} />
        </details>
      )}
      <form className="cap-form" onSubmit={(e) => void save(e)} aria-label={t("label")}>
        <MarkdownEditor
          label={t("label")}
          value={text}
          onChange={(v) => {
            setText(v);
            setSaved(false);
          }}
          rows={16}
          placeholder={t("placeholder")}
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="form-actions">
          <button className="button primary" type="submit" disabled={saving || text === view.text}>
            {saving ? tr("common.actions.saving") : t("submit")}
          </button>
          {saved && text === view.text && <span className="muted small">{tr("common.states.saved")}</span>}
          {!saved && view.updated_at && (
            <span className="muted small">{t("lastSaved", { date: format.dateTime(new Date(view.updated_at), { dateStyle: "medium", timeStyle: "short" }) })}</span>
          )}
        </div>
      </form>
    </section>
  );
}
