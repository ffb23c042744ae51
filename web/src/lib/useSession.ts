"use client";
// A session's runs and events, kept current: the REST history first, then the WebSocket from the
// last event held; while the socket is down, the REST API is polled so the page keeps moving.
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import type { EventsPage, SessionDetail } from "@/generated/protocol";
import { api, readableError } from "./api";
import { emptyLog, reduceLog, resumeAfter } from "./events";
import { liveConnection, type LiveState } from "./live";

const POLL_MS = 3000;

export function useSession(id: string) {
  const [detail, setDetail] = useState<SessionDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [log, dispatch] = useReducer(reduceLog, emptyLog);
  const logRef = useRef(log);
  logRef.current = log;
  const [live, setLive] = useState<LiveState>("connecting");
  const fetching = useRef(false);

  const loadDetail = useCallback(async () => {
    try {
      setDetail(await api<SessionDetail>(`/sessions/${id}`));
      setError(null);
    } catch (e) {
      setError(readableError(e));
    }
  }, [id]);

  /** Reads stored events after what is held, page by page. */
  const catchUp = useCallback(async () => {
    if (fetching.current) return;
    fetching.current = true;
    try {
      for (;;) {
        const after = resumeAfter(logRef.current);
        const page = await api<EventsPage>(`/sessions/${id}/events?after=${after}&limit=1000`);
        if (page.events.length) {
          logRef.current = reduceLog(logRef.current, { type: "add", events: page.events });
          dispatch({ type: "add", events: page.events });
        }
        if (!page.has_more) break;
      }
    } catch (e) {
      setError(readableError(e));
    } finally {
      fetching.current = false;
    }
  }, [id]);

  useEffect(() => {
    dispatch({ type: "reset" });
    logRef.current = emptyLog;
    setDetail(null);
    void loadDetail();
    const conn = liveConnection();
    let refreshTimer: ReturnType<typeof setTimeout> | null = null;
    const offState = conn.onState(setLive);
    const offSessions = conn.onSessions(({ updated }) => {
      if (updated?.id !== id) return;
      // Statuses, usage and exports live on the runs: re-read them (coalesced).
      if (refreshTimer) clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => void loadDetail(), 150);
    });
    // History over REST first (one request per 1,000 events), then the socket from there.
    let offSub: (() => void) | null = null;
    let alive = true;
    void catchUp().then(() => {
      if (!alive) return;
      offSub = conn.subscribe(id, {
        after: () => resumeAfter(logRef.current),
        onEvents: (events) => {
          logRef.current = reduceLog(logRef.current, { type: "add", events });
          dispatch({ type: "add", events });
        },
        onError: (message) => setError(message),
      });
    });
    return () => {
      alive = false;
      offState();
      offSessions();
      offSub?.();
      if (refreshTimer) clearTimeout(refreshTimer);
    };
  }, [id, loadDetail, catchUp]);

  // A gap (an event beyond the contiguous point) is filled from the table.
  useEffect(() => {
    const last = log.events.length ? log.events[log.events.length - 1]!.seq : 0;
    if (last > log.contiguous) void catchUp();
  }, [log, catchUp]);

  // Without the socket, poll.
  useEffect(() => {
    if (live === "open") return;
    const t = setInterval(() => {
      void catchUp();
      void loadDetail();
    }, POLL_MS);
    return () => clearInterval(t);
  }, [live, catchUp, loadDetail]);

  return { detail, log, error, live, reload: loadDetail, setError };
}
