// Generated from crates/protocol by crates/protocol/tests/typescript.rs. Do not edit.
// Regenerate: WORKCELL_UPDATE_TS=1 cargo test -p protocol --test typescript

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]?: JsonValue } | null;

export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { code: ErrorCode, message: string, };

export type ErrorCode = "bad_request" | "malformed_json" | "bad_body" | "invalid_path" | "invalid_query" | "invalid_cursor" | "websocket_required" | "bad_multipart" | "missing_file" | "invalid_git" | "invalid_cron" | "invalid_timezone" | "invalid_name" | "invalid_prompt" | "invalid_model" | "invalid_request" | "validation_error" | "run_mismatch" | "invalid_archive" | "unknown_secret" | "unknown_model" | "weak_password" | "unauthorized" | "forbidden_origin" | "model_access_denied" | "read_only" | "insufficient_scope" | "account_disabled" | "registration_closed" | "sign_in_refused" | "not_found" | "route_not_found" | "method_not_allowed" | "lease_lost" | "session_active" | "not_retryable" | "email_taken" | "single_user_mode" | "attachment_in_use" | "project_not_empty" | "name_taken" | "task_running" | "already_answered" | "not_queued" | "request_expired" | "duplicate_run" | "payload_too_large" | "unsupported_media_type" | "range_not_satisfiable" | "rate_limited" | "internal" | "bad_gateway" | "backend_unavailable" | "upstream_unreachable" | "shutting_down" | "timeout" | "unavailable" | "unknown";

export type RunStatus = "queued" | "claimed" | "running" | "canceling" | "completed" | "failed" | "canceled";

export type SessionStatus = "idle" | "queued" | "running" | "canceling" | "completed" | "failed" | "canceled";

export type PermissionMode = "default" | "acceptEdits" | "plan" | "bypassPermissions";

export type RunOutcome = "completed" | "canceled";

export type ExportStatus = "ready" | "failed";

export type Event = { session_id: string, 
/**
 * Per-session, gap-free, strictly increasing in commit order.
 */
seq: number, run_id: string, run_seq: number, time: string, } & ({ "type": "system_init", "payload": { agent_session_id: string, model?: string | null, cwd?: string | null, tools: Array<string>, 
/**
 * The MCP servers the CLI was configured with and whether each connected.
 */
mcp_servers?: Array<McpServerStatus>, 
/**
 * The slash commands the CLI loaded (built-in and staged).
 */
slash_commands?: Array<string>, 
/**
 * The skills the CLI loaded.
 */
skills?: Array<string>, 
/**
 * The subagents the CLI loaded (built-in and staged).
 */
agents?: Array<string>, } } | { "type": "assistant_text", "payload": { text: string, 
/**
 * Set when a subagent wrote it: the id of the `Task` tool call it works for.
 */
parent_tool_use_id?: string | null, } } | { "type": "thinking", "payload": { text: string, parent_tool_use_id?: string | null, } } | { "type": "tool_use", "payload": { tool_use_id: string, name: string, input: JsonValue, 
/**
 * Set when a subagent made the call: the id of the `Task` tool call it works for.
 */
parent_tool_use_id?: string | null, } } | { "type": "tool_result", "payload": { tool_use_id: string, 
/**
 * A string or the CLI's list of content blocks.
 */
content: JsonValue, is_error: boolean, parent_tool_use_id?: string | null, } } | { "type": "todo_update", "payload": { todos: Array<TodoItem>, } } | { "type": "result", "payload": RunResult } | { "type": "input_request", "payload": InputRequest } | { "type": "input_answer", "payload": InputAnswer } | { "type": "file_changes", "payload": { changes: Array<FileChange>, } } | { "type": "raw", "payload": { line: string, } } | { "type": "completed", "payload": Record<string, never> } | { "type": "failed", "payload": { error: string, } } | { "type": "canceled", "payload": { reason?: string | null, } });

