"use client";
// The search dialog (Ctrl/Cmd+K, or the top bar's button): what the reader types is sent to
// `GET /search` once they pause (150 ms; a request a newer one replaces is aborted), limited to
// the chosen project unless they widen it. Hits show their session, where the text is from, the
// snippet with the matching words marked, and when; ↑/↓ move, Enter opens the session at the hit,
// Escape closes, Tab stays inside the dialog.
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import { useFormatter, useTranslations } from "next-intl";
import { useRouter } from "next/navigation";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { createPortal } from "react-dom";
import type { SearchHit, SearchResults } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { useProjects } from "../ProjectsProvider";
import { splitHighlights } from "./highlight";
import { hitHref, searchPath } from "./hits";
import "./search.css";

const PAGE = 20;
const DEBOUNCE_MS = 150;
/** The server's `MAX_QUERY_CHARS`. */
const MAX_QUERY = 200;

/** `value`, once it has not changed for `ms`. */
function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

export function SearchDialog({ onClose }: { onClose: () => void }) {
  const t = useTranslations("search.dialog");
  const tKind = useTranslations("search.kind");
  const format = useFormatter();
  const readable = useReadableError();
  const router = useRouter();
  const { chosen } = useProjects();
  const [text, setText] = useState("");
  const [inProject, setInProject] = useState(true);
  const [active, setActive] = useState(0);
  const dialog = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const ids = useId();
  const listId = `${ids}-hits`;
  const optionId = (i: number) => `${ids}-hit-${i}`;

  const q = useDebounced(text.trim(), DEBOUNCE_MS);
  const projectId = inProject && chosen ? chosen.id : null;
  const results = useInfiniteQuery({
    queryKey: ["search", { q, projectId }],
    // The signal aborts a request the next keystroke made stale.
    queryFn: ({ pageParam, signal }) => api<SearchResults>(searchPath(q, projectId, PAGE, pageParam), { signal }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    enabled: q.length > 0,
    staleTime: 30_000,
    retry: false,
    placeholderData: keepPreviousData,
  });
  const hits = useMemo<SearchHit[]>(() => (q ? (results.data?.pages.flatMap((p) => p.hits) ?? []) : []), [q, results.data]);
  const typing = text.trim() !== q;
  const missing = results.error instanceof ApiError && results.error.routeMissing;

  // A new query starts at its first hit.
  useEffect(() => setActive(0), [q, projectId]);
  useEffect(() => {
    if (active >= hits.length && hits.length > 0) setActive(hits.length - 1);
  }, [active, hits.length]);
  useEffect(() => {
    document.getElementById(`${ids}-hit-${active}`)?.scrollIntoView({ block: "nearest" });
  }, [ids, active]);

  // Focus moves into the dialog, and back to where it was when the dialog closes.
  useEffect(() => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    input.current?.focus();
    return () => before?.focus();
  }, []);

  const open = (hit: SearchHit, newTab = false) => {
    const href = hitHref(hit);
    if (newTab) {
      window.open(href, "_blank", "noopener");
      return;
    }
    onClose();
    router.push(href);
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    switch (e.key) {
      case "Escape":
        e.preventDefault();
        e.stopPropagation();
        onClose();
        return;
      case "ArrowDown":
        if (hits.length) {
          e.preventDefault();
          setActive((a) => (a + 1) % hits.length);
        }
        return;
      case "ArrowUp":
        if (hits.length) {
          e.preventDefault();
          setActive((a) => (a - 1 + hits.length) % hits.length);
        }
        return;
      case "Enter": {
        // Enter on a button (load more, the project toggle) is the button's.
        if (e.target !== input.current) return;
        const hit = hits[active];
        if (hit) {
          e.preventDefault();
          open(hit, e.ctrlKey || e.metaKey);
        }
        return;
      }
      case "Tab":
        trapTab(e);
        return;
    }
  };

  /** Tab and Shift+Tab cycle through the dialog's controls. */
  const trapTab = (e: React.KeyboardEvent) => {
    const root = dialog.current;
    if (!root) return;
    const focusable = [...root.querySelectorAll<HTMLElement>("input, button, a[href], [tabindex]:not([tabindex='-1'])")].filter(
      (el) => !el.hasAttribute("disabled") && !el.closest("[hidden]"),
    );
    if (focusable.length === 0) return;
    const first = focusable[0]!;
    const last = focusable[focusable.length - 1]!;
    if (e.shiftKey && (document.activeElement === first || !root.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  let status: string;
  if (!q) status = t("hint");
  else if (missing) status = t("unavailable");
  else if (results.isError) status = readable(results.error);
  else if (results.isPending || (typing && hits.length === 0)) status = t("searching");
  else if (hits.length === 0) status = t("none", { query: q });
  else status = results.hasNextPage ? t("countMore", { count: hits.length }) : t("count", { count: hits.length });

  const dialogNode = (
    <div className="search-scrim" onMouseDown={onClose}>
      <div
        ref={dialog}
        className="search-dialog"
        role="dialog"
        aria-modal="true"
        aria-label={t("label")}
        data-testid="search-dialog"
        onKeyDown={onKeyDown}
        onMouseDown={(e) => e.stopPropagation()}
      >
        <div className="search-bar">
          <span className="search-icon" aria-hidden>
            ⌕
          </span>
          <input
            ref={input}
            type="text"
            enterKeyHint="search"
            role="combobox"
            aria-label={t("label")}
            aria-expanded={hits.length > 0}
            aria-controls={listId}
            aria-autocomplete="list"
            aria-activedescendant={hits.length ? optionId(active) : undefined}
            placeholder={t("placeholder")}
            maxLength={MAX_QUERY}
            value={text}
            onChange={(e) => setText(e.target.value)}
            data-testid="search-input"
            autoComplete="off"
            spellCheck={false}
          />
          <button type="button" className="icon-button small" onClick={onClose} aria-label={t("close")}>
            Esc
          </button>
        </div>
        {chosen && (
          <label className="check search-scope small">
            <input type="checkbox" checked={inProject} onChange={(e) => setInProject(e.target.checked)} data-testid="search-in-project" />
            {t("inProject", { project: chosen.name })}
          </label>
        )}
        <ul id={listId} role="listbox" aria-label={t("results")} className={`search-hits ${typing || results.isPlaceholderData ? "stale" : ""}`} data-testid="search-hits">
          {hits.map((hit, i) => (
            <li
              key={`${hit.kind}-${hit.session_id}-${hit.run_id ?? ""}-${String(hit.seq ?? "")}-${i}`}
              id={optionId(i)}
              role="option"
              aria-selected={i === active}
              className={`search-hit ${i === active ? "active" : ""}`}
              data-kind={hit.kind}
              onMouseMove={() => i !== active && setActive(i)}
              onClick={(e) => open(hit, e.ctrlKey || e.metaKey)}
            >
              <div className="search-hit-head">
                <span className="search-hit-title">{hit.kind === "title" ? <Marked hit={hit} /> : hit.session_title}</span>
                <span className={`badge search-kind search-kind-${hit.kind}`}>{tKind(hit.kind)}</span>
                <time className="muted small nowrap" dateTime={hit.created_at}>
                  {format.dateTime(new Date(hit.created_at), { year: "numeric", month: "short", day: "numeric" })}
                </time>
              </div>
              {hit.kind !== "title" && (
                <div className={`search-snippet ${hit.kind === "file" ? "mono" : ""}`}>
                  <Marked hit={hit} />
                </div>
              )}
            </li>
          ))}
        </ul>
        <div className="search-foot">
          <span className="muted small" role="status" aria-live="polite" data-testid="search-status">
            {status}
          </span>
          <span className="spacer" />
          {q && results.hasNextPage && (
            <button type="button" className="button small" onClick={() => void results.fetchNextPage()} disabled={results.isFetchingNextPage} data-testid="search-more">
              {results.isFetchingNextPage ? t("loadingMore") : t("loadMore")}
            </button>
          )}
        </div>
        <p className="search-keys muted small" aria-hidden>
          {t("keys")}
        </p>
      </div>
    </div>
  );
  return createPortal(dialogNode, document.body);
}

/** The snippet with its matching stretches in `<mark>`s (text nodes only, never HTML). */
function Marked({ hit }: { hit: SearchHit }) {
  return (
    <>
      {splitHighlights(hit.snippet, hit.highlights).map((p, j) => (p.mark ? <mark key={j}>{p.text}</mark> : <span key={j}>{p.text}</span>))}
    </>
  );
}
