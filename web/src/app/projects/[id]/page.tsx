"use client";
// A project's page: its sessions, defaults, instructions and files (one tab each, kept in the
// address's hash), its name and description, a new task in it, and deleting it — which the
// server refuses while it has sessions (`409 project_not_empty`), so the confirmation then offers
// to delete them too.
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useFormatter, useTranslations } from "next-intl";
import type { AttachmentView, ProjectView } from "@/generated/protocol";
import { ApiError } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { STALE } from "@/lib/query/client";
import { queryKeys } from "@/lib/query/keys";
import { deleteProject, getProject, MAX_PROJECT_DESCRIPTION_CHARS, MAX_PROJECT_NAME_CHARS, needsCascade, newTaskHref, projectNameProblem, updateProject } from "@/lib/projects";
import { useProjects } from "@/components/ProjectsProvider";
import { ProjectDefaultsForm } from "@/components/projects/ProjectDefaultsForm";
import { ProjectFiles } from "@/components/projects/ProjectFiles";
import { ProjectInstructions } from "@/components/projects/ProjectInstructions";
import { ProjectSessions } from "@/components/projects/ProjectSessions";

/** The sections; their words are `projects.page.tabs.{id}`. */
const TABS = [{ id: "sessions" }, { id: "defaults" }, { id: "instructions" }, { id: "files" }] as const;
type TabId = (typeof TABS)[number]["id"];

export default function ProjectPage() {
  const { id } = useParams<{ id: string }>();
  const router = useRouter();
  const { saved: savedInList, removed, choose } = useProjects();
  const [tab, setTab] = useState<TabId>("sessions");
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const t = useTranslations("projects.page");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();

  // The project from the cache (at once when the projects list has it), read again when stale.
  const qc = useQueryClient();
  const key = queryKeys.projects.detail(id);
  const query = useQuery({
    queryKey: key,
    queryFn: () => getProject(id),
    staleTime: STALE.config,
    initialData: () => qc.getQueryData<ProjectView[]>(queryKeys.projects.list())?.find((p) => p.id === id),
    initialDataUpdatedAt: () => qc.getQueryState(queryKeys.projects.list())?.dataUpdatedAt,
  });
  const project = query.data ?? null;
  const failure = project ? null : query.error;
  const problem = !failure
    ? null
    : failure instanceof ApiError && failure.routeMissing
      ? tr("projects.missing")
      : failure instanceof ApiError && (failure.code === "not_found" || failure.code === "invalid_path")
        ? t("notFound")
        : readable(failure);
  const setProject = (p: ProjectView) => qc.setQueryData(key, p);

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
  const setFiles = (update: (files: AttachmentView[]) => AttachmentView[]) => qc.setQueryData<ProjectView>(key, (p) => p && { ...p, files: update(p.files) });

  if (problem) {
    return (
      <div className="page">
        <p>
          <Link href="/projects">{t("back")}</Link>
        </p>
        <div className="banner error" role="alert">
          {problem}
        </div>
      </div>
    );
  }
  if (!project) return <p className="muted pad">{tr("common.states.loading")}</p>;

  return (
    <div className="page project" data-project={project.id}>
      <p className="small">
        <Link href="/projects">{t("back")}</Link>
      </p>
      <div className="page-head">
        <h1 data-testid="project-name">{project.name}</h1>
        <span className="spacer" />
        <Link href={newTaskHref(project.id)} className="button primary" onClick={() => choose(project.id)} data-testid="project-new-task">
          {t("newTask")}
        </Link>
        <button className="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
          {editing ? tr("common.actions.close") : t("rename")}
        </button>
        <button className="button danger" onClick={() => setDeleting((d) => !d)} aria-expanded={deleting}>
          {t("delete")}
        </button>
      </div>
      {project.description && !editing && <p className="project-description">{project.description}</p>}
      <p className="muted small">
        {t("meta", { sessions: project.session_count, date: format.dateTime(new Date(project.created_at), { dateStyle: "medium" }) })}
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
      <div className="tabs cap-tabs" role="tablist" aria-label={t("sections")}>
        {TABS.map((x) => (
          <button key={x.id} role="tab" aria-selected={tab === x.id} className={tab === x.id ? "active" : ""} onClick={() => chooseTab(x.id)}>
            {x.id === "files" && project.files.length > 0 ? t("tabCount", { label: t(`tabs.${x.id}`), count: project.files.length }) : t(`tabs.${x.id}`)}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-label={t(`tabs.${tab}`)}>
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
  const t = useTranslations("projects");
  const tr = useTranslations();
  const readable = useReadableError();

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const problem = projectNameProblem(name, tr);
    if (problem) return setError(problem);
    setSaving(true);
    setError(null);
    try {
      onSaved(await updateProject(project.id, { name: name.trim(), description: description.trim() }));
    } catch (err) {
      setError(readable(err));
      setSaving(false);
    }
  };

  return (
    <form className="cap-form" onSubmit={(e) => void submit(e)} aria-label={t("details.formLabel")}>
      <label>
        {t("newForm.name")}
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={MAX_PROJECT_NAME_CHARS} autoFocus />
      </label>
      <label>
        {t("newForm.description")}
        <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} maxLength={MAX_PROJECT_DESCRIPTION_CHARS} />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button primary" type="submit" disabled={saving}>
          {saving ? tr("common.actions.saving") : tr("common.actions.save")}
        </button>
        <button className="button" type="button" onClick={onCancel}>
          {tr("common.actions.cancel")}
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
  const t = useTranslations("projects.delete");
  const tr = useTranslations();
  const readable = useReadableError();

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await deleteProject(project.id, cascade);
      onDeleted();
    } catch (e) {
      if (!cascade && needsCascade(e)) setCascade(true);
      else setError(readable(e));
      setBusy(false);
    }
  };

  return (
    <div className="cap-form delete-panel" role="group" aria-label={t("label")} data-testid="delete-project">
      {cascade ? (
        <p>{t.rich("cascade", { name: project.name, count: project.session_count, strong: (chunks) => <strong>{chunks}</strong> })}</p>
      ) : (
        <p>{t.rich("confirm", { name: project.name, strong: (chunks) => <strong>{chunks}</strong> })}</p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button className="button danger" onClick={() => void run()} disabled={busy}>
          {busy ? tr("common.actions.deleting") : cascade ? t("withSessions") : t("submit")}
        </button>
        <button className="button" onClick={onCancel}>
          {tr("common.actions.cancel")}
        </button>
      </div>
    </div>
  );
}