export type EventBody = { "type": "system_init", "payload": { agent_session_id: string, model?: string | null, cwd?: string | null, tools: Array<string>, 
/**
 * The MCP servers the CLI was configured with and whether each connected.
 */
mcp_servers?: Array<McpServerStatus>, 
/**
 * The slash commands the CLI loaded (built-in and staged).
 */
slash_commands?: Array<string>, 
/**
 * The skills the CLI loaded.
 */
skills?: Array<string>, 
/**
 * The subagents the CLI loaded (built-in and staged).
 */
agents?: Array<string>, } } | { "type": "assistant_text", "payload": { text: string, 
/**
 * Set when a subagent wrote it: the id of the `Task` tool call it works for.
 */
parent_tool_use_id?: string | null, } } | { "type": "thinking", "payload": { text: string, parent_tool_use_id?: string | null, } } | { "type": "tool_use", "payload": { tool_use_id: string, name: string, input: JsonValue, 
/**
 * Set when a subagent made the call: the id of the `Task` tool call it works for.
 */
parent_tool_use_id?: string | null, } } | { "type": "tool_result", "payload": { tool_use_id: string, 
/**
 * A string or the CLI's list of content blocks.
 */
content: JsonValue, is_error: boolean, parent_tool_use_id?: string | null, } } | { "type": "todo_update", "payload": { todos: Array<TodoItem>, } } | { "type": "result", "payload": RunResult } | { "type": "input_request", "payload": InputRequest } | { "type": "input_answer", "payload": InputAnswer } | { "type": "file_changes", "payload": { changes: Array<FileChange>, } } | { "type": "raw", "payload": { line: string, } } | { "type": "completed", "payload": Record<string, never> } | { "type": "failed", "payload": { error: string, } } | { "type": "canceled", "payload": { reason?: string | null, } };

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

export type McpServerStatus = { name: string, status: string, };

export type Credentials = { email: string, password: string, };

export type Role = "admin" | "member";

export type Scope = "tasks:write" | "sessions:read" | "files:read" | "admin";

export type Registration = "open" | "invite" | "closed";

export type RegisterRequest = { email: string, password: string, 
/**
 * The invite's token (from its link); needed unless registration is open.
 */
invite?: string, };

export type ChangePasswordRequest = { current_password: string, new_password: string, };

export type ResetPasswordRequest = { token: string, password: string, };

export type SignInProvider = { 
/**
 * `oidc` or `github`.
 */
id: string, 
/**
 * What the sign-in button says.
 */
name: string, 
/**
 * Where the browser goes to start (a path under `/api/v1`).
 */
start_path: string, };

export type AuthConfig = { 
/**
 * `single_user` or `password`.
 */
auth_mode: string, registration: Registration, 
/**
 * No account exists yet: whoever registers first (whatever `registration` says) becomes the
 * admin, so the sign-in screen offers to register.
 */
first_account: boolean, providers: Array<SignInProvider>, };

export type CreateTokenRequest = { name: string, 
/**
 * Days until it expires (1 to [`MAX_EXPIRY_DAYS`]); `null` or absent: never.
 */
expires_in_days?: number, 
/**
 * At least one; `admin` only for an admin.
 */
scopes: Array<Scope>, };

export type TokenView = { id: string, name: string, 
/**
 * The token's first characters (`wc_` and four more), to tell tokens apart.
 */
prefix: string, scopes: Array<Scope>, created_at: string, expires_at: string | null, last_used_at: string | null, };

export type CreatedToken = { token: string, info: TokenView, };

export type TokenList = { tokens: Array<TokenView>, };

export type UserUsage = { runs: number, failed_runs: number, input_tokens: number, output_tokens: number, cost_usd: number, last_run_at: string | null, };

export type AdminUserView = { id: string, email: string, role: Role, disabled: boolean, created_at: string, usage: UserUsage, };

export type AdminUserList = { users: Array<AdminUserView>, };

export type UpdateUserRequest = { disabled?: boolean, role?: Role, };

export type CreateInviteRequest = { 
/**
 * If set, only this address may use the invite.
 */
email?: string, 
/**
 * The new account's role (default member).
 */
role?: Role, 
/**
 * Days until it expires (default 7, at most [`MAX_EXPIRY_DAYS`]).
 */
expires_in_days?: number, };

export type InviteView = { id: string, email: string | null, role: Role, created_at: string, expires_at: string, used_at: string | null, };

export type CreatedInvite = { token: string, 
/**
 * `PUBLIC_URL` + `/login?invite=<token>`.
 */
url: string, invite: InviteView, };

