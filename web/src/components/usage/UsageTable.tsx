"use client";
// The usage table: one row per day, model or project, with the range's totals at the foot.
import { useTranslations } from "next-intl";
import type { UsageGroupBy, UsageStats } from "@/generated/protocol";
import { failureRate, type UsageRow } from "./chartData";
import type { UsageFormat } from "./useUsageFormat";

/** The numeric columns' message keys, in the order `cells` writes them. */
const NUMBER_COLUMNS = ["runs", "failed", "failureRate", "input", "output", "cacheRead", "cacheWrite", "cost", "p50", "p95"] as const;

export function UsageTable({ rows, groupBy, totals, f }: { rows: UsageRow[]; groupBy: UsageGroupBy; totals: UsageStats; f: UsageFormat }) {
  const t = useTranslations("usage.table");
  const cells = (u: UsageStats) => (
    <>
      <td className="num">{f.whole(u.runs)}</td>
      <td className={`num ${u.failed_runs > 0 ? "error" : ""}`}>{f.whole(u.failed_runs)}</td>
      <td className="num">{f.percent(failureRate(u))}</td>
      <td className="num" title={f.whole(u.input_tokens)}>
        {f.compact(u.input_tokens)}
      </td>
      <td className="num" title={f.whole(u.output_tokens)}>
        {f.compact(u.output_tokens)}
      </td>
      <td className="num" title={f.whole(u.cache_read_input_tokens)}>
        {f.compact(u.cache_read_input_tokens)}
      </td>
      <td className="num" title={f.whole(u.cache_creation_input_tokens)}>
        {f.compact(u.cache_creation_input_tokens)}
      </td>
      <td className="num">{f.money(u.cost_usd)}</td>
      <td className="num">{f.duration(u.duration_p50_ms)}</td>
      <td className="num">{f.duration(u.duration_p95_ms)}</td>
    </>
  );
  return (
    <div className="table-wrap">
      <table className="data-table usage-table" data-testid="usage-table">
        <thead>
          <tr>
            <th scope="col">{t(`group.${groupBy}`)}</th>
            {NUMBER_COLUMNS.map((k) => (
              <th key={k} scope="col" className="num">
                {t(k)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={11} className="muted">
                {t("empty")}
              </td>
            </tr>
          )}
          {rows.map((r) => (
            <tr key={r.key ?? ""} className={groupBy === "day" && r.usage.runs === 0 ? "usage-idle" : undefined}>
              <th scope="row" className={`break ${r.key === null ? "muted" : ""}`} title={groupBy === "project" && r.key ? r.key : undefined}>
                {groupBy === "day" && r.key ? f.day(r.key, true) : r.name}
              </th>
              {cells(r.usage)}
            </tr>
          ))}
        </tbody>
        {rows.length > 1 && (
          <tfoot>
            <tr>
              <th scope="row">{t("total")}</th>
              {cells(totals)}
            </tr>
          </tfoot>
        )}
      </table>
    </div>
  );
}
