"use client";
// The user's projects and the tab's chosen one, for the sidebar's switcher (which filters the
// session list), the composer (a new task goes to the chosen project) and the project pages. The
// choice is kept per tab (sessionStorage); an address naming one (`/?project={id}`) chooses it,
// and on the home page the address follows the choice. A server without projects
// (`route_not_found`) hides them: `missing`, and nothing is ever chosen.
import { createContext, Suspense, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { usePathname, useSearchParams } from "next/navigation";
import type { ProjectView } from "@/generated/protocol";
import { ApiError, readableError } from "@/lib/api";
import { initialChosenProject, listProjects, newTaskHref, projectFromSearch, reconcileChosen, storeChosenProject, withProject } from "@/lib/projects";

export interface ProjectsState {
  /** By name; `null` until loaded (and on a server without projects). */
  projects: ProjectView[] | null;
  missing: boolean;
  error: string | null;
  chosenId: string | null;
  chosen: ProjectView | null;
  /** Chooses a project (`null`: all sessions) for this tab. */
  choose: (id: string | null) => void;
  reload: () => Promise<void>;
  /** A project created or changed on a page. */
  saved: (project: ProjectView) => void;
  /** A project deleted on a page. */
  removed: (id: string) => void;
  /** Changes when sessions may have gone with a project (a list re-reads then). */
  sessionsVersion: number;
}

const ProjectsContext = createContext<ProjectsState>({
  projects: null,
  missing: true,
  error: null,
  chosenId: null,
  chosen: null,
  choose: () => {},
  reload: async () => {},
  saved: () => {},
  removed: () => {},
  sessionsVersion: 0,
});

export const useProjects = () => useContext(ProjectsContext);

function tabStorage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function ProjectsProvider({ enabled, children }: { enabled: boolean; children: React.ReactNode }) {
  const [projects, setProjects] = useState<ProjectView[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [chosenId, setChosenId] = useState<string | null>(null);
  const [sessionsVersion, setSessionsVersion] = useState(0);
  const pathname = usePathname();

  const choose = useCallback(
    (id: string | null) => {
      setChosenId(id);
      storeChosenProject(tabStorage(), id);
      // The home page's address names the choice, so a reload or a copied link keeps it.
      if (pathname === "/" && projectFromSearch(window.location.search) !== id) window.history.replaceState(null, "", newTaskHref(id));
    },
    [pathname],
  );

  const reload = useCallback(async () => {
    try {
      setProjects(await listProjects());
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.routeMissing) setMissing(true);
      else setError(readableError(e));
    }
  }, []);

  // The tab's choice (or the address's) once the page runs in the browser.
  useEffect(() => {
    setChosenId(initialChosenProject(window.location.search, tabStorage()));
  }, []);

  useEffect(() => {
    if (enabled) void reload();
  }, [enabled, reload]);

  // A project that is gone (deleted, another user's, a stale link) falls back to all sessions.
  useEffect(() => {
    if (missing) {
      if (chosenId !== null) setChosenId(null);
      return;
    }
    const next = reconcileChosen(chosenId, projects);
    if (next !== chosenId) choose(next);
  }, [missing, projects, chosenId, choose]);

  const saved = useCallback((p: ProjectView) => setProjects((l) => withProject(l ?? [], p)), []);
  const removed = useCallback(
    (id: string) => {
      setProjects((l) => (l ?? []).filter((p) => p.id !== id));
      // Its sessions may have gone with it.
      setSessionsVersion((v) => v + 1);
      if (chosenId === id) choose(null);
    },
    [chosenId, choose],
  );

  const value = useMemo<ProjectsState>(
    () => ({
      projects: missing ? null : projects,
      missing,
      error,
      chosenId: missing ? null : chosenId,
      chosen: (!missing && projects?.find((p) => p.id === chosenId)) || null,
      choose,
      reload,
      saved,
      removed,
      sessionsVersion,
    }),
    [projects, missing, error, chosenId, choose, reload, saved, removed, sessionsVersion],
  );

  return (
    <ProjectsContext.Provider value={value}>
      <Suspense fallback={null}>
        <AddressChoice choose={choose} />
      </Suspense>
      {children}
    </ProjectsContext.Provider>
  );
}

/** Chooses the project an address names when the address changes (a "New task here" link). */
function AddressChoice({ choose }: { choose: (id: string | null) => void }) {
  const params = useSearchParams();
  const named = projectFromSearch(`?${params.toString()}`);
  // `choose` changes with the path; only a new address should choose again.
  const latest = useRef(choose);
  useEffect(() => {
    latest.current = choose;
  }, [choose]);
  useEffect(() => {
    if (named !== undefined) latest.current(named);
  }, [named]);
  return null;
}