export type InviteList = { invites: Array<InviteView>, };

export type PasswordResetLink = { token: string, 
/**
 * `PUBLIC_URL` + `/login?reset=<token>`.
 */
url: string, expires_at: string, };

export type UserView = { id: string, email: string, role: Role, created_at: string, };

export type AuthResponse = { token: string, expires_at: string, user: UserView, };

export type MeResponse = { user: UserView, 
/**
 * `single_user` or `password`: lets the UI skip its sign-in screen.
 */
auth_mode: string, 
/**
 * What the credential of this request may do (an API token's scopes; every scope the
 * role allows for a sign-in).
 */
scopes: Array<Scope>, };

export type CreateTaskRequest = { prompt: string, session_id: string | null, model: string | null, permission_mode: PermissionMode | null, 
/**
 * Ids of the user's own attachments, staged into the run's `inputs/`.
 */
attachments: Array<string>, 
/**
 * A repository cloned into the workspace (new sessions only).
 */
git: GitRepoRequest | null, 
/**
 * A preset of the user's (or the system's): its capabilities, model, permission mode and
 * prompt template (explicit fields of this request win).
 */
preset_id: string | null, 
/**
 * Explicit capability lists (each replaces that kind's preset or default items; `[]`: none).
 */
skill_ids: Array<string> | null, mcp_server_ids: Array<string> | null, slash_command_ids: Array<string> | null, subagent_ids: Array<string> | null, 
/**
 * The client's id for this submit (1 to 200 characters): a retried submit with the same id
 * queues nothing and answers what the first one did.
 */
client_request_id: string | null, 
/**
 * The user's project for a new session: its defaults fill what the task leaves out, its
 * instructions and files reach every run of the session. Ignored for a follow-up (the
 * session keeps its project).
 */
project_id: string | null, };

export type CreateTaskResponse = { session_id: string, run_id: string, status: RunStatus, };

export type SessionView = { id: string, title: string, status: SessionStatus, 
/**
 * The options the session was created with (model, permission mode).
 */
config: JsonValue, created_at: string, updated_at: string, 
/**
 * Input requests of the session's runs waiting for an answer.
 */
pending_inputs: number, 
/**
 * Follow-ups queued behind the active run.
 */
queued_runs: number, 
/**
 * The project the session belongs to.
 */
project_id: string | null, 
/**
 * Pinned by its owner (`PATCH /sessions/{id}` with `pinned`); `GET /sessions?pinned=true`
 * lists only these.
 */
pinned: boolean, 
/**
 * While a run of the session is on a worker: when it started (null before it started and
 * when no run is), so a client can show the elapsed time.
 */
running_since: string | null, };

export type SessionList = { sessions: Array<SessionView>, next_cursor: string | null, };

export type SessionDetail = { runs: Array<RunView>, id: string, title: string, status: SessionStatus, 
/**
 * The options the session was created with (model, permission mode).
 */
config: JsonValue, created_at: string, updated_at: string, 
/**
 * Input requests of the session's runs waiting for an answer.
 */
pending_inputs: number, 
/**
 * Follow-ups queued behind the active run.
 */
queued_runs: number, 
/**
 * The project the session belongs to.
 */
project_id: string | null, 
/**
 * Pinned by its owner (`PATCH /sessions/{id}` with `pinned`); `GET /sessions?pinned=true`
 * lists only these.
 */
pinned: boolean, 
/**
 * While a run of the session is on a worker: when it started (null before it started and
 * when no run is), so a client can show the elapsed time.
 */
running_since: string | null, };

export type UpdateSessionRequest = { 
/**
 * 1 to 200 characters (trimmed).
 */
title?: string, 
/**
 * Pin (true) or unpin (false) the session.
 */
pinned?: boolean, };

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
attempt_errors: Array<AttemptError>, 
/**
 * The capabilities the run was queued with, by name (`None` for runs queued before
 * capabilities existed).
 */
capabilities: CapabilitySummary | null, };

export type RunExport = { status: ExportStatus, files: number, added: number, modified: number, unchanged: number, deleted: number, uploaded_bytes: number, error: string | null, };

