"use client";
// Create or edit a scheduled task. The cron expression is described in words as it is typed and
// the server previews the next fire times in the chosen time zone.
import { useEffect, useMemo, useState } from "react";
import cronstrue from "cronstrue";
import type { CreateScheduledTaskRequest, CronPreview, PermissionMode, ScheduledTaskView, SessionMode } from "@/generated/protocol";
import { api, ApiError, readableError } from "@/lib/api";
import { PERMISSION_MODES } from "@/lib/permissionModes";

function timeZones(): string[] {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
}

export function describeCron(cron: string): { text: string; ok: boolean } {
  try {
    return { text: cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: true }), ok: true };
  } catch (e) {
    return { text: typeof e === "string" ? e : "not a valid cron expression", ok: false };
  }
}

export function formatIn(iso: string, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso));
  } catch {
    return iso;
  }
}

export function ScheduleForm({ initial, onSaved }: { initial?: ScheduledTaskView; onSaved: (t: ScheduledTaskView) => void }) {
  const browserTz = useMemo(() => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", []);
  const [name, setName] = useState(initial?.name ?? "");
  const [prompt, setPrompt] = useState(initial?.prompt ?? "");
  const [cron, setCron] = useState(initial?.cron ?? "0 9 * * 1-5");
  const [timezone, setTimezone] = useState(initial?.timezone ?? browserTz);
  const [enabled, setEnabled] = useState(initial?.enabled ?? true);
  const [sessionMode, setSessionMode] = useState<SessionMode>(initial?.session_mode ?? "new");
  const [model, setModel] = useState(initial?.model ?? "");
  const [mode, setMode] = useState<PermissionMode>(initial?.permission_mode ?? "bypassPermissions");
  const [preview, setPreview] = useState<string[] | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const described = describeCron(cron);
  const zones = useMemo(timeZones, []);

  useEffect(() => {
    if (!described.ok) {
      setPreview(null);
      return;
    }
    const t = setTimeout(() => {
      api<CronPreview>(`/scheduled-tasks/preview?cron=${encodeURIComponent(cron)}&timezone=${encodeURIComponent(timezone)}`)
        .then((p) => {
          setPreview(p.upcoming);
          setPreviewError(null);
        })
        .catch((e) => {
          setPreview(null);
          setPreviewError(e instanceof ApiError && e.routeMissing ? null : readableError(e));
        });
    }, 250);
    return () => clearTimeout(t);
  }, [cron, timezone, described.ok]);

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setError(null);
    const body: CreateScheduledTaskRequest = {
      name,
      prompt,
      cron,
      timezone,
      enabled,
      session_mode: sessionMode,
      model: model.trim() || null,
      permission_mode: mode,
    };
    try {
      const saved = initial
        ? await api<ScheduledTaskView>(`/scheduled-tasks/${initial.id}`, { method: "PATCH", json: body })
        : await api<ScheduledTaskView>("/scheduled-tasks", { method: "POST", json: body });
      onSaved(saved);
    } catch (err) {
      setError(err instanceof ApiError && err.routeMissing ? "Scheduled tasks are not available on this server yet." : readableError(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="schedule-form" onSubmit={(e) => void save(e)}>
      <label>
        Name
        <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
      </label>
      <label>
        Prompt
        <textarea required rows={4} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </label>
      <div className="grid2">
        <label>
          Schedule (cron: minute hour day month weekday)
          <input required value={cron} onChange={(e) => setCron(e.target.value)} className="mono" aria-describedby="cron-words" />
        </label>
        <label>
          Time zone
          <select value={timezone} onChange={(e) => setTimezone(e.target.value)}>
            {!zones.includes(timezone) && <option value={timezone}>{timezone}</option>}
            {zones.map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p id="cron-words" className={described.ok ? "cron-words" : "error small"}>
        {described.text}
        {described.ok && ` (${timezone})`}
      </p>
      {preview && (
        <div className="small">
          Next runs:
          <ul className="upcoming">
            {preview.map((p) => (
              <li key={p}>{formatIn(p, timezone)}</li>
            ))}
          </ul>
        </div>
      )}
      {previewError && <p className="error small">{previewError}</p>}
      <div className="grid2">
        <label>
          Session
          <select value={sessionMode} onChange={(e) => setSessionMode(e.target.value as SessionMode)}>
            <option value="new">A new session each time</option>
            <option value="reuse">Continue the same session</option>
          </select>
        </label>
        <label>
          Permission mode
          <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode)}>
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Model
          <input value={model} onChange={(e) => setModel(e.target.value)} placeholder="server default" />
        </label>
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> Enabled
        </label>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button className="button primary" type="submit" disabled={saving}>
        {saving ? "Saving…" : initial ? "Save changes" : "Create scheduled task"}
      </button>
    </form>
  );
}
