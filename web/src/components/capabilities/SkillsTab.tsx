"use client";
// Skills: folders with a SKILL.md, uploaded as a .zip or .tar.gz. Upload (with progress and the
// server's reason when it refuses), the list with version, size and files, each skill's file
// list, the enabled switch, a new version, download and delete. System skills are read-only.
import { useEffect, useRef, useState } from "react";
import type { SkillDetail, SkillView } from "@/generated/protocol";
import { ApiError, readableError } from "@/lib/api";
import { deleteItem, formatBytes, getSkill, listSkills, setSkillEnabled, shortVersion, SKILL_ARCHIVE_TYPES, skillDownloadUrl, uploadSkill } from "@/lib/capabilities";
import { EnabledToggle, SystemBadge } from "./parts";

interface Upload {
  name: string;
  /** 0 to 1; null once the bytes are sent and the server is checking them. */
  progress: number | null;
  error?: string;
}

export function SkillsTab() {
  const [skills, setSkills] = useState<SkillView[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [upload, setUpload] = useState<Upload | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    listSkills()
      .then(setSkills)
      .catch((e) => (e instanceof ApiError && e.routeMissing ? setMissing(true) : setError(readableError(e))));
  }, []);

  const replaceInList = (s: SkillView) => setSkills((l) => (l ?? []).map((x) => (x.id === s.id ? s : x)));

  /** Uploads a new skill, or a new version of `replace`. */
  const send = async (file: File, replace?: SkillView) => {
    setUpload({ name: file.name, progress: 0 });
    try {
      const saved = await uploadSkill(file, {
        replace: replace?.id,
        onProgress: (f) => setUpload({ name: file.name, progress: f >= 1 ? null : f }),
      });
      if (replace) replaceInList(saved);
      else setSkills((l) => [...(l ?? []).filter((x) => x.id !== saved.id), saved]);
      setUpload(null);
    } catch (e) {
      setUpload({ name: file.name, progress: null, error: readableError(e) });
    }
  };

  const toggle = async (s: SkillView, enabled: boolean) => {
    replaceInList({ ...s, enabled });
    try {
      replaceInList(await setSkillEnabled(s.id, enabled));
    } catch (e) {
      replaceInList(s);
      setError(readableError(e));
    }
  };

  const remove = async (s: SkillView) => {
    if (!window.confirm(`Delete the skill “${s.name}”? Queued and running tasks keep their copy.`)) return;
    try {
      await deleteItem("skills", s.id);
      setSkills((l) => (l ?? []).filter((x) => x.id !== s.id));
    } catch (e) {
      setError(readableError(e));
    }
  };

  if (missing) return <p className="muted">This server does not offer skills yet.</p>;
  return (
    <section className="cap-tab" data-testid="cap-skills">
      <div className="cap-tab-head">
        <div className="muted small cap-intro">
          A skill is a folder with a <code>SKILL.md</code> (front matter <code>name</code> and <code>description</code>) and any scripts or files it
          uses. The agent reads it when a task calls for it. Upload the folder as a .zip or .tar.gz.
        </div>
        <button className="button primary" onClick={() => input.current?.click()} disabled={upload !== null && !upload.error}>
          Upload a skill
        </button>
        <input
          ref={input}
          type="file"
          accept={SKILL_ARCHIVE_TYPES}
          hidden
          aria-label="Skill archive"
          data-testid="skill-upload"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) void send(file);
            e.target.value = "";
          }}
        />
      </div>
      {upload && <UploadState upload={upload} onDismiss={() => setUpload(null)} />}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {skills === null ? (
        <p className="muted">Loading…</p>
      ) : skills.length === 0 ? (
        <p className="muted">No skills yet.</p>
      ) : (
        <ul className="cap-list">
          {skills.map((s) => (
            <li key={s.id} className={s.enabled ? "" : "disabled"} data-name={s.name}>
              <div className="cap-row">
                <div className="cap-main">
                  <span className="cap-name mono">{s.name}</span> {s.system && <SystemBadge />}
                  <div className="small">{s.description}</div>
                  <div className="muted small">
                    version <span className="mono" title={s.version}>{shortVersion(s.version)}</span> · {formatBytes(s.size)} · {s.file_count} file
                    {s.file_count === 1 ? "" : "s"} · updated {new Date(s.updated_at).toLocaleString()}
                  </div>
                </div>
                <div className="cap-actions">
                  <EnabledToggle name={s.name} enabled={s.enabled} system={s.system} onChange={(on) => void toggle(s, on)} />
                  <button className="button small" onClick={() => setOpen(open === s.id ? null : s.id)} aria-expanded={open === s.id}>
                    Files
                  </button>
                  <a className="button small" href={skillDownloadUrl(s.id)} download>
                    Download
                  </a>
                  {!s.system && (
                    <>
                      <ReplaceButton skill={s} disabled={upload !== null && !upload.error} onFile={(f) => void send(f, s)} />
                      <button className="button small danger" onClick={() => void remove(s)} aria-label={`Delete ${s.name}`}>
                        Delete
                      </button>
                    </>
                  )}
                </div>
              </div>
              {open === s.id && <SkillFiles id={s.id} version={s.version} />}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function UploadState({ upload, onDismiss }: { upload: Upload; onDismiss: () => void }) {
  if (upload.error) {
    return (
      <div className="upload-state error" role="alert">
        {upload.name} was not accepted: {upload.error}{" "}
        <button className="link-button" onClick={onDismiss}>
          Dismiss
        </button>
      </div>
    );
  }
  return (
    <div className="upload-state" role="status">
      {upload.progress === null ? (
        <>Checking {upload.name}…</>
      ) : (
        <>
          Uploading {upload.name} <progress value={upload.progress} max={1} aria-label="Upload progress" /> {Math.round(upload.progress * 100)} %
        </>
      )}
    </div>
  );
}

function ReplaceButton({ skill, disabled, onFile }: { skill: SkillView; disabled: boolean; onFile: (f: File) => void }) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button className="button small" onClick={() => input.current?.click()} disabled={disabled} title="Upload a new version of this skill">
        Replace
      </button>
      <input
        ref={input}
        type="file"
        accept={SKILL_ARCHIVE_TYPES}
        hidden
        aria-label={`New version of ${skill.name}`}
        onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) onFile(file);
          e.target.value = "";
        }}
      />
    </>
  );
}

/** A skill's files (read again when its version changes). */
function SkillFiles({ id, version }: { id: string; version: string }) {
  const [detail, setDetail] = useState<SkillDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getSkill(id)
      .then(setDetail)
      .catch((e) => setError(readableError(e)));
  }, [id, version]);
  if (error) return <p className="error small">{error}</p>;
  if (!detail) return <p className="muted small">Loading…</p>;
  return (
    <ul className="skill-files mono small" aria-label="Files">
      {detail.files.map((f) => (
        <li key={f.path}>
          <span>{f.path}</span> <span className="muted">{formatBytes(f.size)}</span>
        </li>
      ))}
    </ul>
  );
}
