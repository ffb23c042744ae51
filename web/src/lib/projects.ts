// The user's projects over the public API (`/projects`) and the rules the switcher, the project
// page and the composer share: the chosen project (per tab, or from the address), which sessions
// a filtered list shows, and the defaults form.
import type {
  AttachmentView,
  CreateProjectRequest,
  PermissionMode,
  ProjectDefaults,
  ProjectList,
  ProjectView,
  SessionList,
  SessionView,
  UpdateProjectRequest,
} from "@/generated/protocol";
import { english, type Translate } from "@/i18n/translate";
import enProjects from "../../messages/en/projects.json";
import { api, ApiError } from "./api";

const ENGLISH = english({ projects: enProjects });

export const MAX_PROJECT_NAME_CHARS = 100;
export const MAX_PROJECT_DESCRIPTION_CHARS = 2000;

export async function listProjects(): Promise<ProjectView[]> {
  return (await api<ProjectList>("/projects")).projects;
}

export function getProject(id: string): Promise<ProjectView> {
  return api<ProjectView>(`/projects/${encodeURIComponent(id)}`);
}

/** `POST /projects` (201; `409 name_taken`). */
export function createProject(request: CreateProjectRequest): Promise<ProjectView> {
  return api<ProjectView>("/projects", { method: "POST", json: request });
}

/** `PATCH /projects/{id}`: each field given replaces the stored one (`defaults` whole). */
export function updateProject(id: string, request: Partial<UpdateProjectRequest>): Promise<ProjectView> {
  const body: UpdateProjectRequest = { name: null, description: null, defaults: null, instructions: null, ...request };
  return api<ProjectView>(`/projects/${encodeURIComponent(id)}`, { method: "PATCH", json: body });
}

/** `DELETE /projects/{id}`: `409 project_not_empty` while it has sessions, unless `cascade`
 * (which deletes them too). */
export function deleteProject(id: string, cascade = false): Promise<void> {
  return api<void>(`/projects/${encodeURIComponent(id)}${cascade ? "?cascade=true" : ""}`, { method: "DELETE" });
}

/** A refusal that only deleting the project's sessions too would get past. */
export function needsCascade(e: unknown): boolean {
  return e instanceof ApiError && e.code === "project_not_empty";
}

/** `POST /projects/{id}/files` (multipart `file`, like attachments). */
export function uploadProjectFile(id: string, file: File): Promise<AttachmentView> {
  const form = new FormData();
  form.append("file", file, file.name);
  return api<AttachmentView>(`/projects/${encodeURIComponent(id)}/files`, { method: "POST", body: form });
}

export function deleteProjectFile(id: string, fileId: string): Promise<void> {
  return api<void>(`/projects/${encodeURIComponent(id)}/files/${encodeURIComponent(fileId)}`, { method: "DELETE" });
}

/** The path of a page of sessions, newest first: all of them, or one project's. */
export function sessionsPath(projectId: string | null, cursor?: string | null, limit = 50): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (projectId) q.set("project_id", projectId);
  if (cursor) q.set("cursor", cursor);
  return `/sessions?${q}`;
}

export function listSessions(projectId: string | null, cursor?: string | null): Promise<SessionList> {
  return api<SessionList>(sessionsPath(projectId, cursor));
}

/** Whether a list filtered to `projectId` (`null`: all sessions) shows this session. */
export function inFilter(session: Pick<SessionView, "project_id">, projectId: string | null): boolean {
  return projectId === null || session.project_id === projectId;
}

/** Why a project name would be refused, or `null`; `t`: `useTranslations()`, else English. */
export function projectNameProblem(name: string, t: Translate = ENGLISH): string | null {
  if (!name.trim()) return t("projects.rules.name");
  if ([...name.trim()].length > MAX_PROJECT_NAME_CHARS) return t("projects.rules.nameLength", { max: MAX_PROJECT_NAME_CHARS });
  return null;
}

