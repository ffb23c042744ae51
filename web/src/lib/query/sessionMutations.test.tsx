// The optimistic session mutations against a real query cache: each shows at once, the server's
// answer replaces it, a refusal puts back what it changed (and only that) and reports it.
import { QueryClientProvider } from "@tanstack/react-query";
import { act, renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";
import type { SessionDetail, SessionView } from "@/generated/protocol";
import { apiError, mockFetch } from "@/test/fetch";
import { testQueryClient } from "@/test/render";
import { queryKeys } from "./keys";
import { findSession, flattenPages, type SessionPages } from "./sessionCache";
import { useSessionMutations } from "./sessions";

vi.mock("@/lib/live", () => ({ liveConnection: () => ({ onSessions: () => () => {}, onState: () => () => {} }) }));

function session(id: string, minute: number, extra: Partial<SessionView> = {}): SessionView {
  const at = `2026-01-01T00:${String(minute).padStart(2, "0")}:00Z`;
  return { id, title: `Title ${id}`, status: "completed", config: {}, created_at: at, updated_at: at, pending_inputs: 0, queued_runs: 0, project_id: null, pinned: false, running_since: null, ...extra };
}
const one = (sessions: SessionView[]): SessionPages => ({ pages: [{ sessions, next_cursor: null }], pageParams: [null] });

function setup(routes: Parameters<typeof mockFetch>[0]) {
  const qc = testQueryClient();
  const a = session("a", 30);
  const b = session("b", 20);
  qc.setQueryData(queryKeys.sessions.list({ pinned: false }), one([a, b]));
  qc.setQueryData(queryKeys.sessions.list({ pinned: true }), one([]));
  qc.setQueryData<SessionDetail>(queryKeys.sessions.detail("a"), { ...a, runs: [] });
  mockFetch(routes);
  const failed = vi.fn();
  const wrapper = ({ children }: { children: ReactNode }) => <QueryClientProvider client={qc}>{children}</QueryClientProvider>;
  const { result } = renderHook(() => useSessionMutations(failed), { wrapper });
  const ids = (pinned: boolean) => flattenPages(qc.getQueryData<SessionPages>(queryKeys.sessions.list({ pinned }))).map((s) => s.id);
  return { qc, a, b, result, failed, ids };
}

describe("optimistic session mutations", () => {
  it("a delete goes at once and comes back in place when refused", async () => {
    let refuse!: () => void;
    const { a, result, failed, ids } = setup({
      "DELETE /sessions/a": () => new Promise((resolve) => (refuse = () => resolve(apiError(409, "session_active", "the session is running")))),
    });
    act(() => result.current.remove.mutate({ session: a }));
    await waitFor(() => expect(ids(false)).toEqual(["b"]));
    await act(async () => refuse());
    await waitFor(() => expect(ids(false)).toEqual(["a", "b"]));
    expect(failed).toHaveBeenCalledWith("delete", a, expect.objectContaining({ status: 409 }));
  });

  it("a delete the server agrees with drops the session's detail too", async () => {
    const { qc, a, result, ids } = setup({ "DELETE /sessions/a": () => new Response(null, { status: 204 }) });
    await act(() => result.current.remove.mutateAsync({ session: a }));
    expect(ids(false)).toEqual(["b"]);
    expect(qc.getQueryData(queryKeys.sessions.detail("a"))).toBeUndefined();
  });

  it("a rename shows in the lists and the detail, and the server's answer replaces it", async () => {
    let answer!: () => void;
    const { qc, a, result } = setup({
      "PATCH /sessions/a": () => new Promise((resolve) => (answer = () => resolve({ ...session("a", 30), title: "Trimmed by the server" }))),
    });
    act(() => result.current.rename.mutate({ session: a, title: "New title " }));
    await waitFor(() => expect(qc.getQueryData<SessionDetail>(queryKeys.sessions.detail("a"))?.title).toBe("New title "));
    expect(findSession(qc, "a")?.title).toBe("New title ");
    await act(async () => answer());
    await waitFor(() => expect(findSession(qc, "a")?.title).toBe("Trimmed by the server"));
    expect(qc.getQueryData<SessionDetail>(queryKeys.sessions.detail("a"))?.title).toBe("Trimmed by the server");
  });

  it("an unpin refused puts the session back among the pinned", async () => {
    const { qc, result, failed, ids } = setup({ "PATCH /sessions/p": apiError(500, "internal", "boom") });
    const p = session("p", 40, { pinned: true });
    qc.setQueryData(queryKeys.sessions.list({ pinned: true }), one([p]));
    await act(() => result.current.pin.mutateAsync({ session: p, pinned: false }).catch(() => {}));
    expect(ids(true)).toEqual(["p"]);
    expect(ids(false)).toEqual(["a", "b"]);
    expect(failed).toHaveBeenCalledWith("unpin", p, expect.anything());
  });
});
