// The Files panel from a scripted `GET /api/v1/runs/{id}/files` (global fetch mocked): the tree
// (folders, change marks, sizes, deleted files), the export's states, a server without the
// route, a refresh, the run picker, and a file's preview and download link.
import { screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { RunFile, RunFiles, RunView } from "@/generated/protocol";
import { apiError, mockFetch } from "@/test/fetch";
import { renderWithProviders } from "@/test/render";
import { FilesPanel } from "./FilesPanel";

vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);

const T = "2026-01-15T12:00:00Z";
const STORE = "https://store.test/workcell";

function run(id: string, created: string, prompt = `task ${id}`): RunView {
  return {
    id, session_id: "s1", prompt, status: "completed", model: null, permission_mode: "default", attempts: 1, max_attempts: 3,
    error: null, created_at: created, scheduled_at: created, started_at: created, finished_at: created, usage: null,
    export: null, kind: "interactive", scheduled_task_id: null, dead_lettered_at: null, attempt_errors: [], capabilities: null,
  };
}

function file(path: string, size: number, change: RunFile["change"] = "unchanged", content_type = "text/plain"): RunFile {
  return { path, size, sha256: "0".repeat(64), content_type, change, url: change === "deleted" ? null : `${STORE}/${path}?X-Amz-Signature=abc` };
}

function listing(runId: string, files: RunFile[], export_status: RunFiles["export_status"] = "ready"): RunFiles {
  return { run_id: runId, export_status, expires_at: export_status === "ready" ? "2026-01-15T13:00:00Z" : null, files };
}

const FILES = [
  file("README.md", 120),
  file("src/main.rs", 2048, "modified", "text/x-rust"),
  file("src/lib/util.rs", 5 * 1024 * 1024, "added", "text/x-rust"),
  file("notes.txt", 12, "unchanged"),
  file("old.log", 40, "deleted"),
];

const tree = () => screen.getByRole("tree", { name: "Files" });
/** The file button of the tree, by its file name. */
const inTree = (name: string) => within(tree()).getByRole("button", { name });

beforeEach(() => {
  vi.spyOn(window, "location", "get").mockReturnValue({ ...window.location, assign: vi.fn() } as Location);
});

