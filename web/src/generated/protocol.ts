// Generated from crates/protocol by crates/protocol/tests/typescript.rs. Do not edit.
// Regenerate: WORKCELL_UPDATE_TS=1 cargo test -p protocol --test typescript

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { code: ErrorCode, message: string, };

export type ErrorCode = "bad_request" | "malformed_json" | "bad_body" | "invalid_path" | "invalid_query" | "invalid_cursor" | "websocket_required" | "bad_multipart" | "missing_file" | "invalid_git" | "invalid_cron" | "invalid_timezone" | "invalid_name" | "invalid_prompt" | "invalid_model" | "invalid_request" | "validation_error" | "run_mismatch" | "unauthorized" | "forbidden_origin" | "model_access_denied" | "not_found" | "route_not_found" | "method_not_allowed" | "lease_lost" | "session_active" | "not_retryable" | "email_taken" | "single_user_mode" | "attachment_in_use" | "task_running" | "duplicate_run" | "payload_too_large" | "unsupported_media_type" | "rate_limited" | "internal" | "bad_gateway" | "backend_unavailable" | "upstream_unreachable" | "shutting_down" | "timeout" | "unavailable" | "unknown";

export type RunStatus = "queued" | "claimed" | "running" | "canceling" | "completed" | "failed" | "canceled";

export type SessionStatus = "idle" | "queued" | "running" | "canceling" | "completed" | "failed" | "canceled";

export type PermissionMode = "default" | "acceptEdits" | "plan" | "bypassPermissions";

export type RunOutcome = "completed" | "canceled";

export type ExportStatus = "ready" | "failed";

export type Event = { session_id: string, 
/**
 * Per-session, gap-free, strictly increasing in commit order.
 */
seq: number, run_id: string, run_seq: number, time: string, } & ({ "type": "system_init", "payload": { agent_session_id: string, model?: string | null, cwd?: string | null, tools: Array<string>, } } | { "type": "assistant_text", "payload": { text: string, } } | { "type": "thinking", "payload": { text: string, } } | { "type": "tool_use", "payload": { tool_use_id: string, name: string, input: JsonValue, } } | { "type": "tool_result", "payload": { tool_use_id: string, 
/**
 * A string or the CLI's list of content blocks.
 */
content: JsonValue, is_error: boolean, } } | { "type": "todo_update", "payload": { todos: Array<TodoItem>, } } | { "type": "result", "payload": RunResult } | { "type": "file_changes", "payload": { changes: Array<FileChange>, } } | { "type": "raw", "payload": { line: string, } } | { "type": "completed", "payload": Record<string, never> } | { "type": "failed", "payload": { error: string, } } | { "type": "canceled", "payload": { reason?: string | null, } });

export type EventBody = { "type": "system_init", "payload": { agent_session_id: string, model?: string | null, cwd?: string | null, tools: Array<string>, } } | { "type": "assistant_text", "payload": { text: string, } } | { "type": "thinking", "payload": { text: string, } } | { "type": "tool_use", "payload": { tool_use_id: string, name: string, input: JsonValue, } } | { "type": "tool_result", "payload": { tool_use_id: string, 
/**
 * A string or the CLI's list of content blocks.
 */
content: JsonValue, is_error: boolean, } } | { "type": "todo_update", "payload": { todos: Array<TodoItem>, } } | { "type": "result", "payload": RunResult } | { "type": "file_changes", "payload": { changes: Array<FileChange>, } } | { "type": "raw", "payload": { line: string, } } | { "type": "completed", "payload": Record<string, never> } | { "type": "failed", "payload": { error: string, } } | { "type": "canceled", "payload": { reason?: string | null, } };

export type TodoItem = { content: string, 
/**
 * `pending`, `in_progress` or `completed`.
 */
status: string, active_form?: string | null, };

export type RunResult = { is_error: boolean, num_turns: number, duration_ms: number, total_cost_usd: number, usage: Usage, 
/**
 * The final answer text, when the CLI gives one.
 */
result?: string | null, };

export type Usage = { input_tokens: number, output_tokens: number, cache_creation_input_tokens: number, cache_read_input_tokens: number, };

export type FileChange = { path: string, change: ChangeKind, 
/**
 * For `renamed`: where the file was before.
 */
old_path?: string | null, lines_added: number, lines_deleted: number, };

export type ChangeKind = "added" | "modified" | "deleted" | "renamed";

export type Credentials = { email: string, password: string, };

export type UserView = { id: string, email: string, created_at: string, };

export type AuthResponse = { token: string, expires_at: string, user: UserView, };

export type MeResponse = { user: UserView, 
/**
 * `single_user` or `password`: lets the UI skip its sign-in screen.
 */
auth_mode: string, };

export type CreateTaskRequest = { prompt: string, session_id: string | null, model: string | null, permission_mode: PermissionMode | null, 
/**
 * Ids of the user's own attachments, staged into the run's `inputs/`.
 */
attachments: Array<string>, 
/**
 * A repository cloned into the workspace (new sessions only).
 */
git: GitRepoRequest | null, };

export type CreateTaskResponse = { session_id: string, run_id: string, status: RunStatus, };

export type SessionView = { id: string, title: string, status: SessionStatus, 
/**
 * The options the session was created with (model, permission mode).
 */
config: JsonValue, created_at: string, updated_at: string, };

export type SessionList = { sessions: Array<SessionView>, next_cursor: string | null, };

export type SessionDetail = { runs: Array<RunView>, id: string, title: string, status: SessionStatus, 
/**
 * The options the session was created with (model, permission mode).
 */
config: JsonValue, created_at: string, updated_at: string, };

export type UpdateSessionRequest = { title: string, };

