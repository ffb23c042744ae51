"use client";
// The Usage screen: what the reader's runs (an admin: everyone's) cost and how they went over a
// range of days — totals, charts per day, and a table by day, model or project that downloads as
// CSV. Days are the reader's (the browser's time zone is sent along).
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useTimeZone, useTranslations } from "next-intl";
import { useEffect, useMemo, useState } from "react";
import type { UsageGroupBy, UsageReport } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { useAuth } from "../Shell";
import { failureRate, tableRows, totalTokens, usageCsvCells } from "./chartData";
import { downloadCsv, toCsv } from "@/lib/csv";
import { apiRange, localIsoDate, presetRange, rangeProblem, type DayRange } from "./range";
import { RangePicker } from "./RangePicker";
import { UsageCharts } from "./UsageCharts";
import { UsageTable } from "./UsageTable";
import { useUsageFormat } from "./useUsageFormat";
import "./usage.css";

const GROUPS: UsageGroupBy[] = ["day", "model", "project"];

function usagePath(allUsers: boolean, range: DayRange, groupBy: UsageGroupBy, tz: string): string {
  const { from, to } = apiRange(range);
  const p = new URLSearchParams({ from, to, group_by: groupBy, tz });
  return `${allUsers ? "/admin/usage" : "/usage"}?${p.toString()}`;
}

function useUsage(allUsers: boolean, range: DayRange, groupBy: UsageGroupBy, tz: string, enabled: boolean) {
  return useQuery({
    queryKey: ["usage", { allUsers, from: range.from, to: range.to, groupBy, tz }],
    queryFn: ({ signal }) => api<UsageReport>(usagePath(allUsers, range, groupBy, tz), { signal }),
    enabled,
    staleTime: 60_000,
    // The previous range stays on screen while the next one loads.
    placeholderData: keepPreviousData,
  });
}

export function UsageScreen() {
  const t = useTranslations("usage");
  const f = useUsageFormat();
  const readable = useReadableError();
  const { me } = useAuth();
  const tz = useTimeZone() ?? "UTC";
  const [today, setToday] = useState(() => localIsoDate(new Date()));
  const [range, setRange] = useState<DayRange>(() => presetRange(30, localIsoDate(new Date())));
  const [groupBy, setGroupBy] = useState<UsageGroupBy>("model");
  const [allUsers, setAllUsers] = useState(false);
  // One user on the server (`single_user`): "all users" would add nothing.
  const isAdmin = me?.user.role === "admin" && me.auth_mode !== "single_user";
  const everyone = isAdmin && allUsers;
  const valid = rangeProblem(range) === null;

  // Past midnight, "today" (and a preset ending today) moves on.
  useEffect(() => {
    const timer = setInterval(() => setToday(localIsoDate(new Date())), 60_000);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    document.title = `${t("title")} · Workcell`;
  }, [t]);

  const days = useUsage(everyone, range, "day", tz, valid);
  const grouped = useUsage(everyone, range, groupBy, tz, valid && groupBy !== "day");
  const table = groupBy === "day" ? days : grouped;
  const report = days.data;
  // While another grouping loads, the previous one stays, shown as what it is.
  const shown = table.data?.group_by ?? groupBy;
  const rows = useMemo(() => (table.data ? tableRows(table.data, t(`table.none.${table.data.group_by}`)) : []), [table.data, t]);
  const error = days.error ?? table.error;
  const missing = error instanceof ApiError && error.routeMissing;
  const loading = (days.isFetching || table.isFetching) && valid;

  const exportCsv = () => {
    if (!table.data) return;
    const cells = usageCsvCells(rows, shown, (c) => t(`csv.${c}`));
    const who = table.data.all_users ? "all-users-" : "";
    downloadCsv(`usage-${who}by-${shown}-${range.from}-${range.to}.csv`, toCsv(cells));
  };

  const totals = report?.totals;
  return (
    <div className="page usage-page">
      <div className="page-head">
        <h1>{t("title")}</h1>
        <span className="spacer" />
        {loading && (
          <span className="muted small" role="status">
            {t("loading")}
          </span>
        )}
        {isAdmin && (
          <label className="check small usage-everyone">
            <input type="checkbox" checked={allUsers} onChange={(e) => setAllUsers(e.target.checked)} data-testid="usage-all-users" />
            {t("allUsers")}
          </label>
        )}
      </div>
      <RangePicker range={range} today={today} onChange={setRange} />
      {error && (
        <p className="banner error" role="alert">
          {missing ? t("unavailable") : readable(error)}
        </p>
      )}
      {totals && (
        <dl className="usage-totals" data-testid="usage-totals">
          <div>
            <dt>{t("totals.cost")}</dt>
            <dd data-testid="usage-total-cost">{f.money(totals.cost_usd)}</dd>
          </div>
          <div>
            <dt>{t("totals.tokens")}</dt>
            <dd title={t("totals.tokensDetail", {
              input: f.whole(totals.input_tokens),
              output: f.whole(totals.output_tokens),
              cacheRead: f.whole(totals.cache_read_input_tokens),
              cacheWrite: f.whole(totals.cache_creation_input_tokens),
            })}>
              {f.compact(totalTokens(totals))}
              <span className="muted small usage-sub">
                {t("totals.tokensSplit", { input: f.compact(totals.input_tokens), output: f.compact(totals.output_tokens), cache: f.compact(totals.cache_read_input_tokens + totals.cache_creation_input_tokens) })}
              </span>
            </dd>
          </div>
          <div>
            <dt>{t("totals.runs")}</dt>
            <dd data-testid="usage-total-runs">{f.whole(totals.runs)}</dd>
          </div>
          <div>
            <dt>{t("totals.failureRate")}</dt>
            <dd>
              {f.percent(failureRate(totals))}
              <span className="muted small usage-sub">{t("totals.failed", { count: totals.failed_runs })}</span>
            </dd>
          </div>
          <div>
            <dt>{t("totals.duration")}</dt>
            <dd>
              {t("totals.durationValue", { p50: f.duration(totals.duration_p50_ms), p95: f.duration(totals.duration_p95_ms) })}
            </dd>
          </div>
        </dl>
      )}
      {report && totals?.runs === 0 && <p className="muted">{t("noRuns")}</p>}
      {report && <UsageCharts report={report} />}
      <div className="section-head usage-table-head">
        <h2>{t(`table.title.${shown}`)}</h2>
        <div className="segmented" role="group" aria-label={t("groupBy")}>
          {GROUPS.map((g) => (
            <button key={g} type="button" className={groupBy === g ? "active" : ""} aria-pressed={groupBy === g} onClick={() => setGroupBy(g)} data-testid={`usage-group-${g}`}>
              {t(`group.${g}`)}
            </button>
          ))}
        </div>
        <span className="spacer" />
        <button type="button" className="button small" onClick={exportCsv} disabled={!table.data || table.isPlaceholderData} data-testid="usage-export">
          {t("export")}
        </button>
      </div>
      {table.data && <UsageTable rows={rows} groupBy={shown} totals={table.data.totals} f={f} />}
    </div>
  );
}