export type RunUsage = { 
/**
 * The CLI's figure, or, when `estimated`, the model catalog's prices times the tokens.
 */
total_cost_usd: number, duration_ms: number, num_turns: number, 
/**
 * `total_cost_usd` comes from the catalog's prices: the CLI reported no cost, or the model
 * belongs to a provider of its own (the CLI prices every model at Anthropic's rates).
 */
estimated: boolean, input_tokens: number, output_tokens: number, cache_creation_input_tokens: number, cache_read_input_tokens: number, };

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
 * `https://` URL of the repository (no credentials in it).
 */
url: string, branch: string | null, 
/**
 * The name of the secret holding the token for a private repository (the user's, else the
 * system's): it reaches the run's executor only, through `GIT_ASKPASS`.
 */
token_secret: string | null, };

export type DiffLineKind = "context" | "add" | "remove";

export type DiffLine = { kind: DiffLineKind, 
/**
 * Its number in the previous version; `null` for an added line.
 */
old_line: number | null, 
/**
 * Its number in the run's version; `null` for a removed line.
 */
new_line: number | null, 
/**
 * The line without its line break.
 */
text: string, 
/**
 * The line is its file's last and has no line break (`\ No newline at end of file`).
 */
no_newline: boolean, };

export type DiffHunk = { old_start: number, old_lines: number, new_start: number, new_lines: number, lines: Array<DiffLine>, };

export type FileDiff = { run_id: string, 
/**
 * The run whose export is the old side; `null` when no earlier run of the session has a
 * ready export (every file is then `added`).
 */
previous_run_id: string | null, path: string, 
/**
 * `added` (absent before), `deleted` (absent after), `modified` or `unchanged`.
 */
change: ManifestChange, 
/**
 * The previous version's size in bytes; `null` when it is absent.
 */
old_size: number | null, 
/**
 * The run's version's size in bytes; `null` when it is absent.
 */
new_size: number | null, 
/**
 * A side holds a NUL byte or is not UTF-8: no text, no hunks.
 */
binary: boolean, 
/**
 * A side is over the diff's size limit (1 MiB): no text, no hunks.
 */
too_large: boolean, 
/**
 * The unified diff (`--- a/path`, `+++ b/path`, hunks with 3 lines of context); `null`
 * when `binary` or `too_large`, empty when nothing changed.
 */
unified: string | null, 
/**
 * The same hunks, parsed, for unified and side-by-side views.
 */
hunks: Array<DiffHunk>, };

export type UsageGroupBy = "day" | "model" | "project";

export type UsageStats = { 
/**
 * Runs queued in the group, whatever their outcome.
 */
runs: number, 
/**
 * Of those, the runs that ended `failed`.
 */
failed_runs: number, input_tokens: number, output_tokens: number, cache_creation_input_tokens: number, cache_read_input_tokens: number, 
/**
 * The agent's reported cost (`run_usage.total_cost_usd`), summed.
 */
cost_usd: number, 
/**
 * Median wall-clock duration (`started_at` → `finished_at`) of the group's finished runs, in
 * milliseconds; `null` when none finished.
 */
duration_p50_ms: number | null, 
/**
 * 95th percentile of the same durations (continuous percentile, rounded).
 */
duration_p95_ms: number | null, };

export type UsageGroup = { 
/**
 * `day`: the date, `YYYY-MM-DD`; `model`: the model's id; `project`: the project's id.
 * `null` for runs without a model or without a project.
 */
key: string | null, 
/**
 * `project`: the project's name; otherwise `null`.
 */
label: string | null, usage: UsageStats, };

export type UsageReport = { 
/**
 * The first day counted (inclusive).
 */
from: string, 
/**
 * The day after the last one counted (exclusive).
 */
to: string, 
/**
 * The IANA time zone whose midnights bound the days.
 */
tz: string, group_by: UsageGroupBy, 
/**
 * Whether every user's runs are counted (`/admin/usage`) or only the caller's.
 */
all_users: boolean, 
/**
 * `day`: every day of the range in order, with zeros where nothing ran; `model` and
 * `project`: the groups that have runs, by cost (highest first), then key.
 */
groups: Array<UsageGroup>, 
/**
 * The whole range (its percentiles are over all its runs, not combined from the groups').
 */
totals: UsageStats, };

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

export type EnabledUpdate = { enabled: boolean, };