export type RunView = { id: string, session_id: string, prompt: string, status: RunStatus, model: string | null, permission_mode: PermissionMode, attempts: number, max_attempts: number, error: string | null, created_at: string, scheduled_at: string, started_at: string | null, finished_at: string | null, usage: RunUsage | null, 
/**
 * The workspace export at the end of the run; `None` until the worker reports it.
 */
export: RunExport | null, 
/**
 * Why a run happened (`scheduled` runs also name their scheduled task).
 */
kind: RunKind, scheduled_task_id: string | null, 
/**
 * Set when the run failed on its last allowed attempt: it stays failed until its owner
 * retries it (`POST /runs/{id}/retry`).
 */
dead_lettered_at: string | null, 
/**
 * The error of every failed attempt, oldest first.
 */
attempt_errors: Array<AttemptError>, };

export type RunExport = { status: ExportStatus, files: number, added: number, modified: number, unchanged: number, deleted: number, uploaded_bytes: number, error: string | null, };

export type RunUsage = { total_cost_usd: number, duration_ms: number, num_turns: number, input_tokens: number, output_tokens: number, cache_creation_input_tokens: number, cache_read_input_tokens: number, };

export type EventsPage = { events: Array<Event>, 
/**
 * Pass back as `after` to continue; equals the request's `after` when nothing was returned.
 */
next_after: number, has_more: boolean, };

export type CancelResponse = { 
/**
 * Queued runs canceled at once.
 */
canceled: number, 
/**
 * Active runs now `canceling`; their workers stop them at their next heartbeat.
 */
canceling: number, };

export type HealthResponse = { status: string, service: string, };

export type ReadyResponse = { status: string, service: string, errors?: Array<string>, };

export type AttemptError = { attempt: number, error: string, at: string, };

export type ManifestChange = "added" | "modified" | "unchanged" | "deleted";

export type RunFile = { path: string, size: number, sha256: string, content_type: string, change: ManifestChange, 
/**
 * A presigned GET URL; `None` for deleted files.
 */
url: string | null, };

export type RunFiles = { run_id: string, 
/**
 * `None` while the export is pending (the run is active or its worker has not reported).
 */
export_status: ExportStatus | null, 
/**
 * When the URLs stop working.
 */
expires_at: string | null, 
/**
 * Files present after the run, then deleted ones (with `url: None`), each sorted by path.
 */
files: Array<RunFile>, };

export type ArchiveLink = { run_id: string, url: string, expires_at: string, };

export type AttachmentView = { id: string, 
/**
 * The file name as uploaded (sanitised); the run sees it as `inputs/{name}`.
 */
name: string, size: number, content_type: string, created_at: string, };

export type GitRepoRequest = { 
/**
 * `https://` URL of the repository.
 */
url: string, branch: string | null, };

export type SessionMode = "reuse" | "new";

export type RunKind = "interactive" | "scheduled";

export type ScheduledTaskView = { id: string, name: string, prompt: string, 
/**
 * Five-field cron expression.
 */
cron: string, 
/**
 * IANA time zone name, e.g. `Europe/Berlin`.
 */
timezone: string, enabled: boolean, session_mode: SessionMode, 
/**
 * The session `reuse` mode continues (set after the first fire).
 */
session_id: string | null, model: string | null, permission_mode: PermissionMode, 
/**
 * `None` while disabled.
 */
next_fire_at: string | null, last_fired_at: string | null, 
/**
 * The next few fire times (for a preview), empty while disabled.
 */
upcoming: Array<string>, created_at: string, updated_at: string, };

export type ScheduledTaskList = { scheduled_tasks: Array<ScheduledTaskView>, };

export type CreateScheduledTaskRequest = { name: string, prompt: string, cron: string, timezone: string, enabled: boolean, session_mode: SessionMode, model: string | null, permission_mode: PermissionMode | null, };

export type UpdateScheduledTaskRequest = { name: string | null, prompt: string | null, cron: string | null, timezone: string | null, enabled: boolean | null, session_mode: SessionMode | null, model: string | null, permission_mode: PermissionMode | null, };

export type CronPreview = { upcoming: Array<string>, };

export type ScheduledRunList = { runs: Array<RunView>, };

export type ClientMessage = { "type": "auth", token: string, } | { "type": "subscribe", session_id: string, after: number, } | { "type": "unsubscribe", session_id: string, };

export type ServerMessage = { "type": "ready", user_id: string, } | { "type": "subscribed", session_id: string, after: number, } | { "type": "event", session_id: string, seq: number, event: Event, } | { "type": "session_updated", session: SessionView, } | { "type": "session_deleted", session_id: string, } | { "type": "error", code: ErrorCode, message: string, session_id?: string | null, };

/**
 * Every `ErrorCode`, from `ErrorCode::ALL`.
 */
export const ERROR_CODES: ReadonlyArray<ErrorCode> = ["bad_request", "malformed_json", "bad_body", "invalid_path", "invalid_query", "invalid_cursor", "websocket_required", "bad_multipart", "missing_file", "invalid_git", "invalid_cron", "invalid_timezone", "invalid_name", "invalid_prompt", "invalid_model", "invalid_request", "validation_error", "run_mismatch", "unauthorized", "forbidden_origin", "model_access_denied", "not_found", "route_not_found", "method_not_allowed", "lease_lost", "session_active", "not_retryable", "email_taken", "single_user_mode", "attachment_in_use", "task_running", "duplicate_run", "payload_too_large", "unsupported_media_type", "rate_limited", "internal", "bad_gateway", "backend_unavailable", "upstream_unreachable", "shutting_down", "timeout", "unavailable", "unknown"];
