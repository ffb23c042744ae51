"use client";
// A project's instructions: its CLAUDE.md, added after the user's own in every run of its sessions.
import { useState } from "react";
import { useTranslations } from "next-intl";
import type { ProjectView } from "@/generated/protocol";
import { updateProject } from "@/lib/projects";
import { useReadableError } from "@/lib/useReadableError";
import { MarkdownEditor } from "../capabilities/parts";

export function ProjectInstructions({ project, onSaved }: { project: ProjectView; onSaved: (p: ProjectView) => void }) {
  const [text, setText] = useState(project.instructions);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [savedOnce, setSavedOnce] = useState(false);
  const t = useTranslations("projects.instructions");
  const tr = useTranslations();
  const readable = useReadableError();

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const saved = await updateProject(project.id, { instructions: text });
      onSaved(saved);
      setText(saved.instructions);
      setSavedOnce(true);
    } catch (err) {
      setError(readable(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("label")}>
      <MarkdownEditor
        label={t("label")}
        value={text}
        onChange={(v) => {
          setText(v);
          setSavedOnce(false);
        }}
        rows={14}
        placeholder={t("placeholder")}
        hint={t.rich("hint", { code: (chunks) => <code>{chunks}</code> })}
      />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving || text === project.instructions}>
          {saving ? tr("common.actions.saving") : t("submit")}
        </button>
        {savedOnce && text === project.instructions && <span className="muted small">{tr("common.states.saved")}</span>}
      </div>
    </form>
  );
}
