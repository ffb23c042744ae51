"use client";
// Writes a task: the prompt and its options (the model picked from the catalog), attachments
// dropped onto it (uploaded at once), for a new session an optional git repository to clone into
// the workspace (with the secret holding its token) and the chosen project, a preset, `/`
// suggestions from the user's slash commands, and what capabilities the run will get.
import Link from "next/link";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslations } from "next-intl";
import type { AttachmentView, CapabilitySummary, CreateTaskRequest, CreateTaskResponse, PermissionMode, PresetView, ProjectView, SlashCommandView } from "@/generated/protocol";
import { api, ApiError } from "@/lib/api";
import { useQuery } from "@tanstack/react-query";
import { choiceFor, resolveCapabilities } from "@/lib/capabilities";
import { libraryQuery } from "@/lib/query/library";
import { PERMISSION_MODES, permissionModeLabel } from "@/lib/permissionModes";
import { applyCommand, availableCommands, matchCommands, slashQuery } from "@/lib/slashCommands";
import { SubmitIds } from "@/lib/submitId";
import { useReadableError } from "@/lib/useReadableError";
import { SummaryView } from "./capabilities/SummaryView";
import { ModelPicker } from "./ModelPicker";
import { TokenSecretPicker, useSecretChoices } from "./TokenSecretPicker";

interface Upload {
  key: string;
  name: string;
  state: "uploading" | "done" | "failed";
  attachment?: AttachmentView;
  error?: string;
}

