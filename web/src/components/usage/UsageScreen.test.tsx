// The Usage screen: what it asks for (the range, the grouping, the reader's zone), the totals and
// table it shows, and the CSV it hands over. The charts are drawn by uPlot on a canvas jsdom does
// not have: they are stubbed here (their data shaping is tested in chartData.test.ts).
import { screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import type { UsageGroupBy, UsageReport, UsageStats } from "@/generated/protocol";
import { mockFetch, type Call } from "@/test/fetch";
import { navigation } from "@/test/navigation";
import { renderWithProviders } from "@/test/render";
import { addDays, localIsoDate } from "./range";
import { UsageScreen } from "./UsageScreen";

vi.mock("next/navigation", async () => (await import("@/test/navigation")).navigationModule);
vi.mock("./UPlotChart", () => ({ UPlotChart: ({ label }: { label: string }) => <div role="figure" aria-label={label} /> }));

const stats = (s: Partial<UsageStats> = {}): UsageStats => ({
  runs: 0, failed_runs: 0, input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
  cost_usd: 0, duration_p50_ms: null, duration_p95_ms: null, ...s,
});
const totals = stats({ runs: 4, failed_runs: 1, input_tokens: 1200, output_tokens: 300, cost_usd: 1.5, duration_p50_ms: 90_000, duration_p95_ms: 300_000 });

function report(call: Call): UsageReport {
  const p = new URLSearchParams(call.path.split("?")[1]);
  const groupBy = p.get("group_by") as UsageGroupBy;
  const groups =
    groupBy === "day"
      ? [{ key: p.get("from")!, label: null, usage: totals }]
      : groupBy === "project"
        ? [{ key: "p1", label: "数据库, 迁移", usage: totals }, { key: null, label: null, usage: stats({ runs: 1 }) }]
        : [{ key: "claude-sonnet", label: null, usage: totals }];
  return { from: p.get("from")!, to: p.get("to")!, tz: p.get("tz")!, group_by: groupBy, all_users: false, groups, totals };
}

const asked = (calls: Call[]) => calls.filter((c) => c.path.startsWith("/usage?")).map((c) => Object.fromEntries(new URLSearchParams(c.path.split("?")[1])));

beforeEach(() => navigation.reset());

describe("UsageScreen", () => {
  it("asks for the last 30 days by day and by model, in the reader's zone, and shows the totals", async () => {
    const { calls } = mockFetch({ "GET /usage": report });
    renderWithProviders(<UsageScreen />);
    await waitFor(() => expect(screen.getByTestId("usage-total-cost").textContent).toBe("$1.50"));
    const today = localIsoDate(new Date());
    const wanted = { from: addDays(today, -29), to: addDays(today, 1), tz: "UTC" };
    expect(asked(calls)).toEqual(expect.arrayContaining([{ ...wanted, group_by: "day" }, { ...wanted, group_by: "model" }]));
    expect(screen.getByTestId("usage-total-runs").textContent).toBe("4");
    expect(screen.getByTestId("usage-totals").textContent).toContain("25%");
    expect(screen.getByTestId("usage-totals").textContent).toContain("1.5 min / 5 min");
    expect(screen.getByTestId("usage-preset-30").getAttribute("aria-pressed")).toBe("true");
    const table = await screen.findByTestId("usage-table");
    expect(within(table).getByText("claude-sonnet")).toBeTruthy();
    expect(screen.getAllByRole("figure")).toHaveLength(3);
  });

  it("follows the presets and the grouping", async () => {
    const { calls } = mockFetch({ "GET /usage": report });
    const { user } = renderWithProviders(<UsageScreen />);
    await screen.findByTestId("usage-table");
    await user.click(screen.getByTestId("usage-preset-7"));
    await user.click(screen.getByTestId("usage-group-project"));
    const today = localIsoDate(new Date());
    await waitFor(() => expect(asked(calls)).toContainEqual({ from: addDays(today, -6), to: addDays(today, 1), tz: "UTC", group_by: "project" }));
    await waitFor(() => expect(within(screen.getByTestId("usage-table")).getByText("(no project)")).toBeTruthy());
    expect(screen.getByRole("heading", { name: "By project" })).toBeTruthy();
  });

  it("does not ask for a range the server would refuse", async () => {
    const { calls } = mockFetch({ "GET /usage": report });
    const { user } = renderWithProviders(<UsageScreen />);
    await screen.findByTestId("usage-table");
    const before = asked(calls).length;
    const from = screen.getByTestId("usage-from") as HTMLInputElement;
    await user.clear(from);
    await user.type(from, "2099-01-01");
    expect(screen.getByRole("alert").textContent).toBe("The start date is after the end date.");
    expect(asked(calls).length).toBe(before);
  });

  it("exports the table shown as CSV with a byte order mark", async () => {
    mockFetch({ "GET /usage": report });
    const blobs: Blob[] = [];
    const created = vi.fn((b: Blob) => {
      blobs.push(b);
      return "blob:usage";
    });
    const saved = { createObjectURL: URL.createObjectURL, revokeObjectURL: URL.revokeObjectURL };
    Object.assign(URL, { createObjectURL: created, revokeObjectURL: vi.fn() });
    onTestFinished(() => {
      Object.assign(URL, saved);
    });
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    const { user } = renderWithProviders(<UsageScreen />);
    await user.click(await screen.findByTestId("usage-group-project"));
    await waitFor(() => expect(within(screen.getByTestId("usage-table")).getByText("数据库, 迁移")).toBeTruthy());
    await waitFor(() => expect((screen.getByTestId("usage-export") as HTMLButtonElement).disabled).toBe(false));
    await user.click(screen.getByTestId("usage-export"));
    expect(click).toHaveBeenCalled();
    const bytes = new Uint8Array(await blobs[0]!.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder().decode(bytes.slice(3));
    const lines = text.split("\r\n");
    expect(lines[0]).toBe("Name,Project ID,Runs,Failed runs,Failure rate,Input tokens,Output tokens,Cache write tokens,Cache read tokens,Cost (USD),Median duration (ms),95th percentile duration (ms)");
    expect(lines[1]).toBe('"数据库, 迁移",p1,4,1,0.25,1200,300,0,0,1.5,90000,300000');
    expect(lines[2]).toBe("(no project),,1,0,0,0,0,0,0,0,,");
  });
});