describe("FilesPanel", () => {
  it("lists the run's files as a tree, with folders, change marks, sizes and the deleted ones apart", async () => {
    const { calls } = mockFetch({ "GET /runs/r1/files": listing("r1", FILES) });
    renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun={null} />);
    await screen.findByRole("tree", { name: "Files" });
    expect(calls.filter((c) => c.path === "/runs/r1/files")).toHaveLength(1);

    const items = within(tree()).getAllByRole("treeitem");
    const text = items.map((i) => i.textContent ?? "");
    // Folders open, their children under them.
    const src = items.find((i) => i.textContent?.startsWith("▾ src/"))!;
    expect(src.getAttribute("aria-expanded")).toBe("true");
    expect(within(src).getByRole("button", { name: "main.rs" })).toBeTruthy();
    expect(within(src).getByRole("button", { name: "util.rs" })).toBeTruthy();
    expect(within(src).getAllByRole("group").length).toBeGreaterThan(0);
    // Each file with its change and size.
    const row = (name: string) => inTree(name).closest('[role="treeitem"]')!;
    expect(row("main.rs").textContent).toContain("modified");
    expect(row("main.rs").textContent).toMatch(/2(\.0)?\s?kB$/);
    expect(row("util.rs").textContent).toContain("added");
    expect(row("util.rs").textContent).toMatch(/5(\.0)?\s?MB$/);
    expect(row("README.md").textContent).toMatch(/120\s?(B|byte)$/);
    expect(row("README.md").querySelector(".change"), "an unchanged file has no mark").toBeNull();
    // The deleted file is not in the tree but listed under Deleted.
    expect(text.some((t) => t.includes("old.log"))).toBe(false);
    expect(tree().querySelector(".tree-deleted")!.textContent).toContain("Deleted");
    expect(tree().querySelector(".tree-deleted")!.textContent).toContain("old.log");
    expect(screen.getByText("Choose a file to preview it.")).toBeTruthy();
  });

  it("folds and unfolds a folder", async () => {
    mockFetch({ "GET /runs/r1/files": listing("r1", FILES) });
    const { user } = renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByRole("tree", { name: "Files" });
    const folder = within(tree()).getByRole("button", { name: /src\/$/ });
    await user.click(folder);
    expect(folder.closest('[role="treeitem"]')!.getAttribute("aria-expanded")).toBe("false");
    expect(within(tree()).queryByRole("button", { name: "main.rs" })).toBeNull();
    await user.click(folder);
    expect(within(tree()).getByRole("button", { name: "main.rs" })).toBeTruthy();
  });

  it("previews a chosen text file read from this origin, with a download link to its URL", async () => {
    const { calls } = mockFetch({
      "GET /runs/r1/files": listing("r1", FILES),
      "GET /runs/r1/content?path=notes.txt": () =>
        new Response("All systems nominal.\n", { status: 200, headers: { "content-type": "application/octet-stream" } }),
    });
    const { user } = renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByRole("tree", { name: "Files" });
    await user.click(inTree("notes.txt"));
    const preview = screen.getByTestId("preview");
    await within(preview).findByText(/All systems nominal\./);
    expect(inTree("notes.txt").closest('[role="treeitem"]')!.getAttribute("aria-selected")).toBe("true");
    const download = within(preview).getByRole("link", { name: "Download" }) as HTMLAnchorElement;
    expect(download.href).toBe(`${STORE}/notes.txt?X-Amz-Signature=abc`);
    expect(download.getAttribute("download")).toBe("notes.txt");
    // Read from the backend's content route, never from the store (whose CORS may refuse).
    expect(calls.some((c) => c.path === "/runs/r1/content?path=notes.txt")).toBe(true);
    expect(calls.some((c) => c.url.startsWith(`${STORE}/notes.txt`))).toBe(false);
  });

  it("opens a changed file on its diff against the previous run, with its preview one tab away", async () => {
    const mainRs = FILES[1]!;
    const { calls } = mockFetch({
      "GET /runs/r1/files": listing("r1", FILES),
      "GET /runs/r1/diff": {
        run_id: "r1", previous_run_id: "r0", path: "src/main.rs", change: "modified", old_size: 20, new_size: 2048, binary: false, too_large: false,
        unified: "…",
        hunks: [
          {
            old_start: 1, old_lines: 1, new_start: 1, new_lines: 1,
            lines: [
              { kind: "remove", old_line: 1, new_line: null, text: "fn main() {}", no_newline: false },
              { kind: "add", old_line: null, new_line: 1, text: 'fn main() { println!("hi"); }', no_newline: false },
            ],
          },
        ],
      },
      "GET /runs/r1/content?path=src%2Fmain.rs": () => new Response('fn main() { println!("hi"); }\n', { status: 200 }),
    });
    const { user } = renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByRole("tree", { name: "Files" });
    await user.click(inTree("main.rs"));
    const preview = screen.getByTestId("preview");
    const diffView = await within(preview).findByTestId("diff-view");
    expect(calls.some((c) => c.path === "/runs/r1/diff?path=src%2Fmain.rs")).toBe(true);
    expect(diffView.querySelector(".dv-remove")!.textContent).toContain("fn main() {}");
    expect(within(preview).getByRole("tab", { name: "Changes" }).getAttribute("aria-selected")).toBe("true");
    await user.click(within(preview).getByRole("tab", { name: "Preview" }));
    expect(within(preview).queryByTestId("diff-view")).toBeNull();
    // Highlighted: the code's text spans several elements.
    await waitFor(() => expect(preview.querySelector("code")?.textContent).toContain('fn main() { println!("hi"); }'));
    // An unchanged file has nothing to compare: its preview, no tabs.
    await user.click(inTree("notes.txt"));
    expect(within(preview).queryByRole("tab")).toBeNull();
  });

  it("says so when a file cannot be read", async () => {
    mockFetch({
      "GET /runs/r1/files": listing("r1", FILES),
      // A failed connection reaches the page as a TypeError.
      "GET /runs/r1/content?path=notes.txt": () => Promise.reject(new TypeError("Failed to fetch")),
    });
    const { user } = renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByRole("tree", { name: "Files" });
    await user.click(inTree("notes.txt"));
    expect((await screen.findByTestId("preview-unavailable")).textContent).toMatch(/download it/);
  });

  it("waits for a pending export, and says when it failed", async () => {
    mockFetch({ "GET /runs/r1/files": listing("r1", [], null), "GET /runs/r2/files": listing("r2", [], "failed") });
    const { unmount } = renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByText("The files appear here once the run has finished and its workspace is exported.");
    expect((screen.getByTestId("archive") as HTMLButtonElement).disabled, "nothing to download yet").toBe(true);
    unmount();
    renderWithProviders(<FilesPanel runs={[run("r2", T)]} events={[]} initialRun="r2" />);
    await screen.findByText("The export of this run failed; its files are not available.");
  });

  it("says there are no files when the export is empty", async () => {
    mockFetch({ "GET /runs/r1/files": listing("r1", []) });
    renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByText("No files.");
    expect((screen.getByTestId("archive") as HTMLButtonElement).disabled).toBe(false);
  });

  it("hides file browsing on a server without the route", async () => {
    mockFetch({});
    renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByText("File browsing is not available on this server yet.");
    expect(screen.queryByRole("tree")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows the server's error readably", async () => {
    mockFetch({ "GET /runs/r1/files": apiError(403, "forbidden", "this run belongs to another user") });
    renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    expect((await screen.findByRole("alert")).textContent).toBe("This run belongs to another user");
  });

  it("reads the list again on Refresh", async () => {
    let answer = listing("r1", [], null);
    const { calls } = mockFetch({ "GET /runs/r1/files": () => answer });
    const { user } = renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByText(/The files appear here/);
    answer = listing("r1", [file("report.md", 30, "added", "text/markdown")]);
    await user.click(screen.getByRole("button", { name: "Refresh" }));
    await waitFor(() => expect(within(tree()).getByRole("button", { name: "report.md" })).toBeTruthy());
    expect(calls.filter((c) => c.path === "/runs/r1/files")).toHaveLength(2);
  });

  it("starts with the newest run and switches to another", async () => {
    const { calls } = mockFetch({
      "GET /runs/r1/files": listing("r1", [file("first.txt", 1)]),
      "GET /runs/r2/files": listing("r2", [file("second.txt", 2)]),
    });
    const runs = [run("r1", "2026-01-15T10:00:00Z", "first task"), run("r2", "2026-01-15T11:00:00Z", "second task")];
    const { user } = renderWithProviders(<FilesPanel runs={runs} events={[]} initialRun={null} />);
    await waitFor(() => expect(within(tree()).getByRole("button", { name: "second.txt" })).toBeTruthy());
    const picker = screen.getByRole("combobox", { name: /Run/ }) as HTMLSelectElement;
    expect(Array.from(picker.options).map((o) => o.textContent)).toEqual(["#2 · second task (completed)", "#1 · first task (completed)"]);
    await user.selectOptions(picker, "r1");
    await waitFor(() => expect(within(tree()).getByRole("button", { name: "first.txt" })).toBeTruthy());
    expect(calls.map((c) => c.path).filter((p) => p.startsWith("/runs/"))).toEqual(["/runs/r2/files", "/runs/r1/files"]);
  });

  it("downloads the whole workspace through the archive link", async () => {
    const assign = vi.fn();
    vi.spyOn(window, "location", "get").mockReturnValue({ ...window.location, assign } as Location);
    mockFetch({
      "GET /runs/r1/files": listing("r1", FILES),
      "GET /runs/r1/archive": { run_id: "r1", url: `${STORE}/r1.zip?sig=1`, expires_at: "2026-01-15T13:00:00Z" },
    });
    const { user } = renderWithProviders(<FilesPanel runs={[run("r1", T)]} events={[]} initialRun="r1" />);
    await screen.findByRole("tree", { name: "Files" });
    await user.click(screen.getByTestId("archive"));
    await waitFor(() => expect(assign).toHaveBeenCalledWith(`${STORE}/r1.zip?sig=1`));
  });
});
