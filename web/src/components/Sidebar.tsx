"use client";
// Sessions newest first with their live status and a mark on those waiting for an answer; rename
// and delete in place. Kept current by the server's session announcements and by what an open
// session's page re-reads (`publishSession`). The project switcher above filters the list to the
// chosen project's sessions (and new tasks go to it).
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import type { MeResponse, SessionView } from "@/generated/protocol";
import { api, readableError } from "@/lib/api";
import { liveConnection } from "@/lib/live";
import { inFilter, listSessions } from "@/lib/projects";
import { ProjectSwitcher } from "./ProjectSwitcher";
import { useProjects } from "./ProjectsProvider";
import { StatusBadge } from "./StatusBadge";

export function Sidebar({ me, onClose }: { me: MeResponse | null; onClose: () => void }) {
  const [sessions, setSessions] = useState<SessionView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const pathname = usePathname();
  const router = useRouter();
  const { chosenId: projectId, missing: noProjects, sessionsVersion } = useProjects();

  useEffect(() => {
    if (!me) return;
    let alive = true;
    setSessions([]);
    setCursor(null);
    setLoaded(false);
    listSessions(projectId)
      .then((page) => {
        if (!alive) return;
        setSessions(page.sessions);
        setCursor(page.next_cursor);
        setError(null);
        setLoaded(true);
      })
      .catch((e) => alive && setError(readableError(e)));
    const off = liveConnection().onSessions(({ updated, deleted }) => {
      setSessions((list) => {
        if (deleted) return list.filter((s) => s.id !== deleted);
        if (!updated) return list;
        const rest = list.filter((s) => s.id !== updated.id);
        // Another project's session is not this list's (a session never changes project).
        if (!inFilter(updated, projectId)) return rest;
        return [...rest, updated].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
      });
    });
    return () => {
      alive = false;
      off();
    };
  }, [me, projectId, sessionsVersion]);

  const more = async () => {
    if (!cursor) return;
    try {
      const page = await listSessions(projectId, cursor);
      setSessions((list) => [...list, ...page.sessions.filter((s) => !list.some((x) => x.id === s.id))]);
      setCursor(page.next_cursor);
    } catch (e) {
      setError(readableError(e));
    }
  };

  const rename = async (s: SessionView, title: string) => {
    setEditing(null);
    if (!title.trim() || title === s.title) return;
    try {
      const updated = await api<SessionView>(`/sessions/${s.id}`, { method: "PATCH", json: { title } });
      setSessions((list) => list.map((x) => (x.id === s.id ? updated : x)));
    } catch (e) {
      setError(readableError(e));
    }
  };

  const remove = async (s: SessionView) => {
    if (!window.confirm(`Delete “${s.title}”? Its messages and files go too.`)) return;
    try {
      await api<void>(`/sessions/${s.id}`, { method: "DELETE" });
      setSessions((list) => list.filter((x) => x.id !== s.id));
      if (pathname === `/sessions/${s.id}`) router.push("/");
    } catch (e) {
      setError(readableError(e));
    }
  };

  const logout = async () => {
    try {
      await api<void>("/auth/logout", { method: "POST" });
    } finally {
      window.location.href = "/login";
    }
  };

  return (
    <nav className="sidebar" aria-label="Sessions">
      <div className="sidebar-head">
        <Link href="/" className="button primary wide" onClick={onClose}>
          + New task
        </Link>
        <Link href="/scheduled" className={`nav-link ${pathname.startsWith("/scheduled") ? "active" : ""}`}>
          Scheduled tasks
        </Link>
        <Link href="/capabilities" className={`nav-link ${pathname.startsWith("/capabilities") ? "active" : ""}`}>
          Capabilities
        </Link>
        {!noProjects && (
          <Link href="/projects" className={`nav-link ${pathname === "/projects" ? "active" : ""}`}>
            Projects
          </Link>
        )}
        <Link href="/secrets" className={`nav-link ${pathname.startsWith("/secrets") ? "active" : ""}`}>
          Secrets
        </Link>
        {me && me.auth_mode !== "single_user" && (
          <Link href="/account" className={`nav-link ${pathname.startsWith("/account") ? "active" : ""}`}>
            Account
          </Link>
        )}
        {me && me.auth_mode !== "single_user" && me.user.role === "admin" && (
          <Link href="/admin" className={`nav-link ${pathname.startsWith("/admin") ? "active" : ""}`}>
            Admin
          </Link>
        )}
        <ProjectSwitcher onNavigate={onClose} />
      </div>
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
      {loaded && sessions.length === 0 && <p className="muted small session-empty">{projectId ? "No sessions in this project yet." : "No sessions yet."}</p>}
      <ul className="session-list" data-testid="session-list">
        {sessions.map((s) => (
          <li key={s.id} className={pathname === `/sessions/${s.id}` ? "active" : ""}>
            {editing === s.id ? (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  const input = e.currentTarget.elements.namedItem("title") as HTMLInputElement;
                  void rename(s, input.value);
                }}
              >
                <input
                  name="title"
                  defaultValue={s.title}
                  autoFocus
                  aria-label="Session title"
                  maxLength={200}
                  onBlur={(e) => void rename(s, e.currentTarget.value)}
                  onKeyDown={(e) => e.key === "Escape" && setEditing(null)}
                />
              </form>
            ) : (
              <Link href={`/sessions/${s.id}`} className="session-link" title={s.title}>
                <span className="session-title">{s.title}</span>
                {s.pending_inputs > 0 && (
                  <span
                    className="badge badge-waiting"
                    data-testid="waiting-badge"
                    title={`${s.pending_inputs} request${s.pending_inputs === 1 ? "" : "s"} waiting for your answer`}
                  >
                    needs you{s.pending_inputs > 1 ? ` · ${s.pending_inputs}` : ""}
                  </span>
                )}
                <StatusBadge status={s.status} />
              </Link>
            )}
            <span className="row-actions">
              <button className="icon-button small" aria-label={`Rename ${s.title}`} onClick={() => setEditing(s.id)}>
                ✎
              </button>
              <button className="icon-button small" aria-label={`Delete ${s.title}`} onClick={() => void remove(s)}>
                ✕
              </button>
            </span>
          </li>
        ))}
      </ul>
      {cursor && (
        <button className="link-button" onClick={() => void more()}>
          Show older
        </button>
      )}
      <div className="sidebar-foot">
        {me && me.auth_mode !== "single_user" && (
          <>
            <span className="muted small" title={me.user.email}>
              {me.user.email}
            </span>
            <button className="link-button" onClick={() => void logout()}>
              Sign out
            </button>
          </>
        )}
      </div>
    </nav>
  );
}
