import { describe, expect, it } from "vitest";
import type { UsageReport, UsageStats } from "@/generated/protocol";
import { csvColumns, dailySeries, dayTimestamp, durationParts, failureRate, tableRows, usageCsvCells, withAlpha } from "./chartData";
import { toCsv } from "@/lib/csv";

const zero: UsageStats = {
  runs: 0,
  failed_runs: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  cost_usd: 0,
  duration_p50_ms: null,
  duration_p95_ms: null,
};
const stats = (s: Partial<UsageStats>): UsageStats => ({ ...zero, ...s });

const dayReport: UsageReport = {
  from: "2025-03-01",
  to: "2025-03-04",
  tz: "Europe/Paris",
  group_by: "day",
  all_users: false,
  groups: [
    { key: "2025-03-01", label: null, usage: stats({ runs: 2, failed_runs: 1, input_tokens: 100, output_tokens: 50, cache_read_input_tokens: 7, cache_creation_input_tokens: 3, cost_usd: 0.25 }) },
    { key: "2025-03-02", label: null, usage: zero },
    { key: "2025-03-03", label: null, usage: stats({ runs: 1, input_tokens: 10, output_tokens: 5, cost_usd: 0.1 }) },
  ],
  totals: stats({ runs: 3, failed_runs: 1, cost_usd: 0.35 }),
};

describe("dailySeries", () => {
  it("turns each day into one point per series, zeros included", () => {
    const s = dailySeries(dayReport);
    expect(s.x).toEqual(["2025-03-01", "2025-03-02", "2025-03-03"].map((d) => dayTimestamp(d)));
    expect(s.cost).toEqual([0.25, 0, 0.1]);
    expect(s.input).toEqual([100, 0, 10]);
    expect(s.output).toEqual([50, 0, 5]);
    expect(s.cacheRead).toEqual([7, 0, 0]);
    expect(s.cacheWrite).toEqual([3, 0, 0]);
    expect(s.runs).toEqual([2, 0, 1]);
    expect(s.failed).toEqual([1, 0, 0]);
  });

  it("puts days in order and leaves out groups that are not days", () => {
    const s = dailySeries({ ...dayReport, groups: [dayReport.groups[2]!, { key: null, label: null, usage: zero }, dayReport.groups[0]!] });
    expect(s.runs).toEqual([2, 1]);
  });

  it("places a day at its local midnight", () => {
    expect(dayTimestamp("2025-03-02")! - dayTimestamp("2025-03-01")!).toBeGreaterThanOrEqual(23 * 3600);
    expect(new Date(dayTimestamp("2025-03-01")! * 1000).getHours()).toBe(0);
    expect(dayTimestamp("yesterday")).toBeNull();
  });
});

describe("table and CSV", () => {
  const projectReport: UsageReport = {
    ...dayReport,
    group_by: "project",
    groups: [
      { key: "p1", label: "数据库, 迁移", usage: stats({ runs: 4, failed_runs: 1, cost_usd: 1.23456789, duration_p50_ms: 1200, duration_p95_ms: 4000 }) },
      { key: null, label: null, usage: stats({ runs: 1 }) },
    ],
  };

  it("names a row by its label, else its key, else the word for none", () => {
    expect(tableRows(projectReport, "(none)").map((r) => r.name)).toEqual(["数据库, 迁移", "(none)"]);
    expect(tableRows(dayReport, "(none)").map((r) => r.name)).toEqual(["2025-03-01", "2025-03-02", "2025-03-03"]);
  });

  it("computes the failure rate only when something ran", () => {
    expect(failureRate(stats({ runs: 4, failed_runs: 1 }))).toBe(0.25);
    expect(failureRate(zero)).toBeNull();
  });

  it("exports the rows with a translated header and plain numbers", () => {
    const cells = usageCsvCells(tableRows(projectReport, "(无项目)"), "project", (c) => `h:${c}`);
    expect(cells[0]).toEqual(csvColumns("project").map((c) => `h:${c}`));
    expect(cells[1]).toEqual(["数据库, 迁移", "p1", 4, 1, 0.25, 0, 0, 0, 0, 1.234568, 1200, 4000]);
    expect(cells[2]).toEqual(["(无项目)", null, 1, 0, 0, 0, 0, 0, 0, 0, null, null]);
    expect(toCsv(cells).split("\r\n")[1]).toBe('"数据库, 迁移",p1,4,1,0.25,0,0,0,0,1.234568,1200,4000');
  });

  it("adds the key column only for projects", () => {
    expect(csvColumns("day")).not.toContain("key");
    expect(csvColumns("model")).not.toContain("key");
    expect(csvColumns("project")).toContain("key");
  });
});

describe("durationParts", () => {
  it("picks the unit that reads best", () => {
    expect(durationParts(450)).toEqual({ value: 450, unit: "millisecond" });
    expect(durationParts(12_340)).toEqual({ value: 12.3, unit: "second" });
    expect(durationParts(150_000)).toEqual({ value: 2.5, unit: "minute" });
    expect(durationParts(5_400_000)).toEqual({ value: 1.5, unit: "hour" });
  });
});

describe("withAlpha", () => {
  it("makes a hex colour translucent and leaves other notations alone", () => {
    expect(withAlpha("#2f6feb", 0.25)).toBe("rgba(47, 111, 235, 0.25)");
    expect(withAlpha("#fff", 0.5)).toBe("rgba(255, 255, 255, 0.5)");
    expect(withAlpha("rgb(1, 2, 3)", 0.5)).toBe("rgb(1, 2, 3)");
  });
});
