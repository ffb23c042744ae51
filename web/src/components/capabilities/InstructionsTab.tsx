"use client";
// Instructions: the user's CLAUDE.md, which every run gets (after the system's, shown read-only).
import { useEffect, useState } from "react";
import type { InstructionsView } from "@/generated/protocol";
import { ApiError, readableError } from "@/lib/api";
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

  useEffect(() => {
    getInstructions()
      .then((v) => {
        setView(v);
        setText(v.text);
      })
      .catch((e) => (e instanceof ApiError && e.routeMissing ? setMissing(true) : setError(readableError(e))));
  }, []);

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
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };

  if (missing) return <p className="muted">This server does not offer instructions yet.</p>;
  if (!view) return error ? <p className="error">{error}</p> : <p className="muted">Loading…</p>;
  return (
    <section className="cap-tab" data-testid="cap-instructions">
      <p className="muted small cap-intro">
        Your <code>CLAUDE.md</code>: standing instructions every new task&apos;s agent reads (conventions, how to test, what to avoid).
      </p>
      {view.system_text && (
        <details className="system-text" open>
          <summary>
            System instructions <span className="badge badge-system">system</span> <span className="muted small">every run gets these first; read-only</span>
          </summary>
          <Markdown text={view.system_text} />
        </details>
      )}
      <form className="cap-form" onSubmit={(e) => void save(e)} aria-label="Your instructions">
        <MarkdownEditor
          label="Your instructions"
          value={text}
          onChange={(v) => {
            setText(v);
            setSaved(false);
          }}
          rows={16}
          placeholder={"# Conventions\n\n- Run the tests before you finish."}
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="form-actions">
          <button className="button primary" type="submit" disabled={saving || text === view.text}>
            {saving ? "Saving…" : "Save instructions"}
          </button>
          {saved && text === view.text && <span className="muted small">Saved.</span>}
          {!saved && view.updated_at && <span className="muted small">Last saved {new Date(view.updated_at).toLocaleString()}</span>}
        </div>
      </form>
    </section>
  );
}
