"use client";
// The usage screen's three day charts: cost, tokens (input, output, cache reads and writes as
// series) and runs with their failures. Dates and numbers speak the reader's language.
import { useTranslations } from "next-intl";
import { useCallback, useMemo } from "react";
import uPlot from "uplot";
import type { UsageReport } from "@/generated/protocol";
import { dailySeries, withAlpha } from "./chartData";
import { UPlotChart, type ChartTheme } from "./UPlotChart";
import { useUsageFormat, type UsageFormat } from "./useUsageFormat";

const DAY_S = 86_400;
/** Tick spacings the day axis may use: whole days only. */
const DAY_INCRS = [1, 2, 3, 7, 14, 30, 61, 91, 182, 365].map((d) => d * DAY_S);

/** The y axis as wide as its longest label ("US$1,234.50" is wider than "$0.50"). */
const fitLabels: uPlot.Axis.Size = (u, values, axisIdx, cycleNum) => {
  const axis = u.axes[axisIdx]!;
  // uPlot asks again while it settles the layout; the first answer stands after two rounds.
  const previous = (axis as { _size?: number })._size;
  if (cycleNum > 1 && previous) return previous;
  const longest = (values ?? []).reduce((a, v) => (v && v.length > a.length ? v : a), "");
  const font = (axis.font as unknown as [string] | undefined)?.[0];
  if (font) u.ctx.font = font;
  const width = longest ? u.ctx.measureText(longest).width / (window.devicePixelRatio || 1) : 0;
  return Math.ceil(width + (axis.gap ?? 5) + 14);
};

/** What every chart shares: the day axis, grid and text in the theme's colours. */
function baseOptions(theme: ChartTheme, f: UsageFormat, yValues: (v: number) => string): Omit<uPlot.Options, "width" | "height" | "series"> {
  const axis = { stroke: theme.muted, grid: { stroke: withAlpha(theme.border, 0.8), width: 1 }, ticks: { stroke: theme.border, width: 1 } };
  return {
    // Half a day either side, so the first and last bars are whole (and one day still has room).
    scales: { x: { time: true, range: (_u, min, max) => [min - DAY_S / 2, max + DAY_S / 2] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      {
        ...axis,
        incrs: DAY_INCRS,
        values: (_u, splits) => splits.map(f.tick),
      },
      { ...axis, size: fitLabels, values: (_u, splits) => splits.map(yValues) },
    ],
    cursor: { points: { size: 7 } },
    legend: { live: true },
  };
}

const blankZero = (v: number) => (v === 0 ? null : v);

export function UsageCharts({ report }: { report: UsageReport }) {
  const t = useTranslations("usage.charts");
  const f = useUsageFormat();
  const s = useMemo(() => dailySeries(report), [report]);

  const costOptions = useCallback(
    (theme: ChartTheme): Omit<uPlot.Options, "width" | "height"> => ({
      ...baseOptions(theme, f, f.money),
      series: [
        { label: t("day"), value: (_u, v) => f.when(v) },
        {
          label: t("cost"),
          stroke: theme.accent,
          fill: withAlpha(theme.accent, 0.15),
          width: 2,
          value: (_u, v) => (v === null ? "—" : f.money(v)),
        },
      ],
    }),
    [f, t],
  );

  const tokenOptions = useCallback(
    (theme: ChartTheme): Omit<uPlot.Options, "width" | "height"> => {
      const line = (label: string, color: string, dash?: number[]): uPlot.Series => ({
        label,
        stroke: color,
        width: 2,
        ...(dash ? { dash } : {}),
        value: (_u, v) => (v === null ? "—" : f.whole(v)),
      });
      return {
        ...baseOptions(theme, f, f.compact),
        series: [
          { label: t("day"), value: (_u, v) => f.when(v) },
          line(t("input"), theme.accent),
          line(t("output"), theme.ok),
          line(t("cacheRead"), theme.muted, [6, 4]),
          line(t("cacheWrite"), theme.warn, [2, 3]),
        ],
      };
    },
    [f, t],
  );

  const runOptions = useCallback(
    (theme: ChartTheme): Omit<uPlot.Options, "width" | "height"> => {
      const bars = uPlot.paths.bars!({ size: [0.6, 48], align: 0 });
      return {
        ...baseOptions(theme, f, (v) => (Number.isInteger(v) ? f.whole(v) : "")),
        series: [
          { label: t("day"), value: (_u, v) => f.when(v) },
          // Failures are drawn over the runs they are part of.
          { label: t("runs"), stroke: theme.accent, fill: withAlpha(theme.accent, 0.35), paths: bars, points: { show: false }, value: (_u, v, _s, i) => (i === null ? "—" : f.whole(v ?? 0)) },
          { label: t("failed"), stroke: theme.danger, fill: withAlpha(theme.danger, 0.75), paths: bars, points: { show: false }, value: (_u, v, _s, i) => (i === null ? "—" : f.whole(v ?? 0)) },
        ],
      };
    },
    [f, t],
  );

  const costData = useMemo<uPlot.AlignedData>(() => [s.x, s.cost], [s]);
  const tokenData = useMemo<uPlot.AlignedData>(() => [s.x, s.input, s.output, s.cacheRead, s.cacheWrite], [s]);
  // A day without runs (or failures) draws no bar rather than a flat line.
  const runData = useMemo<uPlot.AlignedData>(() => [s.x, s.runs.map(blankZero), s.failed.map(blankZero)], [s]);

  return (
    <div className="usage-charts">
      <section className="usage-chart">
        <h2>{t("costTitle")}</h2>
        <UPlotChart options={costOptions} data={costData} label={t("costTitle")} testId="usage-chart-cost" />
      </section>
      <section className="usage-chart">
        <h2>{t("tokensTitle")}</h2>
        <UPlotChart options={tokenOptions} data={tokenData} label={t("tokensTitle")} testId="usage-chart-tokens" />
      </section>
      <section className="usage-chart">
        <h2>{t("runsTitle")}</h2>
        <UPlotChart options={runOptions} data={runData} label={t("runsTitle")} testId="usage-chart-runs" />
      </section>
    </div>
  );
}
