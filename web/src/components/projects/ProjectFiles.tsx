"use client";
// A project's files: staged into every run's `inputs/` (a task's attachment of the same name
// wins). Upload (several at once), list, delete.
import { useRef, useState } from "react";
import type { AttachmentView, ProjectView } from "@/generated/protocol";
import { readableError } from "@/lib/api";
import { formatBytes } from "@/lib/capabilities";
import { deleteProjectFile, uploadProjectFile } from "@/lib/projects";

interface Upload {
  key: string;
  name: string;
  error?: string;
}

export function ProjectFiles({
  project,
  onChanged,
}: {
  project: ProjectView;
  /** Changes the project's file list (an update of the latest list: uploads finish one by one). */
  onChanged: (update: (files: AttachmentView[]) => AttachmentView[]) => void;
}) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const upload = async (chosen: FileList) => {
    for (const file of Array.from(chosen)) {
      const key = `${file.name}-${Date.now()}-${Math.random()}`;
      setUploads((u) => [...u, { key, name: file.name }]);
      try {
        const saved = await uploadProjectFile(project.id, file);
        onChanged((files) => [...files.filter((f) => f.id !== saved.id), saved]);
        setUploads((u) => u.filter((x) => x.key !== key));
      } catch (e) {
        setUploads((u) => u.map((x) => (x.key === key ? { ...x, error: readableError(e) } : x)));
      }
    }
  };

  const remove = async (f: AttachmentView) => {
    if (!window.confirm(`Remove ${f.name} from the project? Runs already started keep their copy.`)) return;
    try {
      await deleteProjectFile(project.id, f.id);
      onChanged((files) => files.filter((x) => x.id !== f.id));
    } catch (e) {
      setError(readableError(e));
    }
  };

  return (
    <section data-testid="project-files">
      <div className="cap-tab-head">
        <div className="muted small cap-intro">
          Every run of this project&apos;s sessions finds these files in <code>inputs/</code> (a task&apos;s own attachment of the same name wins).
        </div>
        <button className="button primary" onClick={() => input.current?.click()}>
          Upload files
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          aria-label="Project files"
          data-testid="project-file-upload"
          onChange={(e) => {
            if (e.target.files) void upload(e.target.files);
            e.target.value = "";
          }}
        />
      </div>
      {uploads.map((u) => (
        <div key={u.key} className={`upload-state ${u.error ? "error" : ""}`} role={u.error ? "alert" : "status"}>
          {u.error ? (
            <>
              {u.name} was not accepted: {u.error}{" "}
              <button className="link-button" onClick={() => setUploads((l) => l.filter((x) => x.key !== u.key))}>
                Dismiss
              </button>
            </>
          ) : (
            <span className="muted">Uploading {u.name}…</span>
          )}
        </div>
      ))}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {project.files.length === 0 ? (
        <p className="muted">No files yet.</p>
      ) : (
        <ul className="cap-list">
          {project.files.map((f) => (
            <li key={f.id} data-name={f.name}>
              <div className="cap-row">
                <div className="cap-main">
                  <span className="mono">{f.name}</span>
                  <div className="muted small">
                    {formatBytes(f.size)} · {f.content_type} · added {new Date(f.created_at).toLocaleString()}
                  </div>
                </div>
                <div className="cap-actions">
                  <button className="button small danger" onClick={() => void remove(f)} aria-label={`Remove ${f.name}`}>
                    Remove
                  </button>
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
