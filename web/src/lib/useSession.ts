"use client";
// A session's runs and events, kept current: the REST history first, then the WebSocket from the
// last event held; while the socket is down, the REST API is polled so the page keeps moving. An
// input request opening or closing re-reads the session (its pending count) and hands it to the
// session list; when the server counts fewer waiting requests than the log shows (some closed
// without an event, e.g. a run re-queued after its worker was lost), their states are read too.
// The session itself (its runs) is a query (`queryKeys.sessions.detail(id)`): a page opened again
// shows what the cache holds at once, and the session list's announcements reach it there.
import { useQuery } from "@tanstack/react-query";
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import type { Event, EventsPage, InputRequestList, SessionDetail } from "@/generated/protocol";
import { api } from "./api";
import { emptyLog, reduceLog, resumeAfter } from "./events";
import { closedByServer, pendingCount, type CardStatus } from "./inputRequests";
import { liveConnection, type LiveState } from "./live";
import { STALE } from "./query/client";
import { queryKeys } from "./query/keys";
import { useReadableError } from "./useReadableError";

const POLL_MS = 3000;

export function useSession(id: string) {
  const readableError = useReadableError();
  const [error, setError] = useState<string | null>(null);
  const [log, dispatch] = useReducer(reduceLog, emptyLog);
  const logRef = useRef(log);
  logRef.current = log;
  const [live, setLive] = useState<LiveState>("connecting");
  const fetching = useRef(false);
  const [closed, setClosed] = useState<ReadonlyMap<string, CardStatus>>(new Map());

  /** Each read of the session: the list hears of it, and the closed-without-event check. */
  const afterRead = (d: SessionDetail) => {
    setError(null);
    const { runs: _runs, ...view } = d;
    liveConnection().publishSession(view);
    // The server counts fewer waiting requests than the log shows: some were closed without an
    // event (a run re-queued after its worker was lost). Ask which.
    const ended = new Set(d.runs.filter((r) => ["completed", "failed", "canceled"].includes(r.status)).map((r) => r.id));
    if (d.pending_inputs >= pendingCount(logRef.current.events, ended)) return;
    api<InputRequestList>(`/sessions/${id}/input-requests`)
      .then((list) => setClosed(closedByServer(list.requests)))
      .catch((e) => setError(readableError(e)));
  };

  // Without the socket, the session is polled (and its events, below).
  const query = useQuery({
    queryKey: queryKeys.sessions.detail(id),
    queryFn: async ({ signal }) => {
      const d = await api<SessionDetail>(`/sessions/${id}`, { signal });
      afterRead(d);
      return d;
    },
    staleTime: STALE.live,
    // A page opened again shows the cached session at once and re-reads it (its runs moved on).
    refetchOnMount: "always",
    refetchInterval: live === "open" ? false : POLL_MS,
  });
  const detail = query.data ?? null;
  const { refetch } = query;
  const loadDetail = useCallback(async () => {
    await refetch();
  }, [refetch]);

  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  /** Re-reads the session soon (several triggers in a row make one request). */
  const refreshSoon = useCallback(() => {
    if (refreshTimer.current) clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => void loadDetail(), 150);
  }, [loadDetail]);

  /** Adds events; a request opening or closing re-reads the session (its pending count). */
  const addEvents = useCallback(
    (events: Event[]) => {
      logRef.current = reduceLog(logRef.current, { type: "add", events });
      dispatch({ type: "add", events });
      if (events.some((e) => e.type === "input_request" || e.type === "input_answer")) refreshSoon();
    },
    [refreshSoon],
  );

  /** Reads stored events after what is held, page by page. */
  const catchUp = useCallback(async () => {
    if (fetching.current) return;
    fetching.current = true;
    try {
      for (;;) {
        const after = resumeAfter(logRef.current);
        const page = await api<EventsPage>(`/sessions/${id}/events?after=${after}&limit=1000`);
        if (page.events.length) addEvents(page.events);
        if (!page.has_more) break;
      }
    } catch (e) {
      setError(readableError(e));
    } finally {
      fetching.current = false;
    }
  }, [id, addEvents]);

  useEffect(() => {
    dispatch({ type: "reset" });
    logRef.current = emptyLog;
    setClosed(new Map());
    setError(null);
    const conn = liveConnection();
    const offState = conn.onState(setLive);
    const offSessions = conn.onSessions(({ updated, local }) => {
      if (local || updated?.id !== id) return;
      // Statuses, usage and exports live on the runs: re-read them (coalesced).
      refreshSoon();
    });
    // History over REST first (one request per 1,000 events), then the socket from there.
    let offSub: (() => void) | null = null;
    let alive = true;
    void catchUp().then(() => {
      if (!alive) return;
      offSub = conn.subscribe(id, {
        after: () => resumeAfter(logRef.current),
        onEvents: addEvents,
        onError: (message) => setError(message),
      });
    });
    return () => {
      alive = false;
      offState();
      offSessions();
      offSub?.();
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
    };
  }, [id, loadDetail, catchUp, refreshSoon, addEvents]);

  // A gap (an event beyond the contiguous point) is filled from the table.
  useEffect(() => {
    const last = log.events.length ? log.events[log.events.length - 1]!.seq : 0;
    if (last > log.contiguous) void catchUp();
  }, [log, catchUp]);

  // Without the socket, poll the events (the session polls itself: `refetchInterval`).
  useEffect(() => {
    if (live === "open") return;
    const t = setInterval(() => void catchUp(), POLL_MS);
    return () => clearInterval(t);
  }, [live, catchUp]);

  const detailError = query.error ? readableError(query.error) : null;
  return { detail, log, error: error ?? detailError, live, reload: loadDetail, setError, closed };
}
