"use client";
// A project's defaults: what a new task in it gets when it names nothing else (the model from the
// catalog, a preset, the permission mode, a repository to clone with the secret holding its token).
// Saved whole (`PATCH /projects/{id}` with `defaults`).
import { useState } from "react";
import { useTranslations } from "next-intl";
import type { PermissionMode, PresetView, ProjectView } from "@/generated/protocol";
import { useQuery } from "@tanstack/react-query";
import { libraryQuery } from "@/lib/query/library";
import { PERMISSION_MODES, permissionModeLabel } from "@/lib/permissionModes";
import { useReadableError } from "@/lib/useReadableError";
import { defaultsToForm, formToDefaults, updateProject, type DefaultsForm } from "@/lib/projects";
import { ModelPicker } from "../ModelPicker";
import { TokenSecretPicker, useSecretChoices } from "../TokenSecretPicker";

export function ProjectDefaultsForm({ project, onSaved }: { project: ProjectView; onSaved: (p: ProjectView) => void }) {
  const [form, setForm] = useState<DefaultsForm>(() => defaultsToForm(project.defaults));
  // Without presets (none, or a server without them) the choice is just "none".
  const presets: PresetView[] = useQuery(libraryQuery("presets")).data ?? [];
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [savedOnce, setSavedOnce] = useState(false);
  const secrets = useSecretChoices();
  const t = useTranslations("projects.defaults");
  const tr = useTranslations();
  const readable = useReadableError();
  const set = <K extends keyof DefaultsForm>(key: K, value: DefaultsForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    setSavedOnce(false);
  };
  const unchanged = JSON.stringify(formToDefaults(form)) === JSON.stringify(formToDefaults(defaultsToForm(project.defaults)));

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
      setError(readable(err));
    } finally {
      setSaving(false);
    }
  };

  const presetKnown = !form.presetId || presets.some((p) => p.id === form.presetId);
  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("formLabel")}>
      <p className="muted small form-note">{t("note")}</p>
      <div className="grid2">
        <ModelPicker value={form.model} onChange={(v) => set("model", v)} testId="project-model" />
        <label>
          {t("preset")}
          <select value={form.presetId} onChange={(e) => set("presetId", e.target.value)} data-testid="project-preset">
            <option value="">{tr("common.states.none")}</option>
            {!presetKnown && <option value={form.presetId}>{t("presetGone")}</option>}
            {presets.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {tr("common.permissionMode")}
          <select value={form.mode} onChange={(e) => set("mode", e.target.value as PermissionMode | "")} data-testid="project-mode">
            <option value="">{tr("common.serverDefault")}</option>
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {permissionModeLabel(m.value, tr)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="grid2">
        <label>
          {tr("common.git.repository")}
          <input value={form.gitUrl} onChange={(e) => set("gitUrl", e.target.value)} placeholder="https://github.com/owner/repo.git" type="url" />
        </label>
        <label>
          {tr("common.git.branch")}
          <input value={form.gitBranch} onChange={(e) => set("gitBranch", e.target.value)} placeholder={tr("common.git.defaultBranch")} />
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
          {saving ? tr("common.actions.saving") : t("submit")}
        </button>
        {savedOnce && unchanged && <span className="muted small">{tr("common.states.saved")}</span>}
      </div>
    </form>
  );
}