export type SkillFileEntry = { path: string, size: number, };

export type SkillView = { id: string, name: string, description: string, 
/**
 * The content hash of the current files (hex SHA-256 over paths and contents).
 */
version: string, 
/**
 * Bytes of all files.
 */
size: number, file_count: number, enabled: boolean, 
/**
 * A system skill: visible to every user, editable by none.
 */
system: boolean, created_at: string, updated_at: string, };

export type SkillDetail = { files: Array<SkillFileEntry>, id: string, name: string, description: string, 
/**
 * The content hash of the current files (hex SHA-256 over paths and contents).
 */
version: string, 
/**
 * Bytes of all files.
 */
size: number, file_count: number, enabled: boolean, 
/**
 * A system skill: visible to every user, editable by none.
 */
system: boolean, created_at: string, updated_at: string, };

export type SkillList = { skills: Array<SkillView>, };

export type McpServerView = { id: string, name: string, config: JsonValue, enabled: boolean, system: boolean, created_at: string, updated_at: string, };

export type McpServerRequest = { name: string | null, config: JsonValue | null, enabled: boolean | null, };

export type McpServerList = { mcp_servers: Array<McpServerView>, };

export type SlashCommandView = { id: string, name: string, description: string, argument_hint: string | null, allowed_tools: Array<string>, model: string | null, body: string, enabled: boolean, system: boolean, created_at: string, updated_at: string, };

export type SlashCommandRequest = { name: string | null, description: string | null, 
/**
 * `Some("")` clears it.
 */
argument_hint: string | null, allowed_tools: Array<string> | null, 
/**
 * `Some("")` clears it.
 */
model: string | null, body: string | null, enabled: boolean | null, };

export type SlashCommandList = { slash_commands: Array<SlashCommandView>, };

export type SubagentView = { id: string, name: string, description: string, 
/**
 * The tools it may use; all of the main agent's when empty.
 */
tools: Array<string>, model: string | null, system_prompt: string, enabled: boolean, system: boolean, created_at: string, updated_at: string, };

export type SubagentRequest = { name: string | null, description: string | null, tools: Array<string> | null, 
/**
 * `Some("")` clears it.
 */
model: string | null, system_prompt: string | null, enabled: boolean | null, };

export type SubagentList = { subagents: Array<SubagentView>, };

export type InstructionsView = { text: string, 
/**
 * The system-wide instructions every run also gets (read-only).
 */
system_text: string | null, updated_at: string | null, };

export type InstructionsRequest = { text: string, };

export type PresetView = { id: string, name: string, description: string, model: string | null, permission_mode: PermissionMode | null, 
/**
 * Prepended to the prompt of the task that names the preset.
 */
prompt_template: string | null, skill_ids: Array<string>, mcp_server_ids: Array<string>, slash_command_ids: Array<string>, subagent_ids: Array<string>, system: boolean, created_at: string, updated_at: string, };

export type PresetRequest = { name: string | null, description: string | null, 
/**
 * `Some("")` clears it.
 */
model: string | null, permission_mode: PermissionMode | null, 
/**
 * `Some("")` clears it.
 */
prompt_template: string | null, skill_ids: Array<string> | null, mcp_server_ids: Array<string> | null, slash_command_ids: Array<string> | null, subagent_ids: Array<string> | null, };

export type PresetList = { presets: Array<PresetView>, };

export type CapabilityChoice = { preset_id: string | null, skill_ids: Array<string> | null, mcp_server_ids: Array<string> | null, slash_command_ids: Array<string> | null, subagent_ids: Array<string> | null, };

export type CapabilityRef = { id: string, name: string, };

export type CapabilitySummary = { preset: CapabilityRef | null, skills: Array<CapabilityRef>, mcp_servers: Array<CapabilityRef>, slash_commands: Array<CapabilityRef>, subagents: Array<CapabilityRef>, 
/**
 * Whether a `CLAUDE.md` is staged (the user's and/or the system's).
 */
instructions: boolean, 
/**
 * The model and permission mode the preset sets, if it does.
 */
model: string | null, permission_mode: PermissionMode | null, };

export type InputKind = "permission" | "question" | "plan";

