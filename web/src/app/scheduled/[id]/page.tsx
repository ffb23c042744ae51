"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useState } from "react";
import { useFormatter, useLocale, useTranslations } from "next-intl";
import type { ScheduledTaskView } from "@/generated/protocol";
import { useReadableError } from "@/lib/useReadableError";
import { useScheduledRuns, useScheduledTasks } from "@/lib/query/scheduled";
import { formatIn, ScheduleForm } from "@/components/ScheduleForm";
import { StatusBadge } from "@/components/StatusBadge";
import { RunCost } from "@/components/Cost";

export default function ScheduledTaskPage() {
  const { id } = useParams<{ id: string }>();
  // There is no single-task GET in the contract: the (cached) list has it.
  const { tasks, setTasks, missing, error: loadError } = useScheduledTasks();
  const task = tasks?.find((x) => x.id === id) ?? null;
  const setTask = (t: ScheduledTaskView) => setTasks((l) => l?.map((x) => (x.id === t.id ? t : x)) ?? null);
  const runs = useScheduledRuns(id).data ?? null;
  const [saved, setSaved] = useState(false);
  const readableError = useReadableError();
  const t = useTranslations("schedules");
  const tr = useTranslations();
  const locale = useLocale();
  const format = useFormatter();
  const error = missing
    ? t("missing")
    : loadError
      ? readableError(loadError)
      : tasks && !task
        ? t("detail.notFound")
        : null;

  return (
    <div className="page">
      <p>
        <Link href="/scheduled">{t("detail.back")}</Link>
      </p>
      {error && (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      {task && (
        <>
          <h1>{task.name}</h1>
          <ScheduleForm
            key={task.updated_at}
            initial={task}
            onSaved={(t) => {
              setTask(t);
              setSaved(true);
            }}
          />
          {saved && <p className="muted small">{tr("common.states.saved")}</p>}
          {task.upcoming.length > 0 && (
            <p className="small">{t("detail.nextFires", { list: task.upcoming.map((u) => formatIn(u, task.timezone, locale)).join(" · ") })}</p>
          )}
        </>
      )}
      <h2>{t("detail.history")}</h2>
      {runs === null ? (
        <p className="muted">{tr("common.states.loading")}</p>
      ) : runs.length === 0 ? (
        <p className="muted">{t("detail.noRuns")}</p>
      ) : (
        <table className="history">
          <thead>
            <tr>
              <th>{t("detail.started")}</th>
              <th>{t("detail.status")}</th>
              <th>{t("detail.cost")}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td>{format.dateTime(new Date(r.started_at ?? r.created_at), { dateStyle: "medium", timeStyle: "short" })}</td>
                <td>
                  <StatusBadge status={r.status} />
                  {r.error && <span className="error small"> {r.error}</span>}
                </td>
                <td>{r.usage ? <RunCost reported={r.usage.total_cost_usd} tokens={r.usage} model={r.model} estimated={r.usage.estimated} /> : "—"}</td>
                <td>
                  <Link href={`/sessions/${r.session_id}`}>{tr("common.actions.open")}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
