"use client";
// The navigation and the session list: pinned sessions on top, then the others newest first, a
// page at a time as the list scrolls (`useInfiniteQuery`, an IntersectionObserver at its end),
// each with its live status, the time a running one has been at it, and a mark on those waiting
// for an answer. Pin, rename (double-click or ✎: Enter saves, Escape cancels) and delete in place,
// optimistically (put back with a message when the server refuses). Filtered by status here and
// by the project chosen in the switcher above (new tasks go to it). Kept current in the query
// cache from the server's session announcements and what an open session's page re-reads.
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useFormatter, useNow, useTranslations } from "next-intl";
import { useCallback, useEffect, useRef, useState } from "react";
import type { MeResponse, SessionStatus, SessionView } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { elapsedSince, pad2 } from "@/lib/elapsed";
import { flattenPages } from "@/lib/query/sessionCache";
import { useReadableError } from "@/lib/useReadableError";
import { useLiveSessionSync, useSessionList, useSessionMutations, type SessionAction } from "@/lib/query/sessions";
import { ProjectSwitcher } from "./ProjectSwitcher";
import { useProjects } from "./ProjectsProvider";
import { StatusBadge } from "./StatusBadge";

/** Every session status, in the order the filter offers them (the compiler names a missing one). */
const STATUS_ORDER: Record<SessionStatus, number> = { running: 0, queued: 1, canceling: 2, idle: 3, completed: 4, failed: 5, canceled: 6 };
export const SESSION_STATUSES = (Object.keys(STATUS_ORDER) as SessionStatus[]).sort((a, b) => STATUS_ORDER[a] - STATUS_ORDER[b]);

function isStatus(v: string): v is SessionStatus {
  return v in STATUS_ORDER;
}

