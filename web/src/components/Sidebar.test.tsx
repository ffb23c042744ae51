// The session list in the sidebar: pinned sessions apart, the live status, the waiting mark and
// the running time, "Show older" for the next page, the status filter, and pin, rename and
// delete done at once and put back (with a message) when the server refuses; the server's
// announcements over the live connection (mocked here) keep it current.
import { act, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { MeResponse, SessionList, SessionView } from "@/generated/protocol";
import { apiError, mockFetch, type Call } from "@/test/fetch";
import { navigation } from "@/test/navigation";
import { renderWithProviders } from "@/test/render";
import { Sidebar } from "./Sidebar";

vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);

/** The live connection: the test announces sessions through `live.announce`. */
const live = vi.hoisted(() => {
  const listeners = new Set<(c: { updated?: unknown; deleted?: string; local?: boolean }) => void>();
  return {
    listeners,
    announce(change: { updated?: unknown; deleted?: string }) {
      for (const fn of listeners) fn(change);
    },
  };
});
vi.mock("@/lib/live", () => ({
  liveConnection: () => ({
    onSessions: (fn: (c: { updated?: unknown; deleted?: string; local?: boolean }) => void) => {
      live.listeners.add(fn);
      return () => live.listeners.delete(fn);
    },
    onState: (fn: (s: string) => void) => {
      fn("open");
      return () => {};
    },
    publishSession: () => {},
    subscribe: () => () => {},
  }),
}));

const ME: MeResponse = {
  user: { id: "u1", email: "ada@example.com", role: "member", created_at: "2026-01-01T00:00:00Z" },
  auth_mode: "password",
} as MeResponse;

let n = 0;
function session(title: string, over: Partial<SessionView> = {}): SessionView {
  n += 1;
  const created = `2026-01-15T${String(10 + Math.floor(n / 60)).padStart(2, "0")}:${String(n % 60).padStart(2, "0")}:00Z`;
  return {
    id: `s-${title.toLowerCase().replace(/\W+/g, "-")}`,
    title,
    status: "completed",
    config: {},
    created_at: created,
    updated_at: created,
    pending_inputs: 0,
    queued_runs: 0,
    project_id: null,
    pinned: false,
    running_since: null,
    ...over,
  } as SessionView;
}

/** `GET /sessions` by its `pinned` (and `status`, `cursor`) filter. */
function sessionsServer(
  { pinned = [], others = [], older = [] }: { pinned?: SessionView[]; others?: SessionView[]; older?: SessionView[] },
  extra: Record<string, unknown> = {},
) {
  return mockFetch({
    "GET /sessions": (call: Call): SessionList => {
      const q = new URLSearchParams(call.path.split("?")[1]);
      const status = q.get("status");
      const pick = (list: SessionView[]) => list.filter((s) => !status || s.status === status);
      if (q.get("pinned") === "true") return { sessions: pick(pinned), next_cursor: null };
      if (q.get("cursor") === "page-2") return { sessions: pick(older), next_cursor: null };
      return { sessions: pick(others), next_cursor: older.length ? "page-2" : null };
    },
    ...extra,
  });
}

const rows = () => screen.getByTestId("session-rows");
const titlesIn = (el: HTMLElement) => within(el).queryAllByRole("link").map((a) => a.querySelector(".session-title")?.textContent);

beforeEach(() => {
  navigation.reset();
  live.listeners.clear();
  n = 0;
});