export function Composer({
  sessionId,
  onCreated,
  busy,
  sessionCapabilities,
  project,
  projectId,
}: {
  sessionId?: string;
  onCreated: (res: CreateTaskResponse, prompt: string) => void;
  /** A run is active: a follow-up is queued behind it. */
  busy?: boolean;
  /** For a follow-up: what the session's latest run was queued with (a follow-up keeps it). */
  sessionCapabilities?: CapabilitySummary | null;
  /** For a new session: the project it goes to (its defaults fill what the task leaves out). */
  projectId?: string | null;
  /** That project, once loaded (for showing its defaults). */
  project?: ProjectView | null;
}) {
  const t = useTranslations("composer");
  const tr = useTranslations();
  const readableError = useReadableError();
  const [prompt, setPrompt] = useState("");
  const [model, setModel] = useState("");
  const [mode, setMode] = useState<PermissionMode | "">("");
  const [gitUrl, setGitUrl] = useState("");
  const [gitBranch, setGitBranch] = useState("");
  const [tokenSecret, setTokenSecret] = useState("");
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [showOptions, setShowOptions] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  // One client_request_id per submit, kept when that submit is retried after a failure.
  const submitIds = useRef(new SubmitIds());
  const textarea = useRef<HTMLTextAreaElement>(null);
  const followUp = sessionId !== undefined;
  // A follow-up stays in its session's project.
  const inProject = followUp ? null : (projectId ?? null);
  const defaults = (inProject && project?.id === inProject && project.defaults) || null;
  const library = useComposerLibrary();
  const secrets = useSecretChoices(showOptions && !followUp);
  const [presetId, setPresetId] = useState("");
  const preset = library.presets.find((p) => p.id === presetId) ?? null;
  // Without a preset of its own, a task in a project gets the project's.
  const effectivePreset = preset ?? library.presets.find((p) => p.id === defaults?.preset_id) ?? null;
  const resolved = useResolved(showOptions && (!followUp || preset !== null), presetId || defaults?.preset_id || null);

  // Slash-command suggestions while the prompt is `/name` being typed.
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<string | null>(null);
  const commands = useMemo(
    () =>
      availableCommands(library.commands, {
        presetCommandIds: effectivePreset?.slash_command_ids ?? null,
        sessionCommandNames: followUp && sessionCapabilities ? sessionCapabilities.slash_commands.map((c) => c.name) : null,
      }),
    [library.commands, effectivePreset, followUp, sessionCapabilities],
  );
  const query = slashQuery(prompt, caret);
  const suggestions = useMemo(() => (query === null ? [] : matchCommands(commands, query)), [commands, query]);
  const suggesting = suggestions.length > 0 && dismissed !== prompt;
  const activeIndex = Math.min(active, Math.max(0, suggestions.length - 1));

  const choosePreset = (id: string) => {
    setPresetId(id);
    const p = library.presets.find((x) => x.id === id);
    // The preset's model and mode fill the options (still editable); no preset clears them.
    setModel(p?.model ?? "");
    setMode(p?.permission_mode ?? "");
  };

  const chooseCommand = (c: SlashCommandView) => {
    const next = applyCommand(prompt, c.name);
    setPrompt(next);
    setCaret(next.length);
    setActive(0);
    requestAnimationFrame(() => {
      const el = textarea.current;
      if (!el) return;
      el.focus();
      // Typed since (a fast typist, or a test): the caret is where the typing left it; moving it
      // back to the end of the inserted command would put the next keys before the first.
      if (el.value !== next) return;
      el.setSelectionRange(next.length, next.length);
    });
  };

  /** Keys while suggestions are open: up/down move, Enter or Tab choose, Escape closes. */
  const onSuggestionKey = (e: React.KeyboardEvent<HTMLTextAreaElement>): boolean => {
    if (!suggesting || e.metaKey || e.ctrlKey || e.altKey) return false;
    switch (e.key) {
      case "ArrowDown":
        setActive((activeIndex + 1) % suggestions.length);
        return true;
      case "ArrowUp":
        setActive((activeIndex - 1 + suggestions.length) % suggestions.length);
        return true;
      case "Enter":
      case "Tab":
        if (e.shiftKey) return false;
        chooseCommand(suggestions[activeIndex]!);
        return true;
      case "Escape":
        setDismissed(prompt);
        return true;
      default:
        return false;
    }
  };

  const upload = async (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = `${file.name}-${Date.now()}-${Math.random()}`;
      setUploads((u) => [...u, { key, name: file.name, state: "uploading" }]);
      const form = new FormData();
      form.append("file", file, file.name);
      try {
        const attachment = await api<AttachmentView>("/attachments", { method: "POST", body: form });
        setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: "done", attachment } : x)));
      } catch (e) {
        const message =
          e instanceof ApiError && e.routeMissing ? t("attachmentsMissing") : readableError(e);
        setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: "failed", error: message } : x)));
      }
    }
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!prompt.trim() || sending) return;
    if (uploads.some((u) => u.state === "uploading")) {
      setError(t("waitForUploads"));
      return;
    }
    setSending(true);
    setError(null);
    const body: CreateTaskRequest = {
      prompt,
      session_id: sessionId ?? null,
      model: model.trim() || null,
      permission_mode: followUp || mode === "" ? null : mode,
      attachments: uploads.flatMap((u) => (u.attachment ? [u.attachment.id] : [])),
      git: !followUp && gitUrl.trim() ? { url: gitUrl.trim(), branch: gitBranch.trim() || null, token_secret: tokenSecret || null } : null,
      preset_id: presetId || null,
      skill_ids: null,
      mcp_server_ids: null,
      slash_command_ids: null,
      client_request_id: null,
      subagent_ids: null,
      project_id: inProject,
    };
    body.client_request_id = submitIds.current.idFor(JSON.stringify(body));
    try {
      const res = await api<CreateTaskResponse>("/tasks", { method: "POST", json: body });
      submitIds.current.done();
      const sent = prompt;
      setPrompt("");
      setUploads([]);
      // The session now has the preset's capabilities; the next follow-up keeps them without
      // naming it again (which would also put its template before that prompt again).
      if (followUp && presetId) choosePreset("");
      onCreated(res, sent);
    } catch (err) {
      setError(readableError(err));
    } finally {
      setSending(false);
    }
  };

  return (
    <form
      className={`composer ${dragging ? "dragging" : ""} ${followUp ? "follow-up" : ""}`}
      onSubmit={(e) => void submit(e)}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes("Files")) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        if (e.dataTransfer.files.length) {
          e.preventDefault();
          setDragging(false);
          void upload(e.dataTransfer.files);
        }
      }}
      aria-label={followUp ? t("formFollowUp") : t("formNew")}
    >
      <div className="prompt-box">
        <textarea
          ref={textarea}
          value={prompt}
          onChange={(e) => {
            setPrompt(e.target.value);
            setCaret(e.target.selectionStart);
            setActive(0);
          }}
          onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
          onBlur={() => setDismissed(prompt)}
          onFocus={() => setDismissed(null)}
          placeholder={
            followUp
              ? busy
                ? t("placeholderQueue")
                : t("placeholderFollowUp")
              : t("placeholderNew")
          }
          rows={followUp ? 2 : 5}
          aria-label={t("prompt")}
          data-testid="prompt"
          aria-autocomplete="list"
          aria-controls={suggesting ? listId(sessionId) : undefined}
          aria-activedescendant={suggesting ? `${listId(sessionId)}-${activeIndex}` : undefined}
          onKeyDown={(e) => {
            if (onSuggestionKey(e)) {
              e.preventDefault();
              return;
            }
            if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) void submit(e);
          }}
        />
        {suggesting && (
          <ul className="suggestions" role="listbox" id={listId(sessionId)} aria-label={t("slashCommands")} data-testid="slash-suggestions">
            {suggestions.map((c, i) => (
              <li
                key={c.id}
                id={`${listId(sessionId)}-${i}`}
                role="option"
                aria-selected={i === activeIndex}
                className={i === activeIndex ? "active" : ""}
                // Chosen on mouse-down, before the textarea loses focus and closes the list.
                onMouseDown={(e) => {
                  e.preventDefault();
                  chooseCommand(c);
                }}
                onMouseEnter={() => setActive(i)}
              >
                <span className="mono">/{c.name}</span>
                {c.argument_hint && <span className="muted mono"> {c.argument_hint}</span>}
                {c.description && <span className="muted small suggestion-description"> {c.description}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
      {uploads.length > 0 && (
        <ul className="chips" aria-label={t("attachments")}>
          {uploads.map((u) => (
            <li key={u.key} className={`chip chip-${u.state}`} title={u.error}>
              {u.name}
              {u.state === "uploading" && " …"}
              {u.state === "failed" && ` — ${u.error}`}
              <button type="button" aria-label={t("removeAttachment", { name: u.name })} onClick={() => setUploads((l) => l.filter((x) => x.key !== u.key))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {showOptions && (
        <div className="run-capabilities" data-testid="capabilities-preview">
          <div className="muted small">
            {followUp && !preset
              ? t("capabilities.keep")
              : followUp
                ? t("capabilities.switch", { name: preset!.name })
                : t("capabilities.willGet")}{" "}
            <Link href="/capabilities">{t("capabilities.manage")}</Link>
          </div>
          {followUp && !preset ? (
            sessionCapabilities && <SummaryView summary={sessionCapabilities} />
          ) : resolved.summary ? (
            <SummaryView summary={resolved.summary} testId="resolved-capabilities" />
          ) : resolved.error ? (
            <p className="error small">{resolved.error}</p>
          ) : resolved.missing ? (
            <p className="muted small">{t("capabilities.missing")}</p>
          ) : (
            <p className="muted small">{t("capabilities.resolving")}</p>
          )}
        </div>
      )}
      {showOptions && (
        <div className="options">
          <ModelPicker value={model} onChange={setModel} projectDefault={defaults?.model} testId="model-picker" />
          {!followUp && (
            <>
              <label>
                {tr("common.permissionMode")}
                <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode | "")} data-testid="permission-mode">
                  <option value="">
                    {defaults?.permission_mode ? t("projectDefaultMode", { mode: permissionModeLabel(defaults.permission_mode, tr) }) : tr("common.serverDefault")}
                  </option>
                  {PERMISSION_MODES.map((m) => (
                    <option key={m.value} value={m.value}>
                      {permissionModeLabel(m.value, tr)}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                {tr("common.git.repository")}
                <input
                  value={gitUrl}
                  onChange={(e) => setGitUrl(e.target.value)}
                  placeholder={defaults?.git ? t("projectGit", { url: defaults.git.url }) : "https://github.com/owner/repo.git"}
                  type="url"
                />
              </label>
              <label>
                {tr("common.git.branch")}
                <input value={gitBranch} onChange={(e) => setGitBranch(e.target.value)} placeholder={tr("common.git.defaultBranch")} />
              </label>
              {!secrets.missing && (
                <TokenSecretPicker value={tokenSecret} onChange={setTokenSecret} choices={secrets.choices} disabled={!gitUrl.trim()} testId="token-secret" />
              )}
            </>
          )}
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="composer-bar">
        <button type="button" className="link-button" onClick={() => setShowOptions((o) => !o)} aria-expanded={showOptions}>
          {showOptions ? t("hideOptions") : t("options")}
        </button>
        <button type="button" className="link-button" onClick={() => fileInput.current?.click()}>
          {t("attach")}
        </button>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          onChange={(e) => {
            if (e.target.files) void upload(e.target.files);
            e.target.value = "";
          }}
        />
        <span className="spacer" />
        {library.presets.length > 0 && (
          <select
            className="preset-picker"
            value={presetId}
            onChange={(e) => choosePreset(e.target.value)}
            aria-label={t("preset.label")}
            data-testid="preset"
            title={preset?.description || t("preset.title")}
          >
            <option value="">
              {followUp
                ? t("preset.keep")
                : defaults?.preset_id
                  ? t("preset.project", { name: library.presets.find((p) => p.id === defaults.preset_id)?.name ?? t("preset.projectMissing") })
                  : t("preset.none")}
            </option>
            {library.presets.map((p) => (
              <option key={p.id} value={p.id}>
                {t("preset.option", { name: p.name })}
              </option>
            ))}
          </select>
        )}
        <button type="submit" className="button primary" disabled={sending || !prompt.trim()} data-testid="submit">
          {sending ? t("sending") : followUp ? (busy ? t("queue") : t("send")) : t("start")}
        </button>
      </div>
    </form>
  );
}

function listId(sessionId: string | undefined): string {
  return `slash-suggestions-${sessionId ?? "new"}`;
}

/** The presets and slash commands the composer offers: the Capabilities screen's cached lists
 * (none when this server has no such routes, or they fail: the composer works without them). */
function useComposerLibrary(): { presets: PresetView[]; commands: SlashCommandView[] } {
  const presets = useQuery(libraryQuery("presets")).data ?? NONE_PRESETS;
  const commands = useQuery(libraryQuery("slash-commands")).data ?? NONE_COMMANDS;
  return { presets, commands };
}
const NONE_PRESETS: PresetView[] = [];
const NONE_COMMANDS: SlashCommandView[] = [];

/** What a task with this preset (or none) would get, asked again 250 ms after the choice
 * changes, while `enabled`. */
function useResolved(enabled: boolean, presetId: string | null) {
  const [state, setState] = useState<{ summary: CapabilitySummary | null; error: string | null; missing: boolean }>({
    summary: null,
    error: null,
    missing: false,
  });
  const readableError = useReadableError();
  useEffect(() => {
    if (!enabled) return;
    let alive = true;
    setState((s) => ({ ...s, summary: null, error: null }));
    const t = setTimeout(() => {
      resolveCapabilities(choiceFor(presetId))
        .then((summary) => alive && setState({ summary, error: null, missing: false }))
        .catch((e) => {
          if (!alive) return;
          if (e instanceof ApiError && e.routeMissing) setState({ summary: null, error: null, missing: true });
          else setState({ summary: null, error: readableError(e), missing: false });
        });
    }, 250);
    return () => {
      alive = false;
      clearTimeout(t);
    };
  }, [enabled, presetId, readableError]);
  return state;
}
