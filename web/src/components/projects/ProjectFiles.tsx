"use client";
// A project's files: staged into every run's `inputs/` (a task's attachment of the same name
// wins). Upload (several at once), list, delete.
import { useRef, useState } from "react";
import { useFormatter, useTranslations } from "next-intl";
import type { AttachmentView, ProjectView } from "@/generated/protocol";
import { formatBytes } from "@/lib/capabilities";
import { useReadableError } from "@/lib/useReadableError";
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
  const t = useTranslations("projects.files");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();

  const upload = async (chosen: FileList) => {
    for (const file of Array.from(chosen)) {
      const key = `${file.name}-${Date.now()}-${Math.random()}`;
      setUploads((u) => [...u, { key, name: file.name }]);
      try {
        const saved = await uploadProjectFile(project.id, file);
        onChanged((files) => [...files.filter((f) => f.id !== saved.id), saved]);
        setUploads((u) => u.filter((x) => x.key !== key));
      } catch (e) {
        setUploads((u) => u.map((x) => (x.key === key ? { ...x, error: readable(e) } : x)));
      }
    }
  };

  const remove = async (f: AttachmentView) => {
    if (!window.confirm(t("confirmRemove", { name: f.name }))) return;
    try {
      await deleteProjectFile(project.id, f.id);
      onChanged((files) => files.filter((x) => x.id !== f.id));
    } catch (e) {
      setError(readable(e));
    }
  };

  return (
    <section data-testid="project-files">
      <div className="cap-tab-head">
        <div className="muted small cap-intro">{t.rich("intro", { code: (chunks) => <code>{chunks}</code> })}</div>
        <button className="button primary" onClick={() => input.current?.click()}>
          {t("upload")}
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          aria-label={t("inputLabel")}
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
              {t("rejected", { name: u.name, error: u.error })}{" "}
              <button className="link-button" onClick={() => setUploads((l) => l.filter((x) => x.key !== u.key))}>
                {tr("common.actions.dismiss")}
              </button>
            </>
          ) : (
            <span className="muted">{t("uploading", { name: u.name })}</span>
          )}
        </div>
      ))}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {project.files.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <ul className="cap-list">
          {project.files.map((f) => (
            <li key={f.id} data-name={f.name}>
              <div className="cap-row">
                <div className="cap-main">
                  <span className="mono">{f.name}</span>
                  <div className="muted small">
                    {t("meta", { size: formatBytes(f.size, format), type: f.content_type, date: format.dateTime(new Date(f.created_at), { dateStyle: "medium", timeStyle: "short" }) })}
                  </div>
                </div>
                <div className="cap-actions">
                  <button className="button small danger" onClick={() => void remove(f)} aria-label={t("removeLabel", { name: f.name })}>
                    {tr("common.actions.remove")}
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
