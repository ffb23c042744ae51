"use client";
// The run's files from its export manifest: a tree (each folder downloadable as a zip), a
// preview through the presigned URL (components/preview), each changed file's diff against the
// previous export (components/diff, `GET /runs/{id}/diff`), single downloads and the whole
// archive, and the run's list of changes.
import { useEffect, useMemo, useState } from "react";
import { useTranslations } from "next-intl";
import type { ArchiveLink, Event, RunFile, RunFiles, RunView } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { buildTree, type TreeNode } from "@/lib/fileTree";
import { useReadableError } from "@/lib/useReadableError";
import { Diff } from "./Diff";
import { RunDiff } from "./diff/RunDiff";
import { FilePreview } from "./preview/FilePreview";
import { useFileSize } from "./preview/useFileSize";

type Tab = "preview" | "changes";

export function FilesPanel({ runs, events, initialRun }: { runs: RunView[]; events: Event[]; initialRun: string | null }) {
  const t = useTranslations("files.panel");
  const tStatus = useTranslations("files.runStatus");
  const readable = useReadableError();
  const ordered = useMemo(() => [...runs].sort((a, b) => b.created_at.localeCompare(a.created_at)), [runs]);
  const [runId, setRunId] = useState<string | null>(initialRun);
  const [files, setFiles] = useState<RunFiles | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [selected, setSelected] = useState<{ file: RunFile; tab: Tab } | null>(null);
  const [loading, setLoading] = useState(false);
  const [zipping, setZipping] = useState<string | null>(null);
  const run = ordered.find((r) => r.id === runId);

  useEffect(() => {
    if (!runId && ordered[0]) setRunId(ordered[0].id);
  }, [runId, ordered]);

  const load = async (id: string) => {
    setLoading(true);
    setError(null);
    try {
      const next = await api<RunFiles>(`/runs/${id}/files`);
      setFiles(next);
      // Keep the open file (with its fresh URL) across a refresh.
      setSelected((s) => {
        const again = s && next.files.find((f) => f.path === s.file.path);
        return again && s ? { file: again, tab: s.tab } : null;
      });
    } catch (e) {
      setFiles(null);
      if (e instanceof ApiError && e.routeMissing) setMissing(true);
      else setError(readable(e));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    setSelected(null);
    if (runId) void load(runId);
    // The export lands when the run ends: reload then.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId, run?.status, run?.export?.status]);

  /** The whole workspace (`folder` null) or one folder, as a zip: follows the presigned link. */
  const archive = async (folder: string | null) => {
    if (!runId) return;
    setZipping(folder ?? "");
    setError(null);
    try {
      const query = folder === null ? "" : `?path=${encodeURIComponent(`${folder}/`)}`;
      const link = await api<ArchiveLink>(`/runs/${runId}/archive${query}`);
      window.location.assign(link.url);
    } catch (e) {
      if (e instanceof ApiError && e.routeMissing) setError(t("archiveUnavailable"));
      else if (e instanceof ApiError && e.code === "payload_too_large") setError(t("folderTooLarge"));
      else setError(readable(e));
    } finally {
      setZipping(null);
    }
  };

  const select = (file: RunFile) => setSelected({ file, tab: file.change === "unchanged" ? "preview" : "changes" });
  const tree = useMemo(() => (files ? buildTree(files.files.filter((f) => f.change !== "deleted")) : null), [files]);
  const deleted = files?.files.filter((f) => f.change === "deleted") ?? [];
  const ready = files?.export_status === "ready";

  return (
    <div className="files" data-testid="files">
      <div className="files-bar">
        <label>
          {t("run")}{" "}
          <select value={runId ?? ""} onChange={(e) => setRunId(e.target.value)}>
            {ordered.map((r, i) => (
              <option key={r.id} value={r.id}>
                {t("runOption", { n: ordered.length - i, prompt: r.prompt.slice(0, 40), status: tStatus(r.status) })}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <button className="button" onClick={() => runId && void load(runId)} disabled={loading}>
          {t("refresh")}
        </button>
        <button className="button" onClick={() => void archive(null)} disabled={!ready || zipping !== null} data-testid="archive">
          {zipping === "" ? t("preparing") : t("downloadAll")}
        </button>
      </div>
      {missing && <p className="muted pad">{t("unavailable")}</p>}
      {error && (
        <p className="error pad" role="alert">
          {error}
        </p>
      )}
      {files && files.export_status === null && <p className="muted pad">{t("pending")}</p>}
      {files && files.export_status === "failed" && <p className="error pad">{t("exportFailed")}</p>}
      {files && tree && (
        <div className="files-body">
          <div className="tree" role="tree" aria-label={t("treeLabel")}>
            {tree.children.length === 0 && <p className="muted small">{t("noFiles")}</p>}
            {tree.children.map((n) => (
              <TreeItem
                key={n.path}
                node={n}
                selected={selected?.file.path ?? null}
                onSelect={select}
                onDownload={ready ? (p) => void archive(p) : null}
                zipping={zipping}
              />
            ))}
            {deleted.length > 0 && (
              <div className="small tree-deleted">
                <div className="muted">{t("deleted")}</div>
                {deleted.map((f) => (
                  <div key={f.path} className={`tree-file ${selected?.file.path === f.path ? "active" : ""}`}>
                    <button className="change-deleted" onClick={() => select(f)} title={f.path}>
                      {f.path}
                    </button>
                  </div>
                ))}
              </div>
            )}
          </div>
          <div className="preview" data-testid="preview">
            {selected && runId ? (
              <Viewer
                key={`${runId}:${selected.file.path}`}
                runId={runId}
                file={selected.file}
                files={files.files}
                tab={selected.tab}
                onTab={(tab) => setSelected({ ...selected, tab })}
                canDiff={ready}
              />
            ) : (
              <p className="muted">{t("choose")}</p>
            )}
          </div>
        </div>
      )}
      {runId && <RunChanges runId={runId} events={events} exportReady={ready} />}
    </div>
  );
}

function TreeItem({
  node,
  selected,
  onSelect,
  onDownload,
  zipping,
}: {
  node: TreeNode;
  selected: string | null;
  onSelect: (f: RunFile) => void;
  onDownload: ((folder: string) => void) | null;
  zipping: string | null;
}) {
  const t = useTranslations("files.panel");
  const tChange = useTranslations("files.change");
  const size = useFileSize();
  const [open, setOpen] = useState(true);
  if (node.file) {
    const f = node.file;
    return (
      <div role="treeitem" aria-selected={selected === f.path} className={`tree-file ${selected === f.path ? "active" : ""}`}>
        <button onClick={() => onSelect(f)} title={f.path}>
          {node.name}
        </button>
        {f.change !== "unchanged" && <span className={`change change-${f.change}`}>{tChange(f.change)}</span>}
        <span className="muted small">{size(f.size)}</span>
      </div>
    );
  }
  return (
    <div role="treeitem" aria-expanded={open} aria-selected={false} className="tree-dir">
      <div className="tree-dir-row">
        <button onClick={() => setOpen((o) => !o)}>
          {open ? "▾" : "▸"} {node.name}/
        </button>
        {onDownload && (
          <button
            className="tree-zip"
            onClick={() => onDownload(node.path)}
            disabled={zipping !== null}
            title={t("downloadFolder", { folder: node.path })}
            aria-label={t("downloadFolder", { folder: node.path })}
            data-testid="folder-download"
          >
            {zipping === node.path ? "…" : "⤓"}
          </button>
        )}
      </div>
      {open && (
        <div className="tree-children" role="group">
          {node.children.map((c) => (
            <TreeItem key={c.path} node={c} selected={selected} onSelect={onSelect} onDownload={onDownload} zipping={zipping} />
          ))}
        </div>
      )}
    </div>
  );
}

/** The chosen file: its header, and its preview or (for a changed file) its diff. */
function Viewer({
  runId,
  file,
  files,
  tab,
  onTab,
  canDiff,
}: {
  runId: string;
  file: RunFile;
  files: RunFile[];
  tab: Tab;
  onTab: (t: Tab) => void;
  canDiff: boolean;
}) {
  const t = useTranslations("files.panel");
  const size = useFileSize();
  const changed = file.change !== "unchanged" && canDiff;
  const shown: Tab = !file.url ? "changes" : changed ? tab : "preview";
  return (
    <>
      <div className="preview-head">
        <strong>{file.path}</strong> {file.url && <span className="muted small">{size(file.size)}</span>}
        <span className="spacer" />
        {changed && file.url && (
          <div className="segmented" role="tablist" aria-label={t("viewLabel")}>
            <button role="tab" aria-selected={shown === "changes"} className={shown === "changes" ? "active" : ""} onClick={() => onTab("changes")}>
              {t("changesTab")}
            </button>
            <button role="tab" aria-selected={shown === "preview"} className={shown === "preview" ? "active" : ""} onClick={() => onTab("preview")}>
              {t("previewTab")}
            </button>
          </div>
        )}
        {file.url && (
          <a className="button small" href={file.url} download={file.path.split("/").pop()} target="_blank" rel="noopener noreferrer">
            {t("download")}
          </a>
        )}
      </div>
      {shown === "changes" ? <RunDiff runId={runId} path={file.path} /> : <FilePreview runId={runId} file={file} files={files} />}
    </>
  );
}

/** The run's changed files (its `file_changes` event): each opens its diff against the previous
 * export, or, before the export (or on a server without diffs), the diffs of the Edit/Write calls
 * that made it. */
function RunChanges({ runId, events, exportReady }: { runId: string; events: Event[]; exportReady: boolean }) {
  const t = useTranslations("files.changes");
  const tChange = useTranslations("files.change");
  const [open, setOpen] = useState<string | null>(null);
  const { changes, edits } = useMemo(() => {
    const runEvents = events.filter((e) => e.run_id === runId);
    const changes = runEvents.flatMap((e) => (e.type === "file_changes" ? e.payload.changes : []));
    const edits: { path: string; before: string; after: string }[] = [];
    for (const e of runEvents) {
      if (e.type !== "tool_use") continue;
      const input = e.payload.input as Record<string, unknown> | null;
      if (!input || typeof input.file_path !== "string") continue;
      if (e.payload.name === "Write") edits.push({ path: input.file_path, before: "", after: String(input.content ?? "") });
      if (e.payload.name === "Edit") edits.push({ path: input.file_path, before: String(input.old_string ?? ""), after: String(input.new_string ?? "") });
    }
    return { changes, edits };
  }, [runId, events]);
  if (changes.length === 0) return null;
  const editsFor = (path: string) => edits.filter((e) => e.path === path || e.path.endsWith(`/${path}`));
  return (
    <div className="changes pad">
      <h2>{t("title")}</h2>
      <ul>
        {changes.map((c) => {
          const diffs = editsFor(c.path);
          const fallback =
            diffs.length > 0 ? (
              diffs.map((d, i) => <Diff key={i} path={d.path} before={d.before} after={d.after} />)
            ) : (
              <p className="muted small">{t("noDiff")}</p>
            );
          return (
            <li key={c.path}>
              <button className="link-button" onClick={() => setOpen(open === c.path ? null : c.path)} disabled={!exportReady && diffs.length === 0} aria-expanded={open === c.path}>
                <span className={`change change-${c.change}`}>{tChange(c.change)}</span> {c.old_path ? `${c.old_path} → ` : ""}
                {c.path}
              </button>{" "}
              <span className="add-count">+{c.lines_added}</span> <span className="del-count">−{c.lines_deleted}</span>
              {open === c.path && (exportReady ? <RunDiff runId={runId} path={c.path} fallback={fallback} /> : fallback)}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
