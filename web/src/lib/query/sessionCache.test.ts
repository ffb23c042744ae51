import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import type { SessionDetail, SessionView } from "@/generated/protocol";
import { queryKeys, sessionFilter } from "./keys";
import {
  applySessionEverywhere,
  findSession,
  flattenPages,
  matchesFilter,
  mergeIntoDetail,
  newestFirst,
  patchSessionEverywhere,
  removeFromPages,
  removeSessionEverywhere,
  sameView,
  upsertInPages,
  type SessionPages,
} from "./sessionCache";

function session(id: string, minute: number, extra: Partial<SessionView> = {}): SessionView {
  return {
    id,
    title: `Session ${id}`,
    status: "completed",
    config: { model: "m" },
    created_at: `2025-01-01T00:${String(minute).padStart(2, "0")}:00Z`,
    updated_at: `2025-01-01T00:${String(minute).padStart(2, "0")}:00Z`,
    pending_inputs: 0,
    queued_runs: 0,
    project_id: null,
    pinned: false,
    running_since: null,
    ...extra,
  };
}

/** Pages of sessions (each inner array one page; the last has a cursor when `more`). */
function pages(lists: SessionView[][], more = false): SessionPages {
  return {
    pages: lists.map((sessions, i) => ({ sessions, next_cursor: i < lists.length - 1 || more ? `c${i}` : null })),
    pageParams: lists.map((_, i) => (i === 0 ? null : `c${i - 1}`)),
  };
}

const ids = (d: SessionPages) => d.pages.map((p) => p.sessions.map((s) => s.id));
const all = sessionFilter();

describe("session list transforms", () => {
  const a = session("a", 50);
  const b = session("b", 40);
  const c = session("c", 30);
  const d = session("d", 20);

  it("orders newest first, ties by id", () => {
    expect([c, a, b].sort(newestFirst).map((s) => s.id)).toEqual(["a", "b", "c"]);
    const x = session("x", 10);
    const y = session("y", 10);
    expect([x, y].sort(newestFirst).map((s) => s.id)).toEqual(["y", "x"]);
  });

  it("matches the project, status and pinned filters", () => {
    const s = session("s", 1, { project_id: "p1", status: "running", pinned: true });
    expect(matchesFilter(s, all)).toBe(true);
    expect(matchesFilter(s, sessionFilter({ projectId: "p1" }))).toBe(true);
    expect(matchesFilter(s, sessionFilter({ projectId: "p2" }))).toBe(false);
    expect(matchesFilter(s, sessionFilter({ status: "running" }))).toBe(true);
    expect(matchesFilter(s, sessionFilter({ status: "failed" }))).toBe(false);
    expect(matchesFilter(s, sessionFilter({ pinned: true }))).toBe(true);
    expect(matchesFilter(s, sessionFilter({ pinned: false }))).toBe(false);
    expect(matchesFilter({ ...s, pinned: false }, sessionFilter({ pinned: false }))).toBe(true);
  });

  it("flattens pages once per session", () => {
    expect(flattenPages(undefined)).toEqual([]);
    expect(flattenPages(pages([[a, b], [b, c]])).map((s) => s.id)).toEqual(["a", "b", "c"]);
  });

  it("replaces a session where it stands", () => {
    const data = pages([[a, b], [c]]);
    const renamed = { ...b, title: "new" };
    const next = upsertInPages(data, renamed, all);
    expect(ids(next)).toEqual([["a", "b"], ["c"]]);
    expect(next.pages[0]!.sessions[1]!.title).toBe("new");
    // The untouched page is the same object.
    expect(next.pages[1]).toBe(data.pages[1]);
  });

  it("returns the same object when nothing changes", () => {
    const data = pages([[a, b]]);
    expect(upsertInPages(data, a, all)).toBe(data);
    expect(removeFromPages(data, "zzz")).toBe(data);
    expect(upsertInPages(data, session("p", 1, { project_id: "p1" }), sessionFilter({ projectId: "p2" }))).toBe(data);
  });

  it("inserts a new session in order, on the page that covers it", () => {
    const fresh = session("n", 59);
    expect(ids(upsertInPages(pages([[a, b], [c]]), fresh, all))).toEqual([["n", "a", "b"], ["c"]]);
    const between = session("m", 35);
    expect(ids(upsertInPages(pages([[a, b], [c]]), between, all))).toEqual([["a", "b"], ["m", "c"]]);
  });

  it("leaves an older session for the page that brings it, unless the list is complete", () => {
    const old = session("o", 1);
    const data = pages([[a, b]], true);
    expect(upsertInPages(data, old, all)).toBe(data);
    expect(ids(upsertInPages(pages([[a, b]]), old, all))).toEqual([["a", "b", "o"]]);
  });

  it("takes out a session the filter no longer shows", () => {
    const data = pages([[a, b, c]]);
    const failed = { ...b, status: "failed" as const };
    expect(ids(upsertInPages(data, failed, sessionFilter({ status: "completed" })))).toEqual([["a", "c"]]);
    expect(ids(upsertInPages(data, failed, all))).toEqual([["a", "b", "c"]]);
  });

  it("removes a session from whichever page holds it", () => {
    expect(ids(removeFromPages(pages([[a, b], [c, d]]), "c"))).toEqual([["a", "b"], ["d"]]);
  });

  it("does nothing to an empty cache entry", () => {
    const empty: SessionPages = { pages: [], pageParams: [] };
    expect(upsertInPages(empty, a, all)).toBe(empty);
  });
});

