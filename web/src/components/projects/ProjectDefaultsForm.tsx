"use client";
// A project's defaults: what a new task in it gets when it names nothing else (the model from the
// catalog, a preset, the permission mode, a repository to clone with the secret holding its token).
// Saved whole (`PATCH /projects/{id}` with `defaults`).
import { useEffect, useState } from "react";
import type { PermissionMode, PresetView, ProjectView } from "@/generated/protocol";
import { readableError } from "@/lib/api";
import { listItems } from "@/lib/capabilities";
import { PERMISSION_MODES } from "@/lib/permissionModes";
import { defaultsToForm, formToDefaults, updateProject, type DefaultsForm } from "@/lib/projects";
import { ModelPicker } from "../ModelPicker";
import { TokenSecretPicker, useSecretChoices } from "../TokenSecretPicker";

export function ProjectDefaultsForm({ project, onSaved }: { project: ProjectView; onSaved: (p: ProjectView) => void }) {
  const [form, setForm] = useState<DefaultsForm>(() => defaultsToForm(project.defaults));
  const [presets, setPresets] = useState<PresetView[]>([]);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [savedOnce, setSavedOnce] = useState(false);
  const secrets = useSecretChoices();
  const set = <K extends keyof DefaultsForm>(key: K, value: DefaultsForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    setSavedOnce(false);
  };
  const unchanged = JSON.stringify(formToDefaults(form)) === JSON.stringify(formToDefaults(defaultsToForm(project.defaults)));

  useEffect(() => {
    let alive = true;
    // Without presets (none, or a server without them) the choice is just "none".
    listItems("presets")
      .then((p) => alive && setPresets(p))
      .catch(() => {});
    return () => {
      alive = false;
    };
  }, []);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    try {
      const saved = await updateProject(project.id, { defaults: formToDefaults(form) });
      onSaved(saved);
      setForm(defaultsToForm(saved.defaults));
      setSavedOnce(true);
    } catch (err) {
      setError(readableError(err));
    } finally {
      setSaving(false);
    }
  };

  const presetKnown = !form.presetId || presets.some((p) => p.id === form.presetId);
  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="Project defaults">
      <p className="muted small form-note">A new task in this project gets these when it names nothing else; a task&apos;s own choices win.</p>
      <div className="grid2">
        <ModelPicker value={form.model} onChange={(v) => set("model", v)} testId="project-model" />
        <label>
          Preset
          <select value={form.presetId} onChange={(e) => set("presetId", e.target.value)} data-testid="project-preset">
            <option value="">None</option>
            {!presetKnown && <option value={form.presetId}>a preset that no longer exists</option>}
            {presets.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Permission mode
          <select value={form.mode} onChange={(e) => set("mode", e.target.value as PermissionMode | "")} data-testid="project-mode">
            <option value="">Server default</option>
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="grid2">
        <label>
          Git repository
          <input value={form.gitUrl} onChange={(e) => set("gitUrl", e.target.value)} placeholder="https://github.com/owner/repo.git" type="url" />
        </label>
        <label>
          Branch
          <input value={form.gitBranch} onChange={(e) => set("gitBranch", e.target.value)} placeholder="default branch" />
        </label>
        {!secrets.missing && (
          <TokenSecretPicker
            value={form.tokenSecret}
            onChange={(v) => set("tokenSecret", v)}
            choices={secrets.choices}
            disabled={!form.gitUrl.trim()}
            testId="project-token-secret"
          />
        )}
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving || unchanged}>
          {saving ? "Saving…" : "Save defaults"}
        </button>
        {savedOnce && unchanged && <span className="muted small">Saved.</span>}
      </div>
    </form>
  );
}