/** The list with `project` in place (or added), by name as the server lists them. */
export function withProject(list: ProjectView[], project: ProjectView): ProjectView[] {
  return [...list.filter((p) => p.id !== project.id), project].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

// ---------------------------------------------------------------------------------------------
// The chosen project: per tab (sessionStorage), or named by the address (`/?project={id}`)
// ---------------------------------------------------------------------------------------------

export const CHOSEN_PROJECT_KEY = "workcell.project";

/** The project the address names: an id, `null` for `?project=` or `?project=all` (all
 * sessions), `undefined` when it names none. */
export function projectFromSearch(search: string): string | null | undefined {
  const q = new URLSearchParams(search);
  if (!q.has("project")) return undefined;
  const id = q.get("project")!.trim();
  return id === "" || id === "all" ? null : id;
}

/** The tab's chosen project when the page opens: the address's, else the tab's own. */
export function initialChosenProject(search: string, storage: Pick<Storage, "getItem"> | null): string | null {
  const fromAddress = projectFromSearch(search);
  if (fromAddress !== undefined) return fromAddress;
  try {
    return storage?.getItem(CHOSEN_PROJECT_KEY) || null;
  } catch {
    return null; // storage disabled: the choice lasts for this page
  }
}

export function storeChosenProject(storage: Pick<Storage, "setItem" | "removeItem"> | null, id: string | null): void {
  try {
    if (id) storage?.setItem(CHOSEN_PROJECT_KEY, id);
    else storage?.removeItem(CHOSEN_PROJECT_KEY);
  } catch {
    // storage disabled: the choice lasts for this page
  }
}

/** The chosen project once the projects are known: a project the user no longer has (deleted,
 * or a stale or foreign address) falls back to all sessions. */
export function reconcileChosen(id: string | null, projects: ProjectView[] | null): string | null {
  if (id === null || projects === null) return id;
  return projects.some((p) => p.id === id) ? id : null;
}

/** Where a new task in this project (or none) is written. */
export function newTaskHref(projectId: string | null): string {
  return projectId ? `/?project=${encodeURIComponent(projectId)}` : "/";
}

// ---------------------------------------------------------------------------------------------
// The defaults form
// ---------------------------------------------------------------------------------------------

/** The defaults as a form holds them: text fields, `""` for "not set". */
export interface DefaultsForm {
  model: string;
  presetId: string;
  mode: PermissionMode | "";
  gitUrl: string;
  gitBranch: string;
  tokenSecret: string;
}

export function defaultsToForm(d: ProjectDefaults): DefaultsForm {
  return {
    model: d.model ?? "",
    presetId: d.preset_id ?? "",
    mode: d.permission_mode ?? "",
    gitUrl: d.git?.url ?? "",
    gitBranch: d.git?.branch ?? "",
    tokenSecret: d.git?.token_secret ?? "",
  };
}

/** The defaults to save: blanks are "not set"; a branch or token without a repository is dropped. */
export function formToDefaults(f: DefaultsForm): ProjectDefaults {
  const text = (v: string) => v.trim() || null;
  const url = text(f.gitUrl);
  return {
    model: text(f.model),
    preset_id: text(f.presetId),
    permission_mode: f.mode || null,
    git: url ? { url, branch: text(f.gitBranch), token_secret: text(f.tokenSecret) } : null,
  };
}

/** A project's defaults in a line ("Model: … · Mode: … · Repository: …"), empty when none. */
export function defaultsSummary(d: ProjectDefaults, words: { mode: (m: PermissionMode) => string; preset: (id: string) => string }): string {
  return [
    d.model && `Model: ${d.model}`,
    d.preset_id && `Preset: ${words.preset(d.preset_id)}`,
    d.permission_mode && `Mode: ${words.mode(d.permission_mode)}`,
    d.git && `Repository: ${d.git.url}${d.git.branch ? ` (${d.git.branch})` : ""}${d.git.token_secret ? ` with ${d.git.token_secret}` : ""}`,
  ]
    .filter(Boolean)
    .join(" · ");
}
