"use client";
// The user's projects, and a new one (`/projects#new` opens the form: the switcher's "New
// project…"). A new project becomes the tab's chosen one and opens on its page.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { useTranslations } from "next-intl";
import { useReadableError } from "@/lib/useReadableError";
import { createProject, MAX_PROJECT_DESCRIPTION_CHARS, MAX_PROJECT_NAME_CHARS, projectNameProblem } from "@/lib/projects";
import { useProjects } from "@/components/ProjectsProvider";

export default function ProjectsPage() {
  const { projects, missing, error, chosenId, choose } = useProjects();
  const [creating, setCreating] = useState(false);
  const t = useTranslations("projects");
  const tr = useTranslations();

  useEffect(() => {
    const sync = () => window.location.hash === "#new" && setCreating(true);
    sync();
    window.addEventListener("hashchange", sync);
    return () => window.removeEventListener("hashchange", sync);
  }, []);

  const close = () => {
    setCreating(false);
    if (window.location.hash) window.history.replaceState(null, "", "/projects");
  };

  if (missing) return <p className="muted pad">{t("missing")}</p>;
  return (
    <div className="page projects">
      <div className="page-head">
        <h1>{t("title")}</h1>
        <span className="spacer" />
        <button className="button primary" onClick={() => (creating ? close() : setCreating(true))} aria-expanded={creating}>
          {creating ? tr("common.actions.close") : t("new")}
        </button>
      </div>
      <p className="muted small">{t("intro")}</p>
      {creating && <NewProjectForm onCancel={close} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {projects === null ? (
        <p className="muted">{tr("common.states.loading")}</p>
      ) : projects.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <ul className="cap-list" data-testid="project-list">
          {projects.map((p) => (
            <li key={p.id} data-name={p.name}>
              <div className="cap-row">
                <div className="cap-main">
                  <Link href={`/projects/${p.id}`} className="cap-name">
                    {p.name}
                  </Link>
                  {p.description && <div className="small">{p.description}</div>}
                  <div className="muted small">
                    {t("counts", { sessions: p.session_count, files: p.files.length })}
                    {p.instructions.trim() ? t("withInstructions") : ""}
                  </div>
                </div>
                <div className="cap-actions">
                  {chosenId === p.id ? (
                    <span className="muted small">{t("chosen")}</span>
                  ) : (
                    <button className="button small" onClick={() => choose(p.id)}>
                      {tr("common.actions.choose")}
                    </button>
                  )}
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function NewProjectForm({ onCancel }: { onCancel: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { saved, choose } = useProjects();
  const router = useRouter();
  const t = useTranslations("projects.newForm");
  const tr = useTranslations();
  const readable = useReadableError();

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = projectNameProblem(name, tr);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      const project = await createProject({
        name: name.trim(),
        description: description.trim(),
        defaults: { model: null, preset_id: null, permission_mode: null, git: null },
        instructions: "",
      });
      saved(project);
      choose(project.id);
      router.push(`/projects/${project.id}`);
    } catch (err) {
      setError(readable(err));
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("formLabel")}>
      <label>
        {t("name")}
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder={t("namePlaceholder")} required maxLength={MAX_PROJECT_NAME_CHARS} autoFocus />
      </label>
      <label>
        {t("description")}
        <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} placeholder={t("descriptionPlaceholder")} maxLength={MAX_PROJECT_DESCRIPTION_CHARS} />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? tr("common.actions.creating") : t("submit")}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          {tr("common.actions.cancel")}
        </button>
      </div>
    </form>
  );
}