describe("Sidebar session list", () => {
  it("shows pinned sessions apart, then the others in the server's order, each with its status and marks", async () => {
    const now = Date.now();
    const pinned = [session("Release notes", { pinned: true })];
    const others = [
      session("Fix the build", { status: "running", running_since: new Date(now - 75_000).toISOString() }),
      session("Pick a color", { status: "running", pending_inputs: 1 }),
      session("Old report"),
    ];
    sessionsServer({ pinned, others });
    renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Fix the build", "Pick a color", "Old report"]));
    const pinnedList = screen.getByTestId("pinned-sessions");
    expect(titlesIn(pinnedList)).toEqual(["Release notes"]);
    expect(screen.getByText("Pinned")).toBeTruthy();
    expect(pinnedList.querySelector("li")!.getAttribute("data-pinned")).toBe("true");

    const link = (title: string) => screen.getByRole("link", { name: new RegExp(title) });
    expect(link("Fix the build").getAttribute("href")).toBe("/sessions/s-fix-the-build");
    expect(link("Fix the build").querySelector("[data-status]")!.getAttribute("data-status")).toBe("running");
    // The running time: 1 minute and some seconds.
    expect(within(link("Fix the build")).getByTestId("elapsed").textContent).toMatch(/^1m \d\ds$/);
    expect(within(link("Pick a color")).getByTestId("waiting-badge").textContent).toBe("needs you");
    expect(within(link("Old report")).queryByTestId("waiting-badge")).toBeNull();
    expect(within(link("Old report")).queryByTestId("elapsed")).toBeNull();
  });

  it("marks the open session's row", async () => {
    navigation.pathname = "/sessions/s-old-report";
    sessionsServer({ others: [session("New one"), session("Old report")] });
    renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toHaveLength(2));
    const active = rows().querySelectorAll("li.active");
    expect(active).toHaveLength(1);
    expect(active[0]!.getAttribute("data-session")).toBe("s-old-report");
  });

  it("says when there are no sessions yet", async () => {
    sessionsServer({});
    renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await screen.findByText("No sessions yet.");
  });

  it("reads the next page with Show older", async () => {
    const { calls } = sessionsServer({ others: [session("Newest")], older: [session("Older"), session("Oldest")] });
    const { user } = renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Newest"]));
    await user.click(screen.getByRole("button", { name: "Show older" }));
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Newest", "Older", "Oldest"]));
    expect(screen.queryByRole("button", { name: "Show older" }), "no more pages").toBeNull();
    const cursors = calls.filter((c) => c.path.startsWith("/sessions?")).map((c) => new URLSearchParams(c.path.split("?")[1]).get("cursor"));
    expect(cursors).toContain("page-2");
  });

  it("filters by status", async () => {
    const { calls } = sessionsServer({ others: [session("Done"), session("Broken", { status: "failed" })] });
    const { user } = renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Done", "Broken"]));
    await user.selectOptions(screen.getByTestId("status-filter"), "failed");
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Broken"]));
    const asked = calls.filter((c) => c.path.startsWith("/sessions?")).map((c) => new URLSearchParams(c.path.split("?")[1]).get("status"));
    expect(asked).toContain("failed");
    await user.selectOptions(screen.getByTestId("status-filter"), "running");
    await screen.findByText("No sessions with the status “Running”.");
  });

  it("pins a session at once, and keeps it pinned when the server agrees", async () => {
    const s = session("Keep me");
    let release!: () => void;
    const { calls } = sessionsServer(
      { others: [s, session("Other")] },
      {
        "PATCH /sessions/s-keep-me": () =>
          new Promise((resolve) => {
            release = () => resolve({ ...s, pinned: true });
          }),
      },
    );
    const { user } = renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Keep me", "Other"]));
    await user.click(screen.getByRole("button", { name: "Pin Keep me" }));
    // Moved before the server answered.
    await waitFor(() => expect(titlesIn(screen.getByTestId("pinned-sessions"))).toEqual(["Keep me"]));
    expect(titlesIn(rows())).toEqual(["Other"]);
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ pinned: true });
    await act(async () => release());
    expect(titlesIn(screen.getByTestId("pinned-sessions"))).toEqual(["Keep me"]);
    expect(screen.getByRole("button", { name: "Unpin Keep me" })).toBeTruthy();
  });

  it("puts a pin back and says why when the server refuses", async () => {
    sessionsServer({ others: [session("Stubborn")] }, { "PATCH /sessions/s-stubborn": apiError(500, "internal", "boom") });
    const { user } = renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Stubborn"]));
    await user.click(screen.getByRole("button", { name: "Pin Stubborn" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Stubborn");
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Stubborn"]));
    expect(screen.queryByTestId("pinned-sessions")).toBeNull();
    await user.click(within(alert).getByRole("button"));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("renames in place on double-click: Enter saves, Escape cancels", async () => {
    const s = session("Untitled");
    const { calls } = sessionsServer({ others: [s] }, { "PATCH /sessions/s-untitled": (c: Call) => ({ ...s, ...(c.body as object) }) });
    const { user } = renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    const link = await screen.findByRole("link", { name: /Untitled/ });
    await user.dblClick(link);
    let input = screen.getByRole("textbox", { name: "Session title" }) as HTMLInputElement;
    expect(input.value).toBe("Untitled");
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("textbox", { name: "Session title" })).toBeNull();
    expect(calls.filter((c) => c.method === "PATCH")).toHaveLength(0);

    await user.click(screen.getByRole("button", { name: "Rename Untitled" }));
    input = screen.getByRole("textbox", { name: "Session title" }) as HTMLInputElement;
    await user.clear(input);
    await user.type(input, "Quarterly report{Enter}");
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Quarterly report"]));
    expect(calls.filter((c) => c.method === "PATCH").map((c) => c.body)).toEqual([{ title: "Quarterly report" }]);
  });

  it("puts the old title back when a rename is refused", async () => {
    sessionsServer({ others: [session("Original")] }, { "PATCH /sessions/s-original": apiError(422, "validation_error", "title is too long") });
    const { user } = renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await user.dblClick(await screen.findByRole("link", { name: /Original/ }));
    const input = screen.getByRole("textbox", { name: "Session title" });
    await user.clear(input);
    await user.type(input, "Renamed{Enter}");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Title is too long");
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Original"]));
  });

  it("deletes after confirmation, and not without", async () => {
    const { calls } = sessionsServer({ others: [session("Scratch"), session("Keep")] }, { "DELETE /sessions/s-scratch": () => new Response(null, { status: 204 }) });
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    const { user } = renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Scratch", "Keep"]));
    await user.click(screen.getByRole("button", { name: "Delete Scratch" }));
    expect(confirm).toHaveBeenCalledTimes(1);
    expect(calls.filter((c) => c.method === "DELETE")).toHaveLength(0);
    expect(titlesIn(rows())).toEqual(["Scratch", "Keep"]);
    await user.click(screen.getByRole("button", { name: "Delete Scratch" }));
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Keep"]));
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/sessions/s-scratch"]);
  });

  it("follows the server's announcements: a new session appears, a changed one updates, a deleted one goes", async () => {
    const first = session("First");
    sessionsServer({ others: [first] });
    renderWithProviders(<Sidebar me={ME} onClose={() => {}} />);
    await waitFor(() => expect(titlesIn(rows())).toEqual(["First"]));
    const added = session("Just started", { status: "queued", created_at: "2026-02-01T00:00:00Z" });
    act(() => live.announce({ updated: added }));
    await waitFor(() => expect(titlesIn(rows())).toEqual(["Just started", "First"]));
    act(() => live.announce({ updated: { ...first, status: "failed" } }));
    await waitFor(() => expect(screen.getByRole("link", { name: /First/ }).querySelector("[data-status]")!.getAttribute("data-status")).toBe("failed"));
    act(() => live.announce({ deleted: added.id }));
    await waitFor(() => expect(titlesIn(rows())).toEqual(["First"]));
  });
});