export type Question = { 
/**
 * The full question; the key of its answer.
 */
question: string, 
/**
 * A short label for it (a chip or tab title).
 */
header?: string | null, multi_select: boolean, options: Array<QuestionOption>, };

export type QuestionOption = { label: string, description?: string | null, };

export type InputRequest = { 
/**
 * Made by the executor (not the CLI's own id); the id of `POST /input-requests/{id}/answer`.
 */
request_id: string, kind: InputKind, tool_name: string, 
/**
 * The tool call waiting, when the CLI names it.
 */
tool_use_id?: string | null, 
/**
 * The tool's input as the CLI would run it.
 */
input: JsonValue, 
/**
 * What the call does, in the CLI's words (e.g. a Bash command's description).
 */
description?: string | null, 
/**
 * The path the call would touch, when the CLI names one (a file in the workspace too).
 */
blocked_path?: string | null, 
/**
 * `question`: the questions, in order.
 */
questions?: Array<Question>, 
/**
 * `plan`: the plan, as Markdown (from the `ExitPlanMode` call).
 */
plan?: string | null, expires_at: string, };

export type InputDecision = "allow" | "deny";

export type InputOutcome = "answered" | "expired" | "canceled";

export type InputRequestStatus = "pending" | "answered" | "expired" | "canceled";

export type AnswerInputRequest = { decision: InputDecision, 
/**
 * `deny`: what the agent is told (the reason, or feedback on a plan). `allow`: ignored.
 */
message: string | null, 
/**
 * `permission`, `allow`: the tool input to run instead of the agent's (an edited command).
 */
updated_input: JsonValue | null, 
/**
 * `question`: the answer to each question, keyed by its full text (several labels of a
 * multi-select question joined with `", "`; free text allowed).
 */
answers: { [key in string]?: string }, 
/**
 * `permission`, `allow`: allow this tool without asking for the rest of the session.
 */
always: boolean, 
/**
 * `plan`, `allow`: the permission mode for the rest of the run and the session's later
 * runs (`acceptEdits` or `bypassPermissions`; `acceptEdits` when absent).
 */
mode: PermissionMode | null, };

export type InputAnswer = { request_id: string, outcome: InputOutcome, decision: InputDecision, message?: string | null, updated_input?: JsonValue | null, answers?: { [key in string]?: string }, always: boolean, mode?: PermissionMode | null, 
/**
 * Who answered (their email); `None` for an expiry or a cancel.
 */
answered_by?: string | null, answered_at: string, };

export type InputRequestView = { id: string, run_id: string, session_id: string, status: InputRequestStatus, request: InputRequest, answer: InputAnswer | null, created_at: string, };

export type InputRequestList = { requests: Array<InputRequestView>, };

export type QueuedRunView = { run_id: string, prompt: string, 
/**
 * 1 for the next to run.
 */
position: number, created_at: string, };

export type SessionQueue = { runs: Array<QueuedRunView>, };

export type UpdateQueuedRunRequest = { prompt: string, };

export type SearchHitKind = "title" | "prompt" | "assistant" | "file";

export type SearchHit = { kind: SearchHitKind, session_id: string, 
/**
 * The session's title now.
 */
session_title: string, project_id: string | null, 
/**
 * The run of a prompt, assistant or file hit; null for a title.
 */
run_id: string | null, 
/**
 * The session event the hit comes from (assistant and file hits): open the session at it.
 */
seq: number | null, 
/**
 * Plain text, never HTML: a stretch of the matching text around its first match,
 * whitespace runs shown as one space, about 200 characters at most, with `…` where it was
 * cut (a short text is shown whole).
 */
snippet: string, 
/**
 * The stretches of `snippet` that match a word of the query: half-open `[start, end)`
 * offsets in UTF-16 code units (what JavaScript's `String.prototype.slice` counts), sorted
 * and not overlapping. Render `snippet.slice(0, s0)`, a mark around
 * `snippet.slice(s0, e0)`, and so on, as text.
 */
highlights: Array<[number, number]>, 
/**
 * Higher is better; comparable within one query only.
 */
score: number, 
/**
 * When the text was written (the event's time, the run's or the session's creation).
 */
created_at: string, };

export type SearchResults = { hits: Array<SearchHit>, next_cursor: string | null, };

export type SecretValue = string;

