"use client";
// The user's projects and the tab's chosen one, for the sidebar's switcher (which filters the
// session list), the composer (a new task goes to the chosen project) and the project pages. The
// choice is kept per tab (sessionStorage); an address naming one (`/?project={id}`) chooses it,
// and on the home page the address follows the choice. A server without projects
// (`route_not_found`) hides them: `missing`, and nothing is ever chosen. The list itself lives in
// the query cache (`queryKeys.projects.list()`).
import { createContext, Suspense, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { usePathname, useSearchParams } from "next/navigation";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import type { ProjectView } from "@/generated/protocol";
import { ApiError } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { STALE } from "@/lib/query/client";
import { queryKeys } from "@/lib/query/keys";
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
  const qc = useQueryClient();
  const readableError = useReadableError();
  const query = useQuery({ queryKey: queryKeys.projects.list(), queryFn: listProjects, enabled, staleTime: STALE.config });
  const projects = query.data ?? null;
  const missing = query.error instanceof ApiError && query.error.routeMissing;
  const error = query.error && !missing ? readableError(query.error) : null;
  const [chosenId, setChosenId] = useState<string | null>(null);
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

  const refetch = query.refetch;
  const reload = useCallback(async () => {
    await refetch();
  }, [refetch]);

  // The tab's choice (or the address's) once the page runs in the browser.
  useEffect(() => {
    setChosenId(initialChosenProject(window.location.search, tabStorage()));
  }, []);

  // A project that is gone (deleted, another user's, a stale link) falls back to all sessions.
  useEffect(() => {
    if (missing) {
      if (chosenId !== null) setChosenId(null);
      return;
    }
    const next = reconcileChosen(chosenId, projects);
    if (next !== chosenId) choose(next);
  }, [missing, projects, chosenId, choose]);

  const saved = useCallback(
    (p: ProjectView) => {
      qc.setQueryData<ProjectView[]>(queryKeys.projects.list(), (l) => withProject(l ?? [], p));
      qc.setQueryData(queryKeys.projects.detail(p.id), p);
    },
    [qc],
  );
  const removed = useCallback(
    (id: string) => {
      qc.setQueryData<ProjectView[]>(queryKeys.projects.list(), (l) => (l ?? []).filter((p) => p.id !== id));
      qc.removeQueries({ queryKey: queryKeys.projects.detail(id) });
      // Its sessions may have gone with it.
      void qc.invalidateQueries({ queryKey: queryKeys.sessions.lists() });
      if (chosenId === id) choose(null);
    },
    [chosenId, choose, qc],
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
    }),
    [projects, missing, error, chosenId, choose, reload, saved, removed],
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
