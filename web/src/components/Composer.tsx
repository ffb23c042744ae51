"use client";
// Writes a task: the prompt and its options, attachments dropped onto it (uploaded at once),
// and for a new session an optional git repository to clone into the workspace.
import { useRef, useState } from "react";
import type { AttachmentView, CreateTaskRequest, CreateTaskResponse, PermissionMode } from "@/generated/protocol";
import { api, ApiError, readableError } from "@/lib/api";

/** The CLI's permission modes. The platform's default is `bypassPermissions` (the container is the
 * sandbox and nobody can answer a prompt mid-run); `plan` keeps the agent to read-only tools. */
export const PERMISSION_MODES: { value: PermissionMode; label: string }[] = [
  { value: "bypassPermissions", label: "Run tools freely (default)" },
  { value: "acceptEdits", label: "Accept edits only" },
  { value: "plan", label: "Plan only (read-only)" },
  { value: "default", label: "Ask (tools needing approval are denied)" },
];

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
}: {
  sessionId?: string;
  onCreated: (res: CreateTaskResponse, prompt: string) => void;
  /** A run is active: a follow-up is queued behind it. */
  busy?: boolean;
}) {
  const [prompt, setPrompt] = useState("");
  const [model, setModel] = useState("");
  const [mode, setMode] = useState<PermissionMode | "">("");
  const [gitUrl, setGitUrl] = useState("");
  const [gitBranch, setGitBranch] = useState("");
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [showOptions, setShowOptions] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const followUp = sessionId !== undefined;

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
          e instanceof ApiError && e.routeMissing ? "attachments are not available on this server" : readableError(e);
        setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: "failed", error: message } : x)));
      }
    }
  };

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!prompt.trim() || sending) return;
    if (uploads.some((u) => u.state === "uploading")) {
      setError("Wait until the attachments have uploaded.");
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
      git: !followUp && gitUrl.trim() ? { url: gitUrl.trim(), branch: gitBranch.trim() || null } : null,
      preset_id: null,
      skill_ids: null,
      mcp_server_ids: null,
      slash_command_ids: null,
      subagent_ids: null,
    };
    try {
      const res = await api<CreateTaskResponse>("/tasks", { method: "POST", json: body });
      const sent = prompt;
      setPrompt("");
      setUploads([]);
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
      aria-label={followUp ? "Follow-up message" : "New task"}
    >
      <textarea
        value={prompt}
        onChange={(e) => setPrompt(e.target.value)}
        placeholder={followUp ? (busy ? "Queue a follow-up…" : "Send a follow-up…") : "What should the agent do? Drop files here to attach them."}
        rows={followUp ? 2 : 5}
        aria-label="Prompt"
        data-testid="prompt"
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) void submit(e);
        }}
      />
      {uploads.length > 0 && (
        <ul className="chips" aria-label="Attachments">
          {uploads.map((u) => (
            <li key={u.key} className={`chip chip-${u.state}`} title={u.error}>
              {u.name}
              {u.state === "uploading" && " …"}
              {u.state === "failed" && ` — ${u.error}`}
              <button type="button" aria-label={`Remove ${u.name}`} onClick={() => setUploads((l) => l.filter((x) => x.key !== u.key))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      {showOptions && (
        <div className="options">
          <label>
            Model
            <input value={model} onChange={(e) => setModel(e.target.value)} placeholder="server default" />
          </label>
          {!followUp && (
            <>
              <label>
                Permission mode
                <select value={mode} onChange={(e) => setMode(e.target.value as PermissionMode | "")} data-testid="permission-mode">
                  <option value="">Server default</option>
                  {PERMISSION_MODES.map((m) => (
                    <option key={m.value} value={m.value}>
                      {m.label}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Git repository
                <input value={gitUrl} onChange={(e) => setGitUrl(e.target.value)} placeholder="https://github.com/owner/repo.git" type="url" />
              </label>
              <label>
                Branch
                <input value={gitBranch} onChange={(e) => setGitBranch(e.target.value)} placeholder="default branch" />
              </label>
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
          {showOptions ? "Hide options" : "Options"}
        </button>
        <button type="button" className="link-button" onClick={() => fileInput.current?.click()}>
          Attach
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
        <button type="submit" className="button primary" disabled={sending || !prompt.trim()} data-testid="submit">
          {sending ? "Sending…" : followUp ? (busy ? "Queue" : "Send") : "Start task"}
        </button>
      </div>
    </form>
  );
}
