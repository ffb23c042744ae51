// The usage report (`GET /usage`) shaped for the screen: uPlot's column arrays for the day charts,
// the rows of the table, and the cells of its CSV export.
import type { UsageGroupBy, UsageReport, UsageStats } from "@/generated/protocol";
import type { Cell } from "@/lib/csv";

/** Seconds since the epoch at the start of `day` (`YYYY-MM-DD`) in the browser's time zone: the
 * report's days are the reader's (it is asked with the browser's zone), and uPlot draws time in
 * the browser's zone too. */
export function dayTimestamp(day: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime() / 1000;
}

/** One array per series, aligned on `x` (one entry per day, in order). */
export interface DailySeries {
  x: number[];
  cost: number[];
  input: number[];
  output: number[];
  cacheRead: number[];
  cacheWrite: number[];
  runs: number[];
  failed: number[];
}

/** The day report's columns (groups without a valid day are left out). */
export function dailySeries(report: UsageReport): DailySeries {
  const out: DailySeries = { x: [], cost: [], input: [], output: [], cacheRead: [], cacheWrite: [], runs: [], failed: [] };
  const groups = report.groups
    .map((g) => ({ g, t: g.key === null ? null : dayTimestamp(g.key) }))
    .filter((p): p is { g: (typeof report.groups)[number]; t: number } => p.t !== null)
    .sort((a, b) => a.t - b.t);
  for (const { g, t } of groups) {
    const u = g.usage;
    out.x.push(t);
    out.cost.push(u.cost_usd);
    out.input.push(u.input_tokens);
    out.output.push(u.output_tokens);
    out.cacheRead.push(u.cache_read_input_tokens);
    out.cacheWrite.push(u.cache_creation_input_tokens);
    out.runs.push(u.runs);
    out.failed.push(u.failed_runs);
  }
  return out;
}

/** Whether anything ran in the range (an empty chart reads better as a sentence). */
export function hasRuns(report: UsageReport): boolean {
  return report.totals.runs > 0;
}

/** Failed runs over runs, `null` when nothing ran. */
export function failureRate(u: UsageStats): number | null {
  return u.runs > 0 ? u.failed_runs / u.runs : null;
}

/** Every token the runs read or wrote. */
export function totalTokens(u: UsageStats): number {
  return u.input_tokens + u.output_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
}

export interface UsageRow {
  /** The group's key (`YYYY-MM-DD`, the model's id, the project's id; `null`: none). */
  key: string | null;
  /** What the table shows: the project's name, else the key, else `none`. */
  name: string;
  usage: UsageStats;
}

/** The table's rows, in the report's order (days in order; models and projects by cost). */
export function tableRows(report: UsageReport, none: string): UsageRow[] {
  return report.groups.map((g) => ({ key: g.key, name: g.label ?? g.key ?? none, usage: g.usage }));
}

export const CSV_COLUMNS = [
  "name",
  "key",
  "runs",
  "failed_runs",
  "failure_rate",
  "input_tokens",
  "output_tokens",
  "cache_creation_input_tokens",
  "cache_read_input_tokens",
  "cost_usd",
  "duration_p50_ms",
  "duration_p95_ms",
] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

/** The columns of a CSV export: `key` only where it differs from the name (a project's id). */
export function csvColumns(groupBy: UsageGroupBy): CsvColumn[] {
  return CSV_COLUMNS.filter((c) => c !== "key" || groupBy === "project");
}

/** The table as CSV cells: a header line in the reader's language, then plain numbers (no
 * grouping separators or currency signs, so spreadsheets read them as numbers). */
export function usageCsvCells(rows: UsageRow[], groupBy: UsageGroupBy, header: (c: CsvColumn) => string): Cell[][] {
  const columns = csvColumns(groupBy);
  const value = (r: UsageRow, c: CsvColumn): Cell => {
    const u = r.usage;
    switch (c) {
      case "name":
        return r.name;
      case "key":
        return r.key;
      case "failure_rate": {
        const rate = failureRate(u);
        return rate === null ? null : round(rate, 4);
      }
      case "cost_usd":
        return round(u.cost_usd, 6);
      default:
        return u[c];
    }
  };
  return [columns.map(header), ...rows.map((r) => columns.map((c) => value(r, c)))];
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A duration in the largest unit that keeps it above 1 (for `Intl.NumberFormat`'s unit style). */
export function durationParts(ms: number): { value: number; unit: "millisecond" | "second" | "minute" | "hour" } {
  if (ms < 1000) return { value: Math.round(ms), unit: "millisecond" };
  if (ms < 60_000) return { value: round(ms / 1000, 1), unit: "second" };
  if (ms < 3_600_000) return { value: round(ms / 60_000, 1), unit: "minute" };
  return { value: round(ms / 3_600_000, 1), unit: "hour" };
}

/** A hex colour (`#rgb`, `#rrggbb`) with transparency, for fills drawn on the canvas; another
 * notation is returned as it is. */
export function withAlpha(color: string, alpha: number): string {
  const short = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim())?.[1];
  if (!short) return color;
  const hex = short.length === 3 ? [...short].map((c) => c + c).join("") : short;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