export function Sidebar({ me, onClose }: { me: MeResponse | null; onClose: () => void }) {
  const t = useTranslations("sessions");
  const readableError = useReadableError();
  const tUsage = useTranslations("usage");
  const pathname = usePathname();
  const router = useRouter();
  const { chosenId: projectId, missing: noProjects } = useProjects();
  const [status, setStatus] = useState<SessionStatus | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const signedIn = me !== null;

  useLiveSessionSync(signedIn);
  const pinnedList = useSessionList({ projectId, status, pinned: true }, { enabled: signedIn });
  const list = useSessionList({ projectId, status, pinned: false }, { enabled: signedIn });
  const pinned = flattenPages(pinnedList.data);
  const sessions = flattenPages(list.data).filter((s) => !s.pinned);

  const { fetchNextPage } = list;
  const loadMore = useCallback(() => void fetchNextPage({ cancelRefetch: false }), [fetchNextPage]);
  const { rename, pin, remove } = useSessionMutations((action: SessionAction, s: SessionView, e: unknown) =>
    setFailure(t(`failed.${action}`, { title: s.title, error: readableError(e) })),
  );

  const saveTitle = (s: SessionView, title: string | null) => {
    setEditing(null);
    const next = title?.trim();
    if (!next || next === s.title) return;
    setFailure(null);
    rename.mutate({ session: s, title: next });
  };
  const togglePin = (s: SessionView) => {
    setFailure(null);
    pin.mutate({ session: s, pinned: !s.pinned });
  };
  const del = (s: SessionView) => {
    if (!window.confirm(t("row.confirmDelete", { title: s.title }))) return;
    setFailure(null);
    const here = `/sessions/${s.id}`;
    remove
      .mutateAsync({ session: s })
      .then(() => {
        if (window.location.pathname === here) router.push("/");
      })
      // Put back and said in the list (`onFailed`).
      .catch(() => {});
  };

  const logout = async () => {
    try {
      await api<void>("/auth/logout", { method: "POST" });
    } finally {
      window.location.href = "/login";
    }
  };

  // A server that does not know the pinned filter yet (4xx) just shows no pinned section.
  const pinnedError = pinnedList.error && !(pinnedList.error instanceof ApiError && pinnedList.error.status < 500) ? pinnedList.error : null;
  const listError = list.error ?? pinnedError;
  const loaded = list.isSuccess && (pinnedList.isSuccess || pinnedList.isError);
  const row = (s: SessionView) => (
    <SessionRow
      key={s.id}
      session={s}
      active={pathname === `/sessions/${s.id}`}
      editing={editing === s.id}
      onEdit={() => setEditing(s.id)}
      onTitle={(title) => saveTitle(s, title)}
      onPin={() => togglePin(s)}
      onDelete={() => del(s)}
    />
  );

  const nav = (href: string, label: string, active: boolean) => (
    <Link href={href} className={`nav-link ${active ? "active" : ""}`}>
      {label}
    </Link>
  );

  return (
    <nav className="sidebar" aria-label={t("nav.label")}>
      <div className="sidebar-head">
        <Link href="/" className="button primary wide" onClick={onClose}>
          {t("nav.newTask")}
        </Link>
        {nav("/scheduled", t("nav.scheduled"), pathname.startsWith("/scheduled"))}
        {nav("/capabilities", t("nav.capabilities"), pathname.startsWith("/capabilities"))}
        {!noProjects && nav("/projects", t("nav.projects"), pathname === "/projects")}
        {nav("/secrets", t("nav.secrets"), pathname.startsWith("/secrets"))}
        {nav("/usage", tUsage("nav"), pathname.startsWith("/usage"))}
        {me && me.auth_mode !== "single_user" && nav("/account", t("nav.account"), pathname.startsWith("/account"))}
        {me && me.auth_mode !== "single_user" && me.user.role === "admin" && nav("/admin", t("nav.admin"), pathname.startsWith("/admin"))}
        <ProjectSwitcher onNavigate={onClose} />
        <select
          className="session-filter"
          value={status ?? ""}
          onChange={(e) => setStatus(isStatus(e.target.value) ? e.target.value : null)}
          aria-label={t("filter.status")}
          title={t("filter.statusHint")}
          data-testid="status-filter"
        >
          <option value="">{t("filter.allStatuses")}</option>
          {SESSION_STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(`status.${s}`)}
            </option>
          ))}
        </select>
      </div>
      {failure && (
        <p className="error small session-failure" role="alert">
          {failure}{" "}
          <button className="link-button" onClick={() => setFailure(null)}>
            {t("failed.dismiss")}
          </button>
        </p>
      )}
      {listError && (
        <p className="error small" role="alert">
          {readableError(listError)}
        </p>
      )}
      <SessionScroller
        hasMore={list.hasNextPage}
        loadingMore={list.isFetchingNextPage}
        canAutoLoad={!list.isFetchNextPageError}
        loadMore={loadMore}
      >
        {pinned.length > 0 && (
          <>
            <div className="session-section" id="pinned-sessions">
              {t("list.pinned")}
            </div>
            <ul className="session-list pinned" aria-labelledby="pinned-sessions" data-testid="pinned-sessions">
              {pinned.map(row)}
            </ul>
            {pinnedList.hasNextPage && (
              <div className="session-more">
                <button className="link-button" onClick={() => void pinnedList.fetchNextPage({ cancelRefetch: false })} disabled={pinnedList.isFetchingNextPage}>
                  {t("list.showOlder")}
                </button>
              </div>
            )}
            {sessions.length > 0 && <div className="session-section">{t("list.all")}</div>}
          </>
        )}
        <ul className="session-list" aria-label={t("nav.label")} data-testid="session-rows">
          {sessions.map(row)}
        </ul>
        {!loaded && signedIn && list.isPending && <p className="muted small session-empty">{t("list.loading")}</p>}
        {loaded && sessions.length === 0 && pinned.length === 0 && (
          <p className="muted small session-empty">
            {status ? t("list.emptyFiltered", { status: t(`status.${status}`) }) : projectId ? t("list.emptyProject") : t("list.empty")}
          </p>
        )}
      </SessionScroller>
      <div className="sidebar-foot">
        {me && me.auth_mode !== "single_user" && (
          <>
            <span className="muted small" title={me.user.email}>
              {me.user.email}
            </span>
            <button className="link-button" onClick={() => void logout()}>
              {t("nav.signOut")}
            </button>
          </>
        )}
      </div>
    </nav>
  );
}

