"use client";
// The follow-ups queued behind the session's active run, above the composer: each prompt with
// Edit (in place), Delete and Send now (cancels the active run, then runs it). Re-read whenever
// the session changes (`version`); hidden when nothing is queued or the server has no queue.
import { useCallback, useEffect, useRef, useState } from "react";
import { useTranslations } from "next-intl";
import type { QueuedRunView } from "@/generated/protocol";
import { useReadableError } from "@/lib/useReadableError";
import { deleteQueued, editQueued, isNotQueued, loadQueue, sendQueuedNow } from "@/lib/queue";

export function QueueStrip({ sessionId, version, onChanged }: { sessionId: string; version: unknown; onChanged: () => void }) {
  const [runs, setRuns] = useState<QueuedRunView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<{ runId: string; prompt: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const latest = useRef(0);
  const readableError = useReadableError();
  const t = useTranslations("tools.queue");
  const tr = useTranslations();

  const refresh = useCallback(async () => {
    const ticket = ++latest.current;
    try {
      const q = await loadQueue(sessionId);
      if (ticket === latest.current) setRuns(q ?? []);
    } catch (e) {
      if (ticket === latest.current) setError(readableError(e));
    }
  }, [sessionId, readableError]);

  useEffect(() => {
    void refresh();
  }, [refresh, version]);

  const act = async (runId: string, action: () => Promise<unknown>) => {
    setBusy(runId);
    setError(null);
    try {
      await action();
    } catch (e) {
      // It started (or went) meanwhile: the re-read shows where it is now.
      if (!isNotQueued(e)) setError(readableError(e));
    } finally {
      setBusy(null);
      setEditing((ed) => (ed?.runId === runId ? null : ed));
      await refresh();
      onChanged();
    }
  };

  if (runs.length === 0 && !error) return null;
  return (
    <section className="queue-strip" aria-label={t("label")} data-testid="queue-strip">
      <div className="muted small">{t("intro", { count: runs.length })}</div>
      <ol>
        {runs.map((r) => (
          <li key={r.run_id} className="queue-item" data-run={r.run_id}>
            <span className="badge">{r.position}</span>
            {editing?.runId === r.run_id ? (
              <form
                className="queue-item"
                style={{ flex: 1 }}
                onSubmit={(e) => {
                  e.preventDefault();
                  const prompt = editing.prompt;
                  if (prompt.trim()) void act(r.run_id, () => editQueued(sessionId, r.run_id, prompt));
                }}
              >
                <textarea
                  value={editing.prompt}
                  onChange={(e) => setEditing({ runId: r.run_id, prompt: e.target.value })}
                  onKeyDown={(e) => e.key === "Escape" && setEditing(null)}
                  rows={2}
                  autoFocus
                  aria-label={t("promptLabel")}
                />
                <button type="submit" className="button small primary" disabled={busy === r.run_id || !editing.prompt.trim()}>
                  {tr("common.actions.save")}
                </button>
                <button type="button" className="button small" onClick={() => setEditing(null)}>
                  {tr("common.actions.cancel")}
                </button>
              </form>
            ) : (
              <>
                <span className="queue-prompt" data-testid="queued-prompt">
                  {r.prompt}
                </span>
                <button type="button" className="button small" disabled={busy === r.run_id} onClick={() => setEditing({ runId: r.run_id, prompt: r.prompt })}>
                  {tr("common.actions.edit")}
                </button>
                <button type="button" className="button small danger" disabled={busy === r.run_id} onClick={() => void act(r.run_id, () => deleteQueued(sessionId, r.run_id))}>
                  {tr("common.actions.delete")}
                </button>
                <button
                  type="button"
                  className="button small"
                  disabled={busy === r.run_id}
                  title={t("sendNowTitle")}
                  onClick={() => void act(r.run_id, () => sendQueuedNow(sessionId, r.run_id))}
                >
                  {t("sendNow")}
                </button>
              </>
            )}
          </li>
        ))}
      </ol>
      {error && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
