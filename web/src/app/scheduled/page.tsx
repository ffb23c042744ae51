"use client";
import Link from "next/link";
import { useEffect, useState } from "react";
import type { CreateTaskResponse, ScheduledTaskList, ScheduledTaskView } from "@/generated/protocol";
import { api, ApiError, readableError } from "@/lib/api";
import { describeCron, formatIn, ScheduleForm } from "@/components/ScheduleForm";
import { useRouter } from "next/navigation";

export default function ScheduledTasks() {
  const [tasks, setTasks] = useState<ScheduledTaskView[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const router = useRouter();

  const load = async () => {
    try {
      setTasks((await api<ScheduledTaskList>("/scheduled-tasks")).scheduled_tasks);
    } catch (e) {
      if (e instanceof ApiError && e.routeMissing) setMissing(true);
      else setError(readableError(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);

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
    if (!window.confirm(`Delete the scheduled task “${t.name}”?`)) return;
    try {
      await api<void>(`/scheduled-tasks/${t.id}`, { method: "DELETE" });
      setTasks((l) => l?.filter((x) => x.id !== t.id) ?? null);
    } catch (e) {
      setError(readableError(e));
    }
  };

  if (missing) return <p className="muted pad">Scheduled tasks are not available on this server yet.</p>;
  return (
    <div className="page">
      <div className="page-head">
        <h1>Scheduled tasks</h1>
        <span className="spacer" />
        <button className="button primary" onClick={() => setCreating((c) => !c)}>
          {creating ? "Close" : "New scheduled task"}
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
        <p className="muted">Loading…</p>
      ) : tasks.length === 0 ? (
        <p className="muted">No scheduled tasks yet.</p>
      ) : (
        <ul className="schedule-list">
          {tasks.map((t) => (
            <li key={t.id} className={t.enabled ? "" : "disabled"}>
              <div className="schedule-main">
                <Link href={`/scheduled/${t.id}`}>
                  <strong>{t.name}</strong>
                </Link>
                <div className="small">
                  <span className="mono">{t.cron}</span> · {describeCron(t.cron).text} · {t.timezone}
                </div>
                <div className="muted small">
                  {t.enabled && t.next_fire_at ? `Next: ${formatIn(t.next_fire_at, t.timezone)}` : "Disabled"}
                  {t.last_fired_at && ` · Last: ${formatIn(t.last_fired_at, t.timezone)}`}
                </div>
              </div>
              <div className="row-actions visible">
                <label className="check small">
                  <input type="checkbox" checked={t.enabled} onChange={() => void toggle(t)} /> Enabled
                </label>
                <button className="button small" onClick={() => void runNow(t)}>
                  Run now
                </button>
                <button className="button small danger" onClick={() => void remove(t)}>
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
