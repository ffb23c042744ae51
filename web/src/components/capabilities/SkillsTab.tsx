"use client";
// Skills: folders with a SKILL.md, uploaded as a .zip or .tar.gz. Upload (with progress and the
// server's reason when it refuses), the list with version, size and files, each skill's file
// list, the enabled switch, a new version, download and delete. System skills are read-only.
import { useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { useFormatter, useTranslations } from "next-intl";
import type { SkillView } from "@/generated/protocol";
import { STALE } from "@/lib/query/client";
import { queryKeys } from "@/lib/query/keys";
import { useCachedList } from "@/lib/query/useCachedList";
import { skillsQuery } from "@/lib/query/library";
import { useReadableError } from "@/lib/useReadableError";
import { deleteItem, formatBytes, getSkill, listSkills, setSkillEnabled, shortVersion, SKILL_ARCHIVE_TYPES, skillDownloadUrl, uploadSkill } from "@/lib/capabilities";
import { EnabledToggle, SystemBadge } from "./parts";

interface Upload {
  name: string;
  /** 0 to 1; null once the bytes are sent and the server is checking them. */
  progress: number | null;
  error?: string;
}

export function SkillsTab() {
  // The cached list (shared with the preset form's choices).
  const { items: skills, setItems: setSkills, missing, error: loadError } = useCachedList(skillsQuery().queryKey, listSkills);
  const [actionError, setError] = useState<string | null>(null);
  const [upload, setUpload] = useState<Upload | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const t = useTranslations("capabilities.skills");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();
  const error = actionError ?? (loadError ? readable(loadError) : null);

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
      setUpload({ name: file.name, progress: null, error: readable(e) });
    }
  };

  const toggle = async (s: SkillView, enabled: boolean) => {
    replaceInList({ ...s, enabled });
    try {
      replaceInList(await setSkillEnabled(s.id, enabled));
    } catch (e) {
      replaceInList(s);
      setError(readable(e));
    }
  };

  const remove = async (s: SkillView) => {
    if (!window.confirm(t("confirmDelete", { name: s.name }))) return;
    try {
      await deleteItem("skills", s.id);
      setSkills((l) => (l ?? []).filter((x) => x.id !== s.id));
    } catch (e) {
      setError(readable(e));
    }
  };

  if (missing) return <p className="muted">{t("missing")}</p>;
  return (
    <section className="cap-tab" data-testid="cap-skills">
      <div className="cap-tab-head">
        <div className="muted small cap-intro">{t.rich("intro", { code: (chunks) => <code>{chunks}</code> })}</div>
        <button className="button primary" onClick={() => input.current?.click()} disabled={upload !== null && !upload.error}>
          {t("upload")}
        </button>
        <input
          ref={input}
          type="file"
          accept={SKILL_ARCHIVE_TYPES}
          hidden
          aria-label={t("archiveLabel")}
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
        <p className="muted">{tr("common.states.loading")}</p>
      ) : skills.length === 0 ? (
        <p className="muted">{t("none")}</p>
      ) : (
        <ul className="cap-list">
          {skills.map((s) => (
            <li key={s.id} className={s.enabled ? "" : "disabled"} data-name={s.name}>
              <div className="cap-row">
                <div className="cap-main">
                  <span className="cap-name mono">{s.name}</span> {s.system && <SystemBadge />}
                  <div className="small">{s.description}</div>
                  <div className="muted small">
                    {t.rich("meta", {
                      v: (chunks) => (
                        <span className="mono" title={s.version}>
                          {chunks}
                        </span>
                      ),
                      version: shortVersion(s.version),
                      size: formatBytes(s.size, format),
                      files: s.file_count,
                      date: format.dateTime(new Date(s.updated_at), { dateStyle: "medium", timeStyle: "short" }),
                    })}
                  </div>
                </div>
                <div className="cap-actions">
                  <EnabledToggle name={s.name} enabled={s.enabled} system={s.system} onChange={(on) => void toggle(s, on)} />
                  <button className="button small" onClick={() => setOpen(open === s.id ? null : s.id)} aria-expanded={open === s.id}>
                    {t("files")}
                  </button>
                  <a className="button small" href={skillDownloadUrl(s.id)} download>
                    {tr("common.actions.download")}
                  </a>
                  {!s.system && (
                    <>
                      <ReplaceButton skill={s} disabled={upload !== null && !upload.error} onFile={(f) => void send(f, s)} />
                      <button className="button small danger" onClick={() => void remove(s)} aria-label={tr("capabilities.parts.deleteLabel", { name: s.name })}>
                        {tr("common.actions.delete")}
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
  const t = useTranslations("capabilities.skills");
  const tr = useTranslations();
  if (upload.error) {
    return (
      <div className="upload-state error" role="alert">
        {t("rejected", { name: upload.name, error: upload.error })}{" "}
        <button className="link-button" onClick={onDismiss}>
          {tr("common.actions.dismiss")}
        </button>
      </div>
    );
  }
  return (
    <div className="upload-state" role="status">
      {upload.progress === null ? (
        <>{t("checking", { name: upload.name })}</>
      ) : (
        <>
          {t("uploading", { name: upload.name })} <progress value={upload.progress} max={1} aria-label={t("progressLabel")} />{" "}
          {t("percent", { percent: Math.round(upload.progress * 100) })}
        </>
      )}
    </div>
  );
}

function ReplaceButton({ skill, disabled, onFile }: { skill: SkillView; disabled: boolean; onFile: (f: File) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const t = useTranslations("capabilities.skills");
  return (
    <>
      <button className="button small" onClick={() => input.current?.click()} disabled={disabled} title={t("replaceTitle")}>
        {t("replace")}
      </button>
      <input
        ref={input}
        type="file"
        accept={SKILL_ARCHIVE_TYPES}
        hidden
        aria-label={t("replaceLabel", { name: skill.name })}
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
  const query = useQuery({ queryKey: queryKeys.capabilities.skill(id, version), queryFn: () => getSkill(id), staleTime: STALE.catalog });
  const detail = query.data ?? null;
  const t = useTranslations("capabilities.skills");
  const tr = useTranslations();
  const format = useFormatter();
  const readable = useReadableError();
  const error = query.error ? readable(query.error) : null;
  if (error) return <p className="error small">{error}</p>;
  if (!detail) return <p className="muted small">{tr("common.states.loading")}</p>;
  return (
    <ul className="skill-files mono small" aria-label={t("files")}>
      {detail.files.map((f) => (
        <li key={f.path}>
          <span>{f.path}</span> <span className="muted">{formatBytes(f.size, format)}</span>
        </li>
      ))}
    </ul>
  );
}