export type SecretView = { name: string, description: string, 
/**
 * At most the value's last four characters; `None` for short values.
 */
last4: string | null, 
/**
 * A system secret (set by the operator): visible to every user's runs, read-only here,
 * and overridden by a user's own secret of the same name.
 */
system: boolean, 
/**
 * For a system secret: whether the user has their own of the same name (which wins).
 */
overridden: boolean, created_at: string, updated_at: string, };

export type SecretList = { secrets: Array<SecretView>, };

export type SetSecretRequest = { name: string | null, value: SecretValue, description: string | null, };

export type UpdateSecretRequest = { description: string, };

export type ProjectDefaults = { model: string | null, preset_id: string | null, permission_mode: PermissionMode | null, 
/**
 * The repository new sessions of the project clone (with its token's secret name).
 */
git: GitRepoRequest | null, };

export type ProjectView = { id: string, name: string, description: string, defaults: ProjectDefaults, 
/**
 * The project's `CLAUDE.md`: added after the user's own instructions in every run of the
 * project's sessions.
 */
instructions: string, 
/**
 * Staged into every run's `inputs/` (a task's attachment of the same name wins).
 */
files: Array<AttachmentView>, 
/**
 * Sessions in the project (deleted ones not counted).
 */
session_count: number, created_at: string, updated_at: string, };

export type ProjectList = { projects: Array<ProjectView>, };

export type CreateProjectRequest = { name: string, description: string, defaults: ProjectDefaults, instructions: string, };

export type UpdateProjectRequest = { name: string | null, description: string | null, defaults: ProjectDefaults | null, instructions: string | null, };

export type ModelView = { 
/**
 * What a task names as `model` and the CLI gets as `--model`.
 */
id: string, label: string, 
/**
 * The provider serving it (`anthropic` for the manager's own credential).
 */
provider: string, 
/**
 * Tokens of context, when known.
 */
context_window: number | null, 
/**
 * US dollars per million input tokens, when known.
 */
input_price_per_mtok: number | null, 
/**
 * US dollars per million output tokens, when known.
 */
output_price_per_mtok: number | null, 
/**
 * US dollars per million cache-write input tokens, when known.
 */
cache_write_price_per_mtok: number | null, 
/**
 * US dollars per million cache-read input tokens, when known.
 */
cache_read_price_per_mtok: number | null, };

export type ModelList = { models: Array<ModelView>, 
/**
 * The model a task runs with when it names none (`None`: the CLI's own default).
 */
default_model: string | null, };

export type ClientMessage = { "type": "auth", token: string, } | { "type": "subscribe", session_id: string, after: number, } | { "type": "unsubscribe", session_id: string, };

export type ServerMessage = { "type": "ready", user_id: string, } | { "type": "subscribed", session_id: string, after: number, } | { "type": "event", session_id: string, seq: number, event: Event, } | { "type": "session_updated", session: SessionView, } | { "type": "session_deleted", session_id: string, } | { "type": "error", code: ErrorCode, message: string, session_id?: string | null, };

/**
 * Every `ErrorCode`, from `ErrorCode::ALL`.
 */
export const ERROR_CODES: ReadonlyArray<ErrorCode> = ["bad_request", "malformed_json", "bad_body", "invalid_path", "invalid_query", "invalid_cursor", "websocket_required", "bad_multipart", "missing_file", "invalid_git", "invalid_cron", "invalid_timezone", "invalid_name", "invalid_prompt", "invalid_model", "invalid_request", "validation_error", "run_mismatch", "invalid_archive", "unknown_secret", "unknown_model", "weak_password", "unauthorized", "forbidden_origin", "model_access_denied", "read_only", "insufficient_scope", "account_disabled", "registration_closed", "sign_in_refused", "not_found", "route_not_found", "method_not_allowed", "lease_lost", "session_active", "not_retryable", "email_taken", "single_user_mode", "attachment_in_use", "project_not_empty", "name_taken", "task_running", "already_answered", "not_queued", "request_expired", "duplicate_run", "payload_too_large", "unsupported_media_type", "range_not_satisfiable", "rate_limited", "internal", "bad_gateway", "backend_unavailable", "upstream_unreachable", "shutting_down", "timeout", "unavailable", "unknown"];
