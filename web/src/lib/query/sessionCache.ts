// The session lists and details in the query cache, changed in place: by the server's
// announcements over the live connection, by what a session's page re-reads, and optimistically
// by a rename, pin or delete (put back when the server refuses). The transforms are pure (one
// cached value in, a new one out, the same object when nothing changes); the `…Everywhere`
// functions apply them to every cached list and detail.
import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import type { SessionDetail, SessionList, SessionView } from "@/generated/protocol";
import { filterOfKey, queryKeys, type SessionFilter } from "./keys";

/** An infinite session list as the cache holds it: its pages and their cursors. */
export type SessionPages = InfiniteData<SessionList, string | null>;

/** The server's order: newest first, ties by id (descending). */
export function newestFirst(a: Pick<SessionView, "created_at" | "id">, b: Pick<SessionView, "created_at" | "id">): number {
  return b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id);
}

/** Whether a list with this filter shows the session. */
export function matchesFilter(s: Pick<SessionView, "project_id" | "status" | "pinned">, f: SessionFilter): boolean {
  if (f.projectId !== null && s.project_id !== f.projectId) return false;
  if (f.status !== null && s.status !== f.status) return false;
  if (f.pinned !== null && Boolean(s.pinned) !== f.pinned) return false;
  return true;
}

/** Every session of the loaded pages, once each, in order. */
export function flattenPages(data: SessionPages | undefined): SessionView[] {
  if (!data) return [];
  const seen = new Set<string>();
  const out: SessionView[] = [];
  for (const page of data.pages) {
    for (const s of page.sessions) {
      if (seen.has(s.id)) continue;
      seen.add(s.id);
      out.push(s);
    }
  }
  return out;
}

export function findInPages(data: SessionPages | undefined, id: string): SessionView | undefined {
  for (const page of data?.pages ?? []) {
    const s = page.sessions.find((x) => x.id === id);
    if (s) return s;
  }
  return undefined;
}

function withPage(data: SessionPages, index: number, sessions: SessionView[]): SessionPages {
  return { ...data, pages: data.pages.map((p, i) => (i === index ? { ...p, sessions } : p)) };
}

/** The list without the session (the same object when it was not there). */
export function removeFromPages(data: SessionPages, id: string): SessionPages {
  if (!findInPages(data, id)) return data;
  return { ...data, pages: data.pages.map((p) => (p.sessions.some((s) => s.id === id) ? { ...p, sessions: p.sessions.filter((s) => s.id !== id) } : p)) };
}

/**
 * The list with the session as it is now: replaced where it stands, inserted in order when the
 * filter now takes it, removed when the filter no longer does. A session older than everything
 * loaded is left for the page that will bring it (unless the list is complete).
 */
export function upsertInPages(data: SessionPages, session: SessionView, filter: SessionFilter): SessionPages {
  if (!matchesFilter(session, filter)) return removeFromPages(data, session.id);
  for (let i = 0; i < data.pages.length; i++) {
    const page = data.pages[i]!;
    const at = page.sessions.findIndex((s) => s.id === session.id);
    if (at >= 0) {
      if (page.sessions[at] === session) return data;
      return withPage(data, i, page.sessions.map((s, j) => (j === at ? session : s)));
    }
  }
  if (data.pages.length === 0) return data;
  for (let i = 0; i < data.pages.length; i++) {
    const page = data.pages[i]!;
    const at = page.sessions.findIndex((s) => newestFirst(session, s) < 0);
    if (at >= 0) return withPage(data, i, [...page.sessions.slice(0, at), session, ...page.sessions.slice(at)]);
  }
  const last = data.pages.length - 1;
  if (data.pages[last]!.next_cursor !== null) return data;
  return withPage(data, last, [...data.pages[last]!.sessions, session]);
}

/** Whether two copies of a session say the same (`config` is compared by value). */
export function sameView(a: SessionView, b: SessionView): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof SessionView>;
  for (const k of keys) {
    if (k === "config" ? JSON.stringify(a.config) !== JSON.stringify(b.config) : a[k] !== b[k]) return false;
  }
  return true;
}

/** A session's detail with the list fields of an announcement (its runs stay); the same object
 * when nothing changes. */
export function mergeIntoDetail(detail: SessionDetail | undefined, view: SessionView): SessionDetail | undefined {
  if (!detail || detail.id !== view.id) return detail;
  const { runs, ...current } = detail;
  if (sameView(current, view)) return detail;
  return { ...detail, ...view, runs };
}

// ---------------------------------------------------------------------------------------------
// The whole cache
// ---------------------------------------------------------------------------------------------

/** Every cached session list with its filter. */
function cachedLists(qc: QueryClient): [readonly unknown[], SessionPages, SessionFilter][] {
  const out: [readonly unknown[], SessionPages, SessionFilter][] = [];
  for (const [key, data] of qc.getQueriesData<SessionPages>({ queryKey: queryKeys.sessions.lists() })) {
    const filter = filterOfKey(key);
    if (data && filter) out.push([key, data, filter]);
  }
  return out;
}

/** The session as the cache holds it now (a list's copy, else the detail's). */
export function findSession(qc: QueryClient, id: string): SessionView | undefined {
  for (const [, data] of cachedLists(qc)) {
    const s = findInPages(data, id);
    if (s) return s;
  }
  const d = qc.getQueryData<SessionDetail>(queryKeys.sessions.detail(id));
  if (!d) return undefined;
  const { runs: _runs, ...view } = d;
  return view;
}

/** Puts the session as it is now into every cached list (in, out or in place by each list's
 * filter) and, unless told not to, into its detail. */
export function applySessionEverywhere(qc: QueryClient, session: SessionView, { detail = true }: { detail?: boolean } = {}): void {
  for (const [key, data, filter] of cachedLists(qc)) {
    const next = upsertInPages(data, session, filter);
    if (next !== data) qc.setQueryData(key, next);
  }
  if (!detail) return;
  const key = queryKeys.sessions.detail(session.id);
  const current = qc.getQueryData<SessionDetail>(key);
  const next = mergeIntoDetail(current, session);
  if (next !== current) qc.setQueryData(key, next);
}

/** Takes the session out of every cached list (its detail is dropped by the caller when it is
 * gone for good). */
export function removeSessionEverywhere(qc: QueryClient, id: string): void {
  for (const [key, data] of cachedLists(qc)) {
    const next = removeFromPages(data, id);
    if (next !== data) qc.setQueryData(key, next);
  }
}

/** Changes some fields of the session wherever the cache has it now (lists re-filter it), and
 * returns what it was; `undefined` when the cache does not hold it. */
export function patchSessionEverywhere(qc: QueryClient, id: string, patch: Partial<SessionView>): SessionView | undefined {
  const current = findSession(qc, id);
  if (current) applySessionEverywhere(qc, { ...current, ...patch });
  return current;
}
