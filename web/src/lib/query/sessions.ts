"use client";
// The session lists as queries: a page at a time (`GET /sessions?cursor=&limit=`, with the
// project, status and pinned filters), kept current from the live connection, and the
// optimistic rename, pin and delete (each put back, with a message, when the server refuses).
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import type { SessionList, SessionView, UpdateSessionRequest } from "@/generated/protocol";
import { api } from "../api";
import { liveConnection } from "../live";
import { STALE } from "./client";
import { queryKeys, sessionFilter, type SessionFilter } from "./keys";
import { applySessionEverywhere, findSession, patchSessionEverywhere, removeSessionEverywhere, type SessionPages } from "./sessionCache";

/** Sessions per page of the list. */
export const SESSION_PAGE = 50;
/** The pinned sessions come in one page of up to this many (the API's largest). */
export const PINNED_PAGE = 200;

/** The path of one page of a filtered list. */
export function sessionListPath(filter: Partial<SessionFilter>, cursor: string | null, limit = SESSION_PAGE): string {
  const f = sessionFilter(filter);
  const q = new URLSearchParams({ limit: String(limit) });
  if (f.projectId) q.set("project_id", f.projectId);
  if (f.status) q.set("status", f.status);
  if (f.pinned !== null) q.set("pinned", String(f.pinned));
  if (cursor) q.set("cursor", cursor);
  return `/sessions?${q}`;
}

/** A session list, newest first, a page at a time (`fetchNextPage` for the next). */
export function useSessionList(filter: Partial<SessionFilter>, { enabled = true }: { enabled?: boolean } = {}) {
  const f = sessionFilter(filter);
  const limit = f.pinned === true ? PINNED_PAGE : SESSION_PAGE;
  return useInfiniteQuery<SessionList, Error, SessionPages, ReturnType<typeof queryKeys.sessions.list>, string | null>({
    queryKey: queryKeys.sessions.list(f),
    queryFn: ({ pageParam, signal }) => api<SessionList>(sessionListPath(f, pageParam, limit), { signal }),
    initialPageParam: null,
    getNextPageParam: (last) => last.next_cursor,
    staleTime: STALE.sessions,
    enabled,
  });
}

/**
 * Keeps every cached session list and detail current from the live connection: a session that
 * changed goes in, out or stays in place by each list's filter, a deleted one goes; after the
 * socket was down (announcements may have been missed), the lists are read again. Mount once.
 */
export function useLiveSessionSync(enabled: boolean): void {
  const qc = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    const conn = liveConnection();
    const offSessions = conn.onSessions(({ updated, deleted, local }) => {
      if (deleted) removeSessionEverywhere(qc, deleted);
      // A session a page re-read (`local`) is already that page's detail: only the lists take it.
      else if (updated) applySessionEverywhere(qc, updated, { detail: !local });
    });
    let seenOpen = false;
    let open = false;
    const offState = conn.onState((s) => {
      if (s === "open" && seenOpen && !open) void qc.invalidateQueries({ queryKey: queryKeys.sessions.lists() });
      open = s === "open";
      if (open) seenOpen = true;
    });
    return () => {
      offSessions();
      offState();
    };
  }, [enabled, qc]);
}

export type SessionAction = "rename" | "pin" | "unpin" | "delete";

/**
 * Rename, pin/unpin and delete, each shown at once everywhere the cache holds the session and
 * put back if the server refuses (`onFailed` then says so). The server's answer replaces the
 * optimistic copy.
 */
export function useSessionMutations(onFailed: (action: SessionAction, session: SessionView, error: unknown) => void) {
  const qc = useQueryClient();
  // A list read already under way would answer with the session as it was: stop it (the lists
  // that hold something; one still loading its first page is left to finish).
  const stopReads = () => qc.cancelQueries({ queryKey: queryKeys.sessions.lists(), predicate: (q) => q.state.data !== undefined });

  const rename = useMutation({
    mutationFn: ({ session, title }: { session: SessionView; title: string }) =>
      api<SessionView>(`/sessions/${session.id}`, { method: "PATCH", json: { title } satisfies UpdateSessionRequest }),
    onMutate: async ({ session, title }) => {
      await stopReads();
      patchSessionEverywhere(qc, session.id, { title });
    },
    onError: (e, { session }) => {
      // Only the title goes back: anything announced meanwhile (a status) stays.
      if (findSession(qc, session.id)) patchSessionEverywhere(qc, session.id, { title: session.title });
      onFailed("rename", session, e);
    },
    onSuccess: (saved) => applySessionEverywhere(qc, saved),
  });

  const pin = useMutation({
    mutationFn: ({ session, pinned }: { session: SessionView; pinned: boolean }) =>
      api<SessionView>(`/sessions/${session.id}`, { method: "PATCH", json: { pinned } satisfies UpdateSessionRequest }),
    onMutate: async ({ session, pinned }) => {
      await stopReads();
      // It moves between the pinned list and the others.
      if (!patchSessionEverywhere(qc, session.id, { pinned })) applySessionEverywhere(qc, { ...session, pinned });
    },
    onError: (e, { session, pinned }) => {
      if (findSession(qc, session.id)) patchSessionEverywhere(qc, session.id, { pinned: session.pinned });
      onFailed(pinned ? "pin" : "unpin", session, e);
    },
    onSuccess: (saved) => applySessionEverywhere(qc, saved),
  });

  const remove = useMutation({
    mutationFn: ({ session }: { session: SessionView }) => api<void>(`/sessions/${session.id}`, { method: "DELETE" }),
    onMutate: async ({ session }) => {
      await stopReads();
      const before = findSession(qc, session.id) ?? session;
      removeSessionEverywhere(qc, session.id);
      return { before };
    },
    onError: (e, { session }, context) => {
      applySessionEverywhere(qc, context?.before ?? session);
      onFailed("delete", session, e);
    },
    onSuccess: (_none, { session }) => qc.removeQueries({ queryKey: queryKeys.sessions.detail(session.id) }),
  });

  return { rename, pin, remove };
}
