"use client";
import Link from "next/link";
import { useState } from "react";
import { useLocale, useTranslations } from "next-intl";
import type { CreateTaskResponse, ScheduledTaskView } from "@/generated/protocol";
import { api } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { useScheduledTasks } from "@/lib/query/scheduled";
import { describeCron, formatIn, ScheduleForm } from "@/components/ScheduleForm";
import { useRouter } from "next/navigation";
import { OptimisticCheckbox } from "@/components/OptimisticCheckbox";

export default function ScheduledTasks() {
  const { tasks, setTasks, missing, error: loadError } = useScheduledTasks();
  const [actionError, setError] = useState<string | null>(null);
  const readableError = useReadableError();
  const tt = useTranslations("schedules");
  const tr = useTranslations();
  const locale = useLocale();
  const error = actionError ?? (loadError ? readableError(loadError) : null);
  const [creating, setCreating] = useState(false);
  const router = useRouter();

  const toggle = async (t: ScheduledTaskView) => {
    const replace = (next: ScheduledTaskView) => setTasks((l) => l?.map((x) => (x.id === t.id ? next : x)) ?? null);
    // Optimistic: the box follows the click at once; the server's answer (next fire time) replaces
    // it, and a refusal puts the old state back.
    replace({ ...t, enabled: !t.enabled });
    try {
      replace(await api<ScheduledTaskView>(`/scheduled-tasks/${t.id}`, { method: "PATCH", json: { enabled: !t.enabled } }));
    } catch (e) {
      replace(t);
      setError(readableError(e));
    }
  };
  const runNow = async (t: ScheduledTaskView) => {
    try {
      const res = await api<CreateTaskResponse>(`/scheduled-tasks/${t.id}/run`, { method: "POST" });
      router.push(`/sessions/${res.session_id}`);
    } catch (e) {
      setError(readableError(e));
    }
  };
  const remove = async (t: ScheduledTaskView) => {
    if (!window.confirm(tt("confirmDelete", { name: t.name }))) return;
    try {
      await api<void>(`/scheduled-tasks/${t.id}`, { method: "DELETE" });
      setTasks((l) => l?.filter((x) => x.id !== t.id) ?? null);
    } catch (e) {
      setError(readableError(e));
    }
  };

  if (missing) return <p className="muted pad">{tt("missing")}</p>;
  return (
    <div className="page">
      <div className="page-head">
        <h1>{tt("title")}</h1>
        <span className="spacer" />
        <button className="button primary" onClick={() => setCreating((c) => !c)}>
          {creating ? tr("common.actions.close") : tt("new")}
        </button>
      </div>
      {error && (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      {creating && (
        <ScheduleForm
          onSaved={(t) => {
            setCreating(false);
            setTasks((l) => [t, ...(l ?? [])]);
          }}
        />
      )}
      {tasks === null ? (
        <p className="muted">{tr("common.states.loading")}</p>
      ) : tasks.length === 0 ? (
        <p className="muted">{tt("none")}</p>
      ) : (
        <ul className="schedule-list">
          {tasks.map((t) => (
            <li key={t.id} className={t.enabled ? "" : "disabled"}>
              <div className="schedule-main">
                <Link href={`/scheduled/${t.id}`}>
                  <strong>{t.name}</strong>
                </Link>
                <div className="small">
                  <span className="mono">{t.cron}</span> · {describeCron(t.cron, locale, tt("form.invalidCron")).text} · {t.timezone}
                </div>
                <div className="muted small">
                  {t.enabled && t.next_fire_at ? tt("next", { when: formatIn(t.next_fire_at, t.timezone, locale) }) : tt("disabled")}
                  {t.last_fired_at && tt("last", { when: formatIn(t.last_fired_at, t.timezone, locale) })}
                </div>
              </div>
              <div className="row-actions visible">
                <label className="check small">
                  <OptimisticCheckbox checked={t.enabled} onChange={() => void toggle(t)} /> {tr("common.states.enabled")}
                </label>
                <button className="button small" onClick={() => void runNow(t)}>
                  {tt("runNow")}
                </button>
                <button className="button small danger" onClick={() => void remove(t)}>
                  {tr("common.actions.delete")}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
