"use client";
// Create or edit a scheduled task. The cron expression is described in words as it is typed and
// the server previews the next fire times in the chosen time zone.
import { useEffect, useMemo, useState } from "react";
import { useLocale, useTranslations } from "next-intl";
import cronstrue from "cronstrue";
// Registers cronstrue's Simplified Chinese with the same cronstrue instance.
import "cronstrue/locales/zh_CN";
import type { CreateScheduledTaskRequest, CronPreview, PermissionMode, ScheduledTaskView, SessionMode } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { PERMISSION_MODES, permissionModeLabel } from "@/lib/permissionModes";
import { useReadableError } from "@/lib/useReadableError";

function timeZones(): string[] {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
}

/** cronstrue's locale for the UI's. */
const CRON_LOCALES: Record<string, string> = { en: "en", zh: "zh_CN" };

/** A cron expression in words, in the UI's `locale`; `invalid`: what an expression cronstrue cannot
 * read says (in English, cronstrue's own explanation). */
export function describeCron(cron: string, locale = "en", invalid = "not a valid cron expression"): { text: string; ok: boolean } {
  try {
    return { text: cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: true, locale: CRON_LOCALES[locale] ?? "en" }), ok: true };
  } catch (e) {
    return { text: typeof e === "string" && locale === "en" ? e : invalid, ok: false };
  }
}

/** A moment in the schedule's own time zone, in the UI's `locale` (the browser's when not given). */
export function formatIn(iso: string, timeZone: string, locale?: string): string {
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(iso));
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
  const t = useTranslations("schedules.form");
  const tr = useTranslations();
  const locale = useLocale();
  const readable = useReadableError();
  const described = describeCron(cron, locale, t("invalidCron"));
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
          setPreviewError(e instanceof ApiError && e.routeMissing ? null : readable(e));
        });
    }, 250);
    return () => clearTimeout(t);
  }, [cron, timezone, described.ok, readable]);

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
      setError(err instanceof ApiError && err.routeMissing ? tr("schedules.missing") : readable(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="schedule-form" onSubmit={(e) => void save(e)}>
      <label>
        {t("name")}
        <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
      </label>
      <label>
        {t("prompt")}
        <textarea required rows={4} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </label>
      <div className="grid2">
        <label>
          {t("schedule")}
          <input required value={cron} onChange={(e) => setCron(e.target.value)} className="mono" aria-describedby="cron-words" />
        </label>
        <label>
          {t("timezone")}
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
          {t("nextRuns")}
          <ul className="upcoming">
            {preview.map((p) => (
              <li key={p}>{formatIn(p, timezone, locale)}</li>
            ))}
          </ul>
        </div>
      )}
      {previewError && <p className="error small">{previewError}</p>}
      <div className="grid2">
        <label>
          {t("session")}
          <select value={sessionMode} onChange={(e) => setSessionMode(e.target.value as SessionMode)}>
            <option value="new">{t("sessionNew")}</option>
            <option value="reuse">{t("sessionReuse")}</option>
          </select>
        </label>
        <label>
          {tr("common.permissionMode")}
          <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode)}>
            {PERMISSION_MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {permissionModeLabel(m.value, tr)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("model")}
          <input value={model} onChange={(e) => setModel(e.target.value)} placeholder={t("modelPlaceholder")} />
        </label>
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} /> {tr("common.states.enabled")}
        </label>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button className="button primary" type="submit" disabled={saving}>
        {saving ? tr("common.actions.saving") : initial ? tr("common.actions.saveChanges") : t("create")}
      </button>
    </form>
  );
}