/** The scrolling part of the list; reaching its end (or "Show older") reads the next page. */
function SessionScroller({
  hasMore,
  loadingMore,
  canAutoLoad,
  loadMore,
  children,
}: {
  hasMore: boolean;
  loadingMore: boolean;
  /** False after a failed page: the button retries, scrolling does not hammer the server. */
  canAutoLoad: boolean;
  loadMore: () => void;
  children: React.ReactNode;
}) {
  const t = useTranslations("sessions.list");
  const scroller = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const [atEnd, setAtEnd] = useState(false);

  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasMore || typeof IntersectionObserver === "undefined") return;
    // A list with no height (hidden) is never "at its end": it would read every page.
    const io = new IntersectionObserver((entries) => setAtEnd(entries.some((e) => e.isIntersecting) && (scroller.current?.clientHeight ?? 0) > 0), {
      root: scroller.current,
      rootMargin: "0px 0px 240px 0px",
    });
    io.observe(el);
    return () => {
      io.disconnect();
      setAtEnd(false);
    };
  }, [hasMore]);

  // Still at the end once a page arrived (a short page, a tall window): the next one.
  useEffect(() => {
    if (atEnd && hasMore && !loadingMore && canAutoLoad) loadMore();
  }, [atEnd, hasMore, loadingMore, canAutoLoad, loadMore]);

  return (
    <div className="session-scroll" ref={scroller} data-testid="session-list">
      {children}
      {hasMore && (
        <div ref={sentinel} className="session-more">
          <button className="link-button" onClick={loadMore} disabled={loadingMore}>
            {loadingMore ? t("loadingOlder") : t("showOlder")}
          </button>
        </div>
      )}
    </div>
  );
}

function SessionRow({
  session: s,
  active,
  editing,
  onEdit,
  onTitle,
  onPin,
  onDelete,
}: {
  session: SessionView;
  active: boolean;
  editing: boolean;
  onEdit: () => void;
  /** The new title, or `null` when the edit was canceled. */
  onTitle: (title: string | null) => void;
  onPin: () => void;
  onDelete: () => void;
}) {
  const t = useTranslations("sessions.row");
  return (
    <li className={active ? "active" : ""} data-session={s.id} data-pinned={s.pinned ? "true" : undefined}>
      {editing ? (
        <RenameForm title={s.title} onDone={onTitle} />
      ) : (
        <Link
          href={`/sessions/${s.id}`}
          className="session-link"
          title={t("titleHint", { title: s.title })}
          onDoubleClick={(e) => {
            e.preventDefault();
            onEdit();
          }}
        >
          <span className="session-title">{s.title}</span>
          {s.pending_inputs > 0 && (
            <span className="badge badge-waiting" data-testid="waiting-badge" title={t("waitingHint", { count: s.pending_inputs })}>
              {t("waiting", { count: s.pending_inputs })}
            </span>
          )}
          {s.running_since && <Elapsed since={s.running_since} />}
          <StatusBadge status={s.status} />
        </Link>
      )}
      <span className="row-actions">
        <button
          className={`icon-button small pin-button ${s.pinned ? "pinned" : ""}`}
          aria-label={t(s.pinned ? "unpin" : "pin", { title: s.title })}
          title={t(s.pinned ? "unpin" : "pin", { title: s.title })}
          onClick={onPin}
        >
          📌
        </button>
        <button className="icon-button small" aria-label={t("rename", { title: s.title })} onClick={onEdit}>
          ✎
        </button>
        <button className="icon-button small" aria-label={t("delete", { title: s.title })} onClick={onDelete}>
          ✕
        </button>
      </span>
    </li>
  );
}

/** The title in an input: Enter (or leaving the field) saves, Escape cancels. */
function RenameForm({ title, onDone }: { title: string; onDone: (title: string | null) => void }) {
  const t = useTranslations("sessions.row");
  const done = useRef(false);
  const finish = (value: string | null) => {
    if (done.current) return;
    done.current = true;
    onDone(value);
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const input = e.currentTarget.elements.namedItem("title") as HTMLInputElement;
        finish(input.value);
      }}
    >
      <input
        name="title"
        defaultValue={title}
        autoFocus
        onFocus={(e) => e.currentTarget.select()}
        aria-label={t("titleLabel")}
        maxLength={200}
        onBlur={(e) => finish(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            finish(null);
          }
        }}
      />
    </form>
  );
}

/** How long a session's run has been on a worker, ticking every second. */
function Elapsed({ since }: { since: string }) {
  const t = useTranslations("sessions.elapsed");
  const format = useFormatter();
  const now = useNow({ updateInterval: 1000 });
  const e = elapsedSince(since, now.getTime());
  if (!e) return null;
  const text =
    e.unit === "hours"
      ? t("hours", { hours: e.hours, minutes: pad2(e.minutes) })
      : e.unit === "minutes"
        ? t("minutes", { minutes: e.minutes, seconds: pad2(e.seconds) })
        : t("seconds", { seconds: e.seconds });
  return (
    <time className="elapsed muted small" dateTime={since} data-testid="elapsed" title={t("since", { time: format.dateTime(new Date(since), { dateStyle: "medium", timeStyle: "medium" }) })}>
      {text}
    </time>
  );
}
