"use client";
// The run's files from its export manifest: a tree, a preview through the presigned URL, single
// downloads and the whole archive, and what the run changed (with diffs from its Edit/Write calls).
import { useEffect, useMemo, useState } from "react";
import type { ArchiveLink, Event, RunFile, RunFiles, RunView } from "@/generated/protocol";
import { api, ApiError, readableError } from "@/lib/api";
import { buildTree, previewKind, type TreeNode } from "@/lib/fileTree";
import { languageFor } from "@/lib/highlight";
import { Code } from "./Code";
import { Diff } from "./Diff";
import { Markdown } from "./Markdown";

const MAX_TEXT_PREVIEW = 1024 * 1024;

export function FilesPanel({ runs, events, initialRun }: { runs: RunView[]; events: Event[]; initialRun: string | null }) {
  const ordered = useMemo(() => [...runs].sort((a, b) => b.created_at.localeCompare(a.created_at)), [runs]);
  const [runId, setRunId] = useState<string | null>(initialRun);
  const [files, setFiles] = useState<RunFiles | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [selected, setSelected] = useState<RunFile | null>(null);
  const [loading, setLoading] = useState(false);
  const run = ordered.find((r) => r.id === runId);

  useEffect(() => {
    if (!runId && ordered[0]) setRunId(ordered[0].id);
  }, [runId, ordered]);

  const load = async (id: string) => {
    setLoading(true);
    setError(null);
    try {
      setFiles(await api<RunFiles>(`/runs/${id}/files`));
    } catch (e) {
      setFiles(null);
      if (e instanceof ApiError && e.routeMissing) setMissing(true);
      else setError(readableError(e));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    setSelected(null);
    if (runId) void load(runId);
    // The export lands when the run ends: reload then.
  }, [runId, run?.status, run?.export?.status]);

  const archive = async () => {
    if (!runId) return;
    try {
      const link = await api<ArchiveLink>(`/runs/${runId}/archive`);
      window.location.assign(link.url);
    } catch (e) {
      setError(e instanceof ApiError && e.routeMissing ? "Archives are not available on this server." : readableError(e));
    }
  };

  const tree = useMemo(() => (files ? buildTree(files.files.filter((f) => f.change !== "deleted")) : null), [files]);
  const deleted = files?.files.filter((f) => f.change === "deleted") ?? [];

  return (
    <div className="files" data-testid="files">
      <div className="files-bar">
        <label>
          Run{" "}
          <select value={runId ?? ""} onChange={(e) => setRunId(e.target.value)}>
            {ordered.map((r, i) => (
              <option key={r.id} value={r.id}>
                #{ordered.length - i} · {r.prompt.slice(0, 40)} ({r.status})
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <button className="button" onClick={() => runId && void load(runId)} disabled={loading}>
          Refresh
        </button>
        <button className="button" onClick={() => void archive()} disabled={!files || files.export_status !== "ready"} data-testid="archive">
          Download all (.zip)
        </button>
      </div>
      {missing && <p className="muted pad">File browsing is not available on this server yet.</p>}
      {error && (
        <p className="error pad" role="alert">
          {error}
        </p>
      )}
      {files && files.export_status === null && <p className="muted pad">The files appear here once the run has finished and its workspace is exported.</p>}
      {files && files.export_status === "failed" && <p className="error pad">The export of this run failed; its files are not available.</p>}
      {files && tree && (
        <div className="files-body">
          <div className="tree" role="tree" aria-label="Files">
            {tree.children.length === 0 && <p className="muted small">No files.</p>}
            {tree.children.map((n) => (
              <TreeItem key={n.path} node={n} selected={selected?.path ?? null} onSelect={setSelected} />
            ))}
            {deleted.length > 0 && (
              <div className="small">
                <div className="muted">Deleted</div>
                {deleted.map((f) => (
                  <div key={f.path} className="change-deleted">
                    {f.path}
                  </div>
                ))}
              </div>
            )}
          </div>
          <div className="preview" data-testid="preview">
            {selected ? <Preview file={selected} /> : <p className="muted">Choose a file to preview it.</p>}
          </div>
        </div>
      )}
      {runId && <RunChanges runId={runId} events={events} />}
    </div>
  );
}

function TreeItem({ node, selected, onSelect }: { node: TreeNode; selected: string | null; onSelect: (f: RunFile) => void }) {
  const [open, setOpen] = useState(true);
  if (node.file) {
    const f = node.file;
    return (
      <div role="treeitem" aria-selected={selected === f.path} className={`tree-file ${selected === f.path ? "active" : ""}`}>
        <button onClick={() => onSelect(f)} title={f.path}>
          {node.name}
        </button>
        {f.change !== "unchanged" && <span className={`change change-${f.change}`}>{f.change}</span>}
        <span className="muted small">{formatSize(f.size)}</span>
      </div>
    );
  }
  return (
    <div role="treeitem" aria-expanded={open} className="tree-dir">
      <button onClick={() => setOpen((o) => !o)}>
        {open ? "▾" : "▸"} {node.name}/
      </button>
      {open && (
        <div className="tree-children" role="group">
          {node.children.map((c) => (
            <TreeItem key={c.path} node={c} selected={selected} onSelect={onSelect} />
          ))}
        </div>
      )}
    </div>
  );
}

function Preview({ file }: { file: RunFile }) {
  const kind = previewKind(file.path, file.content_type);
  const [text, setText] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  const needsText = (kind === "text" || kind === "markdown" || kind === "html") && file.size <= MAX_TEXT_PREVIEW;

  useEffect(() => {
    setText(null);
    setFailed(false);
    if (!needsText || !file.url) return;
    const ctrl = new AbortController();
    fetch(file.url, { signal: ctrl.signal })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(String(r.status)))))
      .then(setText)
      .catch(() => !ctrl.signal.aborted && setFailed(true));
    return () => ctrl.abort();
  }, [file.url, needsText]);

  if (!file.url) return <p className="muted">This file was deleted.</p>;
  const header = (
    <div className="preview-head">
      <strong>{file.path}</strong> <span className="muted small">{formatSize(file.size)}</span>
      <span className="spacer" />
      <a className="button small" href={file.url} download={file.path.split("/").pop()} target="_blank" rel="noopener noreferrer">
        Download
      </a>
    </div>
  );
  // The storage serves every file as an attachment (Content-Disposition, signed into the URL) so
  // that an agent-written page never renders in the storage's origin: a URL opened in a frame or
  // a tab downloads. Images still show in <img>; text is fetched and shown here.
  let body: React.ReactNode;
  if (kind === "image") body = <img className="preview-image" src={file.url} alt={file.path} />;
  else if (!needsText) body = <p className="muted">No preview for this file. Download it instead.</p>;
  else if (failed) {
    body = (
      <p className="muted" data-testid="preview-unavailable">
        The storage does not let this page read the file (its CORS rules do not list this site). Download it instead.
      </p>
    );
  } else if (text === null) body = <p className="muted">Loading…</p>;
  else if (kind === "markdown") body = <Markdown text={text} />;
  // Scripts may run, but in an opaque origin: no cookies, no access to this page.
  else if (kind === "html") body = <iframe className="preview-frame" sandbox="allow-scripts" srcDoc={text} title={file.path} />;
  else body = <Code code={text} language={languageFor(file.path)} />;
  return (
    <>
      {header}
      {body}
    </>
  );
}

/** The run's changed files (its `file_changes` event) with the diffs of the edits that made them. */
function RunChanges({ runId, events }: { runId: string; events: Event[] }) {
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
      <h2>Changes in this run</h2>
      <ul>
        {changes.map((c) => {
          const diffs = editsFor(c.path);
          return (
            <li key={c.path}>
              <button className="link-button" onClick={() => setOpen(open === c.path ? null : c.path)} disabled={diffs.length === 0}>
                <span className={`change change-${c.change}`}>{c.change}</span> {c.old_path ? `${c.old_path} → ` : ""}
                {c.path}
              </button>{" "}
              <span className="add-count">+{c.lines_added}</span> <span className="del-count">−{c.lines_deleted}</span>
              {open === c.path && diffs.map((d, i) => <Diff key={i} path={d.path} before={d.before} after={d.after} />)}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
