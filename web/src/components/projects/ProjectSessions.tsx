"use client";
// A project's sessions, newest first (`GET /sessions?project_id=`), kept current by the server's
// session announcements like the sidebar's list.
import Link from "next/link";
import { useEffect, useState } from "react";
import type { SessionView } from "@/generated/protocol";
import { readableError } from "@/lib/api";
import { liveConnection } from "@/lib/live";
import { inFilter, listSessions, newTaskHref } from "@/lib/projects";
import { StatusBadge } from "../StatusBadge";

export function ProjectSessions({ projectId, onStart }: { projectId: string; onStart: () => void }) {
  const [sessions, setSessions] = useState<SessionView[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    listSessions(projectId)
      .then((page) => {
        if (!alive) return;
        setSessions(page.sessions);
        setCursor(page.next_cursor);
      })
      .catch((e) => alive && setError(readableError(e)));
    const off = liveConnection().onSessions(({ updated, deleted }) => {
      setSessions((list) => {
        if (list === null) return list;
        if (deleted) return list.filter((s) => s.id !== deleted);
        if (!updated || !inFilter(updated, projectId)) return list;
        return [...list.filter((s) => s.id !== updated.id), updated].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
      });
    });
    return () => {
      alive = false;
      off();
    };
  }, [projectId]);

  const more = async () => {
    if (!cursor) return;
    try {
      const page = await listSessions(projectId, cursor);
      setSessions((list) => [...(list ?? []), ...page.sessions.filter((s) => !list?.some((x) => x.id === s.id))]);
      setCursor(page.next_cursor);
    } catch (e) {
      setError(readableError(e));
    }
  };

  return (
    <section data-testid="project-sessions">
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {sessions === null ? (
        <p className="muted">Loading…</p>
      ) : sessions.length === 0 ? (
        <p className="muted">
          No sessions in this project yet.{" "}
          <Link href={newTaskHref(projectId)} onClick={onStart}>
            Start a task in it
          </Link>
          .
        </p>
      ) : (
        <ul className="cap-list">
          {sessions.map((s) => (
            <li key={s.id} data-session={s.id}>
              <div className="cap-row">
                <div className="cap-main">
                  <Link href={`/sessions/${s.id}`}>{s.title}</Link>
                  <div className="muted small">started {new Date(s.created_at).toLocaleString()}</div>
                </div>
                <div className="cap-actions">
                  {s.pending_inputs > 0 && <span className="badge badge-waiting">needs you</span>}
                  <StatusBadge status={s.status} />
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button className="link-button" onClick={() => void more()}>
          Show older
        </button>
      )}
    </section>
  );
}
