"use client";
// One file of a run against the previous export of its session (`GET /runs/{id}/diff?path=`):
// unified or side by side (the choice kept in localStorage), binary and too-large files said
// plainly. `fallback` is shown on a server without the route (the edit tools' own diffs).
import { useEffect, useState } from "react";
import { useTranslations } from "next-intl";
import type { FileDiff } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { useReadableError } from "@/lib/useReadableError";
import { DiffView, type DiffMode } from "./DiffView";
import { useFileSize } from "../preview/useFileSize";

const MODE_KEY = "workcell-diff-mode";

function savedMode(): DiffMode {
  try {
    return localStorage.getItem(MODE_KEY) === "split" ? "split" : "unified";
  } catch {
    return "unified";
  }
}

/** The unified / side-by-side choice, shared by every diff and remembered across visits. */
export function useDiffMode(): [DiffMode, (m: DiffMode) => void] {
  const [mode, setMode] = useState<DiffMode>("unified");
  useEffect(() => {
    setMode(savedMode());
    const onStorage = (e: StorageEvent) => e.key === MODE_KEY && setMode(savedMode());
    window.addEventListener("storage", onStorage);
    return () => window.removeEventListener("storage", onStorage);
  }, []);
  const choose = (m: DiffMode) => {
    setMode(m);
    try {
      localStorage.setItem(MODE_KEY, m);
    } catch {
      // storage disabled: the choice lasts for this page
    }
  };
  return [mode, choose];
}

export function DiffModeToggle({ mode, onChange }: { mode: DiffMode; onChange: (m: DiffMode) => void }) {
  const t = useTranslations("files.diff");
  return (
    <div className="segmented" role="group" aria-label={t("viewLabel")}>
      <button type="button" aria-pressed={mode === "unified"} className={mode === "unified" ? "active" : ""} onClick={() => onChange("unified")}>
        {t("unified")}
      </button>
      <button type="button" aria-pressed={mode === "split"} className={mode === "split" ? "active" : ""} onClick={() => onChange("split")}>
        {t("split")}
      </button>
    </div>
  );
}

export function RunDiff({ runId, path, fallback }: { runId: string; path: string; fallback?: React.ReactNode }) {
  const t = useTranslations("files.diff");
  const tChange = useTranslations("files.change");
  const readable = useReadableError();
  const size = useFileSize();
  const [mode, setMode] = useDiffMode();
  const [diff, setDiff] = useState<FileDiff | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);

  useEffect(() => {
    let live = true;
    setDiff(null);
    setError(null);
    setMissing(false);
    api<FileDiff>(`/runs/${runId}/diff?path=${encodeURIComponent(path)}`)
      .then((d) => live && setDiff(d))
      .catch((e) => {
        if (!live) return;
        if (e instanceof ApiError && e.routeMissing) setMissing(true);
        else setError(readable(e));
      });
    return () => {
      live = false;
    };
  }, [runId, path, readable]);

  if (missing) return <>{fallback ?? <p className="muted small">{t("unavailable")}</p>}</>;
  if (error)
    return (
      <p className="error small" role="alert">
        {error}
      </p>
    );
  if (!diff) return <p className="muted small">{t("loading")}</p>;

  const sizes =
    diff.old_size !== null && diff.new_size !== null
      ? t("sizes", { old: size(diff.old_size), new: size(diff.new_size) })
      : diff.new_size !== null
        ? size(diff.new_size)
        : diff.old_size !== null
          ? size(diff.old_size)
          : "";
  let body: React.ReactNode;
  if (diff.binary) body = <p className="muted" data-testid="diff-binary">{t("binary")}</p>;
  else if (diff.too_large) body = <p className="muted" data-testid="diff-too-large">{t("tooLarge")}</p>;
  else if (diff.hunks.length === 0) body = <p className="muted">{t("noChanges")}</p>;
  else body = <DiffView hunks={diff.hunks} mode={mode} label={t("changesTo", { path: diff.path })} />;

  return (
    <div className="run-diff" data-testid="run-diff">
      <div className="run-diff-head">
        <span className={`change change-${diff.change}`}>{tChange(diff.change)}</span>
        <span className="muted small">{diff.previous_run_id ? t("againstPrevious") : t("noPrevious")}</span>
        {sizes && <span className="muted small">{sizes}</span>}
        <span className="spacer" />
        {!diff.binary && !diff.too_large && diff.hunks.length > 0 && <DiffModeToggle mode={mode} onChange={setMode} />}
      </div>
      {body}
    </div>
  );
}
