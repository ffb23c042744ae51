"use client";
// A project's instructions: its CLAUDE.md, added after the user's own in every run of its sessions.
import { useState } from "react";
import type { ProjectView } from "@/generated/protocol";
import { readableError } from "@/lib/api";
import { updateProject } from "@/lib/projects";
import { MarkdownEditor } from "../capabilities/parts";

export function ProjectInstructions({ project, onSaved }: { project: ProjectView; onSaved: (p: ProjectView) => void }) {
  const [text, setText] = useState(project.instructions);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [savedOnce, setSavedOnce] = useState(false);

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
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="Project instructions">
      <MarkdownEditor
        label="Project instructions"
        value={text}
        onChange={(v) => {
          setText(v);
          setSavedOnce(false);
        }}
        rows={14}
        placeholder={"# This project\n\n- The app lives in `web/`; run `npm test` before you finish."}
        hint={
          <>
            The project&apos;s <code>CLAUDE.md</code>: every run of its sessions reads it after your own instructions.
          </>
        }
      />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving || text === project.instructions}>
          {saving ? "Saving…" : "Save instructions"}
        </button>
        {savedOnce && text === project.instructions && <span className="muted small">Saved.</span>}
      </div>
    </form>
  );
}
