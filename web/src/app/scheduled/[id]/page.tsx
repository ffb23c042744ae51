"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useEffect, useState } from "react";
import type { ScheduledRunList, ScheduledTaskList, ScheduledTaskView } from "@/generated/protocol";
import { api, ApiError, readableError } from "@/lib/api";
import { formatIn, ScheduleForm } from "@/components/ScheduleForm";
import { StatusBadge } from "@/components/StatusBadge";
import { RunCost } from "@/components/Cost";

export default function ScheduledTaskPage() {
  const { id } = useParams<{ id: string }>();
  const [task, setTask] = useState<ScheduledTaskView | null>(null);
  const [runs, setRuns] = useState<ScheduledRunList["runs"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    // There is no single-task GET in the contract: the list has it.
    api<ScheduledTaskList>("/scheduled-tasks")
      .then((l) => {
        const t = l.scheduled_tasks.find((x) => x.id === id);
        if (t) setTask(t);
        else setError("This scheduled task does not exist.");
      })
      .catch((e) => setError(e instanceof ApiError && e.routeMissing ? "Scheduled tasks are not available on this server yet." : readableError(e)));
    api<ScheduledRunList>(`/scheduled-tasks/${id}/runs`)
      .then((r) => setRuns(r.runs))
      .catch(() => setRuns([]));
  }, [id]);

  return (
    <div className="page">
      <p>
        <Link href="/scheduled">← Scheduled tasks</Link>
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
          {saved && <p className="muted small">Saved.</p>}
          {task.upcoming.length > 0 && (
            <p className="small">Next fires: {task.upcoming.map((u) => formatIn(u, task.timezone)).join(" · ")}</p>
          )}
        </>
      )}
      <h2>History</h2>
      {runs === null ? (
        <p className="muted">Loading…</p>
      ) : runs.length === 0 ? (
        <p className="muted">No runs yet.</p>
      ) : (
        <table className="history">
          <thead>
            <tr>
              <th>Started</th>
              <th>Status</th>
              <th>Cost</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <td>{new Date(r.started_at ?? r.created_at).toLocaleString()}</td>
                <td>
                  <StatusBadge status={r.status} />
                  {r.error && <span className="error small"> {r.error}</span>}
                </td>
                <td>{r.usage ? <RunCost reported={r.usage.total_cost_usd} tokens={r.usage} model={r.model} estimated={r.usage.estimated} /> : "—"}</td>
                <td>
                  <Link href={`/sessions/${r.session_id}`}>Open</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