describe("session details", () => {
  const detail: SessionDetail = { ...session("a", 1), runs: [] };

  it("takes an announcement's fields and keeps the runs", () => {
    const next = mergeIntoDetail(detail, { ...session("a", 1), status: "running" });
    expect(next?.status).toBe("running");
    expect(next?.runs).toBe(detail.runs);
  });

  it("is the same object when the announcement says nothing new, or is another session's", () => {
    expect(mergeIntoDetail(detail, session("a", 1))).toBe(detail);
    expect(mergeIntoDetail(detail, session("b", 1, { status: "failed" }))).toBe(detail);
    expect(mergeIntoDetail(undefined, session("a", 1))).toBeUndefined();
  });

  it("compares config by value", () => {
    expect(sameView(session("a", 1, { config: { x: [1] } }), session("a", 1, { config: { x: [1] } }))).toBe(true);
    expect(sameView(session("a", 1, { config: { x: [1] } }), session("a", 1, { config: { x: [2] } }))).toBe(false);
  });
});

describe("the whole cache", () => {
  function client() {
    const qc = new QueryClient();
    const a = session("a", 50, { project_id: "p1" });
    const b = session("b", 40, { pinned: true });
    const c = session("c", 30, { status: "running", project_id: "p1" });
    qc.setQueryData(queryKeys.sessions.list({ pinned: false }), pages([[a, c]]));
    qc.setQueryData(queryKeys.sessions.list({ pinned: true }), pages([[b]]));
    qc.setQueryData(queryKeys.sessions.list({ projectId: "p1" }), pages([[a, c]]));
    qc.setQueryData(queryKeys.sessions.list({ status: "running" }), pages([[c]]));
    qc.setQueryData<SessionDetail>(queryKeys.sessions.detail("a"), { ...a, runs: [] });
    return { qc, a, b, c };
  }
  const listIds = (qc: QueryClient, f: Parameters<typeof queryKeys.sessions.list>[0]) =>
    flattenPages(qc.getQueryData<SessionPages>(queryKeys.sessions.list(f))).map((s) => s.id);

  it("finds a session in any list, else its detail", () => {
    const { qc } = client();
    expect(findSession(qc, "b")?.pinned).toBe(true);
    qc.setQueryData<SessionDetail>(queryKeys.sessions.detail("z"), { ...session("z", 1), runs: [] });
    expect(findSession(qc, "z")?.id).toBe("z");
    expect(findSession(qc, "nope")).toBeUndefined();
  });

  it("pinning moves a session from the others to the pinned list, and rolling back moves it back", () => {
    const { qc } = client();
    const before = patchSessionEverywhere(qc, "a", { pinned: true });
    expect(before?.pinned).toBe(false);
    expect(listIds(qc, { pinned: true })).toEqual(["a", "b"]);
    expect(listIds(qc, { pinned: false })).toEqual(["c"]);
    expect(listIds(qc, { projectId: "p1" })).toEqual(["a", "c"]);
    expect(qc.getQueryData<SessionDetail>(queryKeys.sessions.detail("a"))?.pinned).toBe(true);

    patchSessionEverywhere(qc, "a", { pinned: false });
    expect(listIds(qc, { pinned: true })).toEqual(["b"]);
    expect(listIds(qc, { pinned: false })).toEqual(["a", "c"]);
  });

  it("a rename's rollback puts back only the title: a status announced meanwhile stays", () => {
    const { qc, c } = client();
    patchSessionEverywhere(qc, "c", { title: "optimistic" });
    applySessionEverywhere(qc, { ...c, title: "optimistic", status: "completed", running_since: null });
    patchSessionEverywhere(qc, "c", { title: c.title });
    const now = findSession(qc, "c");
    expect(now?.title).toBe(c.title);
    expect(now?.status).toBe("completed");
    // No longer running: out of the running filter.
    expect(listIds(qc, { status: "running" })).toEqual([]);
  });

  it("a delete takes the session out of every list, and its rollback puts it back in order", () => {
    const { qc, a } = client();
    removeSessionEverywhere(qc, "a");
    expect(listIds(qc, { pinned: false })).toEqual(["c"]);
    expect(listIds(qc, { projectId: "p1" })).toEqual(["c"]);
    applySessionEverywhere(qc, a);
    expect(listIds(qc, { pinned: false })).toEqual(["a", "c"]);
    expect(listIds(qc, { projectId: "p1" })).toEqual(["a", "c"]);
    expect(listIds(qc, { pinned: true })).toEqual(["b"]);
  });

  it("a page's own re-read can leave the detail alone", () => {
    const { qc, a } = client();
    const detail = qc.getQueryData(queryKeys.sessions.detail("a"));
    applySessionEverywhere(qc, { ...a, title: "listed" }, { detail: false });
    expect(qc.getQueryData(queryKeys.sessions.detail("a"))).toBe(detail);
    expect(findSession(qc, "a")?.title).toBe("listed");
  });

  it("does not touch a detail whose announcement says nothing new", () => {
    const { qc, a } = client();
    const state = qc.getQueryState(queryKeys.sessions.detail("a"));
    applySessionEverywhere(qc, a);
    expect(qc.getQueryState(queryKeys.sessions.detail("a"))?.dataUpdatedAt).toBe(state?.dataUpdatedAt);
  });
});
