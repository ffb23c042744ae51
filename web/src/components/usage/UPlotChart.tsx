"use client";
// uPlot in React: the plot is made when the component mounts (and again when its options or the
// theme change), fed new data in place, sized to its container's width as that changes, and
// destroyed on unmount. Colours come from the page's CSS variables, so a chart follows the light
// and dark themes.
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartTheme {
  fg: string;
  muted: string;
  border: string;
  bg: string;
  accent: string;
  ok: string;
  warn: string;
  danger: string;
}

function readTheme(): ChartTheme {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    fg: v("--fg", "#1f2328"),
    muted: v("--muted", "#656d76"),
    border: v("--border", "#d0d7de"),
    bg: v("--bg", "#ffffff"),
    accent: v("--accent", "#0969da"),
    ok: v("--ok", "#1a7f37"),
    warn: v("--warn", "#9a6700"),
    danger: v("--danger", "#cf222e"),
  };
}

/** The theme's colours, read again whenever the page switches theme (`data-theme` on <html>). */
export function useChartTheme(): ChartTheme | null {
  const [theme, setTheme] = useState<ChartTheme | null>(null);
  useEffect(() => {
    setTheme(readTheme());
    const observer = new MutationObserver(() => setTheme(readTheme()));
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme", "class", "style"] });
    return () => observer.disconnect();
  }, []);
  return theme;
}

export function UPlotChart({
  options,
  data,
  height = 220,
  label,
  testId,
}: {
  /** The plot's options for a theme, without its size. Keep it stable (`useCallback`): a new
   * function makes a new plot. */
  options: (theme: ChartTheme) => Omit<uPlot.Options, "width" | "height">;
  data: uPlot.AlignedData;
  height?: number;
  /** What the chart shows, for screen readers. */
  label: string;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useChartTheme();
  const latestData = useRef(data);
  latestData.current = data;

  useEffect(() => {
    const el = box.current;
    if (!el || !theme) return;
    const u = new uPlot({ ...options(theme), width: Math.max(el.clientWidth, 200), height }, latestData.current, el);
    plot.current = u;
    let width = el.clientWidth;
    const observer = new ResizeObserver(() => {
      // Only the width follows the container; the height is the chart's own.
      if (el.clientWidth === width || el.clientWidth === 0) return;
      width = el.clientWidth;
      u.setSize({ width: Math.max(width, 200), height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [options, theme, height]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div ref={box} className="chart" role="figure" aria-label={label} data-testid={testId} />;
}
