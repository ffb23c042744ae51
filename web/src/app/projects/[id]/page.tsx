"use client";
// A project's page: its sessions, defaults, instructions and files (one tab each, kept in the
// address's hash), its name and description, a new task in it, and deleting it — which the
// server refuses while it has sessions (`409 project_not_empty`), so the confirmation then offers
// to delete them too.
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import type { AttachmentView, ProjectView } from "@/generated/protocol";
import { ApiError, readableError } from "@/lib/api";
import { deleteProject, getProject, MAX_PROJECT_DESCRIPTION_CHARS, MAX_PROJECT_NAME_CHARS, needsCascade, newTaskHref, projectNameProblem, updateProject } from "@/lib/projects";
import { useProjects } from "@/components/ProjectsProvider";
import { ProjectDefaultsForm } from "@/components/projects/ProjectDefaultsForm";
import { ProjectFiles } from "@/components/projects/ProjectFiles";
import { ProjectInstructions } from "@/components/projects/ProjectInstructions";
import { ProjectSessions } from "@/components/projects/ProjectSessions";

const TABS = [
  { id: "sessions", label: "Sessions" },
  { id: "defaults", label: "Defaults" },
  { id: "instructions", label: "Instructions" },
  { id: "files", label: "Files" },
] as const;
type TabId = (typeof TABS)[number]["id"];

export default function ProjectPage() {
  const { id } = useParams<{ id: string }>();
  const router = useRouter();
  const { saved: savedInList, removed, choose } = useProjects();
  const [project, setProject] = useState<ProjectView | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [tab, setTab] = useState<TabId>("sessions");
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);

  useEffect(() => {
    let alive = true;
    setProject(null);
    setProblem(null);
    getProject(id)
      .then((p) => alive && setProject(p))
      .catch((e) => {
        if (!alive) return;
        if (e instanceof ApiError && e.routeMissing) setProblem("Projects are not available on this server yet.");
        else if (e instanceof ApiError && (e.code === "not_found" || e.code === "invalid_path")) setProblem("This project does not exist.");
        else setProblem(readableError(e));
      });
    return () => {
      alive = false;
    };
  }, [id]);

  // The switcher's list follows what this page saves.
  useEffect(() => {
    if (project) savedInList(project);
  }, [project, savedInList]);

  useEffect(() => {
    const sync = () => setTab((t) => TABS.find((x) => `#${x.id}` === window.location.hash)?.id ?? t);
    sync();
    window.addEventListener("hashchange", sync);
    return () => window.removeEventListener("hashchange", sync);
  }, []);

  const chooseTab = (t: TabId) => {
    setTab(t);
    window.history.replaceState(null, "", `#${t}`);
  };
  const setFiles = (update: (files: AttachmentView[]) => AttachmentView[]) => setProject((p) => p && { ...p, files: update(p.files) });

  if (problem) {
    return (
      <div className="page">
        <p>
          <Link href="/projects">← Projects</Link>
        </p>
        <div className="banner error" role="alert">
          {problem}
        </div>
      </div>
    );
  }
  if (!project) return <p className="muted pad">Loading…</p>;

  return (
    <div className="page project" data-project={project.id}>
      <p className="small">
        <Link href="/projects">← Projects</Link>
      </p>
      <div className="page-head">
        <h1 data-testid="project-name">{project.name}</h1>
        <span className="spacer" />
        <Link href={newTaskHref(project.id)} className="button primary" onClick={() => choose(project.id)} data-testid="project-new-task">
          New task here
        </Link>
        <button className="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
          {editing ? "Close" : "Rename"}
        </button>
        <button className="button danger" onClick={() => setDeleting((d) => !d)} aria-expanded={deleting}>
          Delete…
        </button>
      </div>
      {project.description && !editing && <p className="project-description">{project.description}</p>}
      <p className="muted small">
        {project.session_count} session{project.session_count === 1 ? "" : "s"} · created {new Date(project.created_at).toLocaleDateString()}
      </p>
      {editing && (
        <DetailsForm
          project={project}
          onSaved={(p) => {
            setProject(p);
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      )}
      {deleting && (
        <DeletePanel
          project={project}
          onDeleted={() => {
            removed(project.id);
            router.push("/projects");
          }}
          onCancel={() => setDeleting(false)}
        />
      )}
      <div className="tabs cap-tabs" role="tablist" aria-label="Project sections">
        {TABS.map((t) => (
          <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? "active" : ""} onClick={() => chooseTab(t.id)}>
            {t.label}
            {t.id === "files" && project.files.length > 0 ? ` (${project.files.length})` : ""}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={TABS.find((t) => t.id === tab)!.label}>
        {tab === "sessions" && <ProjectSessions projectId={project.id} onStart={() => choose(project.id)} />}
        {tab === "defaults" && <ProjectDefaultsForm project={project} onSaved={setProject} />}
        {tab === "instructions" && <ProjectInstructions project={project} onSaved={setProject} />}
        {tab === "files" && <ProjectFiles project={project} onChanged={setFiles} />}
      </div>
    </div>
  );
}

function DetailsForm({ project, onSaved, onCancel }: { project: ProjectView; onSaved: (p: ProjectView) => void; onCancel: () => void }) {
  const [name, setName] = useState(project.name);
  const [description, setDescription] = useState(project.description);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = projectNameProblem(name);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      onSaved(await updateProject(project.id, { name: name.trim(), description: description.trim() }));
    } catch (err) {
      setError(readableError(err));
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label="Project name and description">
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={MAX_PROJECT_NAME_CHARS} autoFocus />
      </label>
      <label>
        Description
        <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={MAX_PROJECT_DESCRIPTION_CHARS} />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? "Saving…" : "Save"}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Deleting: a confirmation; when the server says the project still has sessions, a second one
 * that deletes them with it. */
function DeletePanel({ project, onDeleted, onCancel }: { project: ProjectView; onDeleted: () => void; onCancel: () => void }) {
  const [cascade, setCascade] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await deleteProject(project.id, cascade);
      onDeleted();
    } catch (e) {
      if (!cascade && needsCascade(e)) setCascade(true);
      else setError(readableError(e));
      setBusy(false);
    }
  };

  return (
    <div className="cap-form delete-panel" role="group" aria-label="Delete the project" data-testid="delete-project">
      {cascade ? (
        <p>
          <strong>{project.name}</strong> still has sessions
          {project.session_count > 0 ? ` (${project.session_count})` : ""}. Delete them with the project? Their conversations and files go too.
        </p>
      ) : (
        <p>
          Delete the project <strong>{project.name}</strong> with its defaults, instructions and files?
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button danger" onClick={() => void run()} disabled={busy}>
          {busy ? "Deleting…" : cascade ? "Delete the project and its sessions" : "Delete the project"}
        </button>
        <button className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
