// The search dialog: what it asks the server, how hits read (marks as elements, never HTML), the
// keyboard (arrows, Enter, Escape, Tab kept inside) and "load more".
import { screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { SearchHit, SearchResults } from "@/generated/protocol";
import { mockFetch, type Call } from "@/test/fetch";
import { navigation } from "@/test/navigation";
import { renderWithProviders } from "@/test/render";
import { SearchDialog } from "./SearchDialog";

vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);

function hit(over: Partial<SearchHit>): SearchHit {
  return {
    kind: "assistant",
    session_id: "s1",
    session_title: "Fix the database",
    project_id: null,
    run_id: "r1",
    seq: 7,
    snippet: "the <b>kubernetes</b> deploy",
    highlights: [[4, 21]],
    score: 1,
    created_at: "2026-01-10T09:00:00Z",
    ...over,
  };
}

const searches = (calls: Call[]) => calls.filter((c) => c.path.startsWith("/search?")).map((c) => new URLSearchParams(c.path.split("?")[1]));

beforeEach(() => navigation.reset());

describe("SearchDialog", () => {
  it("searches once typing pauses and shows the snippet with marked matches as text", async () => {
    const { calls } = mockFetch({
      "GET /search": { hits: [hit({}), hit({ kind: "file", session_id: "s2", session_title: "Other", seq: 9, snippet: "src/kube.rs", highlights: [[4, 8]] })], next_cursor: null } satisfies SearchResults,
    });
    const { user } = renderWithProviders(<SearchDialog onClose={() => {}} />);
    const input = screen.getByRole("combobox");
    expect(document.activeElement).toBe(input);
    await user.type(input, "kube");
    const list = await screen.findByRole("listbox");
    await waitFor(() => expect(within(list).getAllByRole("option")).toHaveLength(2));
    // One request for the settled text, not one per key.
    const asked = searches(calls);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.get("q")).toBe("kube");
    expect(asked[0]!.get("limit")).toBe("20");
    expect(asked[0]!.has("project_id")).toBe(false);
    const first = within(list).getAllByRole("option")[0]!;
    const mark = first.querySelector("mark")!;
    // The snippet's angle brackets stay text: no element was made from them.
    expect(mark.textContent).toBe("<b>kubernetes</b>");
    expect(first.querySelector("b")).toBeNull();
    expect(first.textContent).toContain("Reply");
    expect(screen.getByTestId("search-status").textContent).toBe("2 matches");
  });

  it("moves with the arrow keys and opens the chosen hit at its event", async () => {
    mockFetch({
      "GET /search": { hits: [hit({}), hit({ kind: "prompt", session_id: "s2", run_id: "r9", seq: null })], next_cursor: null },
    });
    const onClose = vi.fn();
    const { user } = renderWithProviders(<SearchDialog onClose={onClose} />);
    await user.type(screen.getByRole("combobox"), "db");
    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(2));
    expect(screen.getAllByRole("option")[0]!.getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{ArrowDown}");
    expect(screen.getAllByRole("option")[1]!.getAttribute("aria-selected")).toBe("true");
    expect(screen.getByRole("combobox").getAttribute("aria-activedescendant")).toBe(screen.getAllByRole("option")[1]!.id);
    await user.keyboard("{ArrowDown}");
    expect(screen.getAllByRole("option")[0]!.getAttribute("aria-selected")).toBe("true");
    await user.keyboard("{ArrowUp}{Enter}");
    expect(onClose).toHaveBeenCalled();
    expect(navigation.router.push).toHaveBeenCalledWith("/sessions/s2?run=r9");
  });

  it("closes on Escape and keeps Tab inside the dialog", async () => {
    mockFetch({ "GET /search": { hits: [hit({})], next_cursor: "c2" } });
    const onClose = vi.fn();
    const { user } = renderWithProviders(<SearchDialog onClose={onClose} />);
    await user.type(screen.getByRole("combobox"), "x");
    await screen.findByTestId("search-more");
    const dialog = screen.getByRole("dialog");
    for (let i = 0; i < 4; i++) {
      await user.tab();
      expect(dialog.contains(document.activeElement)).toBe(true);
    }
    await user.keyboard("{Escape}");
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it("loads the next page by its cursor", async () => {
    const { calls } = mockFetch({
      "GET /search": (call: Call) =>
        call.path.includes("cursor=c2")
          ? { hits: [hit({ session_id: "s3", session_title: "Third" })], next_cursor: null }
          : { hits: [hit({})], next_cursor: "c2" },
    });
    const { user } = renderWithProviders(<SearchDialog onClose={() => {}} />);
    await user.type(screen.getByRole("combobox"), "deploy");
    await user.click(await screen.findByTestId("search-more"));
    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(2));
    expect(searches(calls).map((p) => p.get("cursor"))).toEqual([null, "c2"]);
    expect(screen.queryByTestId("search-more")).toBeNull();
  });

  it("says so when the server has no search", async () => {
    mockFetch({});
    const { user } = renderWithProviders(<SearchDialog onClose={() => {}} />);
    await user.type(screen.getByRole("combobox"), "x");
    await waitFor(() => expect(screen.getByTestId("search-status").textContent).toBe("This server cannot search yet."));
  });
});
