// One file's diff from `GET /runs/{id}/diff`: unified by default, side by side on request (and
// remembered), word-level marks, the binary and too-large states, and the fallback on a server
// without the route.
import { screen } from "@testing-library/react";
import { beforeEach, describe, expect, it } from "vitest";
import type { FileDiff } from "@/generated/protocol";
import { mockFetch } from "@/test/fetch";
import { renderWithProviders } from "@/test/render";
import { RunDiff } from "./RunDiff";

function diff(over: Partial<FileDiff> = {}): FileDiff {
  return {
    run_id: "r2", previous_run_id: "r1", path: "src/main.rs", change: "modified", old_size: 30, new_size: 33,
    binary: false, too_large: false, unified: "…",
    hunks: [
      {
        old_start: 1, old_lines: 3, new_start: 1, new_lines: 3,
        lines: [
          { kind: "context", old_line: 1, new_line: 1, text: "fn main() {", no_newline: false },
          { kind: "remove", old_line: 2, new_line: null, text: "    let n = count;", no_newline: false },
          { kind: "add", old_line: null, new_line: 2, text: "    let n = quantity;", no_newline: false },
          { kind: "context", old_line: 3, new_line: 3, text: "}", no_newline: true },
        ],
      },
    ],
    ...over,
  };
}

beforeEach(() => localStorage.clear());

describe("RunDiff", () => {
  it("asks for the file's diff and shows it unified, with the changed words marked", async () => {
    const { calls } = mockFetch({ "GET /runs/r2/diff": diff() });
    const { container } = renderWithProviders(<RunDiff runId="r2" path="src/main.rs" />);
    await screen.findByTestId("diff-view");
    expect(calls[0]!.path).toBe("/runs/r2/diff?path=src%2Fmain.rs");
    expect(container.querySelector(".dv-unified")).toBeTruthy();
    expect([...container.querySelectorAll(".dv-word-del")].map((e) => e.textContent)).toEqual(["count"]);
    expect([...container.querySelectorAll(".dv-word-add")].map((e) => e.textContent)).toEqual(["quantity"]);
    expect(screen.getByText("@@ -1,3 +1,3 @@")).toBeTruthy();
    expect(screen.getByLabelText("No newline at end of file")).toBeTruthy();
  });

  it("switches to side by side and remembers the choice", async () => {
    mockFetch({ "GET /runs/r2/diff": diff() });
    const { container, user, unmount } = renderWithProviders(<RunDiff runId="r2" path="src/main.rs" />);
    await screen.findByTestId("diff-view");
    await user.click(screen.getByRole("button", { name: "Side by side" }));
    expect(container.querySelector(".dv-split")).toBeTruthy();
    expect(localStorage.getItem("workcell-diff-mode")).toBe("split");
    unmount();
    mockFetch({ "GET /runs/r2/diff": diff() });
    const again = renderWithProviders(<RunDiff runId="r2" path="src/main.rs" />);
    await screen.findByTestId("diff-view");
    expect(again.container.querySelector(".dv-split")).toBeTruthy();
  });

  it("says plainly when a file is binary or too large", async () => {
    mockFetch({ "GET /runs/r2/diff": diff({ binary: true, unified: null, hunks: [] }) });
    renderWithProviders(<RunDiff runId="r2" path="a.bin" />);
    expect((await screen.findByTestId("diff-binary")).textContent).toMatch(/Binary file/);
  });

  it("says so when a side is too large", async () => {
    mockFetch({ "GET /runs/r2/diff": diff({ too_large: true, unified: null, hunks: [] }) });
    renderWithProviders(<RunDiff runId="r2" path="big.log" />);
    expect((await screen.findByTestId("diff-too-large")).textContent).toMatch(/Too large/);
  });

  it("shows the fallback on a server without diffs", async () => {
    mockFetch({});
    renderWithProviders(<RunDiff runId="r2" path="x" fallback={<p>edit diffs</p>} />);
    expect(await screen.findByText("edit diffs")).toBeTruthy();
  });
});
