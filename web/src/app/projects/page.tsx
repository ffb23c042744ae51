"use client";
// The user's projects, and a new one (`/projects#new` opens the form: the switcher's "New
// project…"). A new project becomes the tab's chosen one and opens on its page.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { readableError } from "@/lib/api";
import { createProject, MAX_PROJECT_DESCRIPTION_CHARS, MAX_PROJECT_NAME_CHARS, projectNameProblem } from "@/lib/projects";
import { useProjects } from "@/components/ProjectsProvider";

export default function ProjectsPage() {
  const { projects, missing, error, chosenId, choose } = useProjects();
  const [creating, setCreating] = useState(false);

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

  if (missing) return <p className="muted pad">Projects are not available on this server yet.</p>;
  return (
    <div className="page projects">
      <div className="page-head">
        <h1>Projects</h1>
        <span className="spacer" />
        <button className="button primary" onClick={() => (creating ? close() : setCreating(true))} aria-expanded={creating}>
          {creating ? "Close" : "New project"}
        </button>
      </div>
      <p className="muted small">
        A project groups sessions and gives their tasks defaults (model, preset, mode, repository), instructions and files. Choose one in the sidebar
        to see its sessions and start tasks in it.
      </p>
      {creating && <NewProjectForm onCancel={close} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {projects === null ? (
        <p className="muted">Loading…</p>
      ) : projects.length === 0 ? (
        <p className="muted">No projects yet.</p>
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
                    {p.session_count} session{p.session_count === 1 ? "" : "s"} · {p.files.length} file{p.files.length === 1 ? "" : "s"}
                    {p.instructions.trim() ? " · instructions" : ""}
                  </div>
                </div>
                <div className="cap-actions">
                  {chosenId === p.id ? (
                    <span className="muted small">chosen</span>
                  ) : (
                    <button className="button small" onClick={() => choose(p.id)}>
                      Choose
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

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = projectNameProblem(name);
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
      setError(readableError(err));
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="New project">
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Website" required maxLength={MAX_PROJECT_NAME_CHARS} autoFocus />
      </label>
      <label>
        Description
        <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} placeholder="What its tasks are about" maxLength={MAX_PROJECT_DESCRIPTION_CHARS} />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? "Creating…" : "Create project"}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
