"use client";
// A project's sessions, newest first (`GET /sessions?project_id=`), a query kept current by the
// server's session announcements like the sidebar's list.
import Link from "next/link";
import { useFormatter, useTranslations } from "next-intl";
import { flattenPages } from "@/lib/query/sessionCache";
import { useSessionList } from "@/lib/query/sessions";
import { useReadableError } from "@/lib/useReadableError";
import { newTaskHref } from "@/lib/projects";
import { StatusBadge } from "../StatusBadge";

export function ProjectSessions({ projectId, onStart }: { projectId: string; onStart: () => void }) {
  // The cache's list of this project's sessions (every status, pinned or not), kept current from
  // the live connection by the sidebar's `useLiveSessionSync`.
  const list = useSessionList({ projectId });
  const sessions = list.data ? flattenPages(list.data) : null;
  const cursor = list.hasNextPage;
  const t = useTranslations("projects.sessions");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();
  const error = list.error ? readable(list.error) : null;
  const more = () => void list.fetchNextPage({ cancelRefetch: false });

  return (
    <section data-testid="project-sessions">
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {sessions === null ? (
        <p className="muted">{tr("common.states.loading")}</p>
      ) : sessions.length === 0 ? (
        <p className="muted">
          {t.rich("none", {
            link: (chunks) => (
              <Link href={newTaskHref(projectId)} onClick={onStart}>
                {chunks}
              </Link>
            ),
          })}
        </p>
      ) : (
        <ul className="cap-list">
          {sessions.map((s) => (
            <li key={s.id} data-session={s.id}>
              <div className="cap-row">
                <div className="cap-main">
                  <Link href={`/sessions/${s.id}`}>{s.title}</Link>
                  <div className="muted small">{t("started", { date: format.dateTime(new Date(s.created_at), { dateStyle: "medium", timeStyle: "short" }) })}</div>
                </div>
                <div className="cap-actions">
                  {s.pending_inputs > 0 && <span className="badge badge-waiting">{t("needsYou")}</span>}
                  <StatusBadge status={s.status} />
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button className="link-button" onClick={more} disabled={list.isFetchingNextPage}>
          {tr("common.actions.showOlder")}
        </button>
      )}
    </section>
  );
}
