//! The executor's one task at a time: acceptance, lifecycle and status.
//!
//! ```text
//! execute ─▶ preparing ─▶ running ─▶ completed | failed
//!                │            │
//!                └── cancel ──┴─▶ canceling ─▶ canceled
//! ```
//!
//! While the agent runs, its control requests (a tool call waiting for permission, a question, a
//! plan to approve) wait in the run's [`Controls`] for [`TaskManager::answer`]; any still pending
//! when the run ends are recorded as `canceled` before its terminal event.
//!
//! A run always ends with exactly one terminal event (`completed`, `failed` or `canceled`),
//! emitted after everything else, and its status turns terminal only once its events were handed
//! to the callback receiver (or given up on): a manager that sees a terminal state may stop the
//! container.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use protocol::event::EventBody;
use protocol::executor::{ExecuteRequest, PrestartRequest, TaskState, TaskStatus};
use protocol::input::InputAnswer;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};
use uuid::Uuid;

use crate::agent::control::{AnswerError, Controls};
use crate::agent::prestart::Prestarted;
use crate::agent::{self, AgentInvocation, LiveAgent, Waiting};
use crate::callback::{self, CallbackConfig, EventSink};
use crate::config::Settings;
use crate::staging::{self, StageOutcome, Staged, StagedRecord, StagingError};
use crate::workspace::{self, Snapshot, Workspace, WorkspaceError};

/// Finished tasks remembered for `GET /v1/tasks/{run_id}`.
const FINISHED_KEPT: usize = 32;

/// Why a task was not accepted or not found.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("a task is already running (run {0})")]
    Busy(Uuid),
    #[error("run {0} was already executed by this executor")]
    Duplicate(Uuid),
    #[error("no task with run id {0}")]
    NotFound(Uuid),
    #[error("{0}")]
    Invalid(String),
    #[error("the executor is shutting down")]
    ShuttingDown,
    #[error("run {0} came first: a CLI is started ahead of a pooled executor's first task only")]
    NotFirst(Uuid),
    /// The executor could not do what was asked of it (its own trouble, not the request's).
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Answer(#[from] AnswerError),
}

/// Accepts tasks, runs them one at a time, answers for their status.
#[derive(Clone)]
pub struct TaskManager {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Arc<Settings>,
    http: reqwest::Client,
    slots: Mutex<Slots>,
    shutting_down: AtomicBool,
    /// The CLI started ahead for the next run (`AGENT_PRESTART`).
    prestarted: Mutex<Option<Prestarted>>,
    prestart: PrestartCounts,
    /// What the last run staged in the CLI's configuration directory (`None` before the first
    /// run, and after a run whose preparation failed: the next one stages again).
    staged: Mutex<Option<StagedRecord>>,
}

/// How often a task found a CLI started ahead for it.
#[derive(Default)]
struct PrestartCounts {
    taken: AtomicU64,
    kept: AtomicU64,
    replaced: AtomicU64,
}

/// [`TaskManager::prestart_counts`]: tasks that ran in a CLI started ahead, tasks that ran in the
/// CLI kept from the session's previous run, and waiting CLIs that were stopped because the task
/// needed another one (or they had ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrestartUse {
    pub taken: u64,
    pub kept: u64,
    pub replaced: u64,
}

#[derive(Default)]
struct Slots {
    current: Option<Arc<TaskRecord>>,
    finished: VecDeque<Arc<TaskRecord>>,
}

struct TaskRecord {
    run_id: Uuid,
    status: Mutex<(TaskState, Option<String>)>,
    events: Arc<AtomicI64>,
    cancel: CancellationToken,
    cancel_reason: Mutex<Option<String>>,
    done: watch::Sender<bool>,
    /// The agent's control requests waiting for a person (see [`agent::control`]).
    controls: Arc<Controls>,
}

impl TaskRecord {
    fn state(&self) -> TaskState {
        lock(&self.status).0
    }

    fn is_finished(&self) -> bool {
        is_terminal(self.state())
    }

    /// Moves `preparing` to `running`, leaving `canceling` alone.
    fn mark_running(&self) {
        let mut status = lock(&self.status);
        if status.0 == TaskState::Preparing {
            status.0 = TaskState::Running;
        }
    }

    fn finish(&self, state: TaskState, error: Option<String>) {
        *lock(&self.status) = (state, error);
        self.done.send_replace(true);
    }

    fn status(&self) -> TaskStatus {
        let (state, error) = lock(&self.status).clone();
        TaskStatus {
            run_id: self.run_id,
            state,
            events: self.events.load(Ordering::Acquire),
            error,
        }
    }

    fn request_cancel(&self, reason: &str) {
        {
            let mut status = lock(&self.status);
            if is_terminal(status.0) {
                return;
            }
            status.0 = TaskState::Canceling;
        }
        lock(&self.cancel_reason).get_or_insert_with(|| reason.to_owned());
        self.cancel.cancel();
    }

    fn cancel_reason(&self) -> Option<String> {
        lock(&self.cancel_reason).clone()
    }
}

fn is_terminal(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Completed | TaskState::Failed | TaskState::Canceled
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a run ended.
enum Ending {
    Completed,
    Failed(String),
    Canceled(Option<String>),
}

impl TaskManager {
    pub fn new(settings: Arc<Settings>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(
                settings.callback_timeout_seconds,
            ))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                http,
                slots: Mutex::new(Slots::default()),
                shutting_down: AtomicBool::new(false),
                prestarted: Mutex::new(None),
                prestart: PrestartCounts::default(),
                staged: Mutex::new(None),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Whether new tasks are accepted.
    pub fn is_ready(&self) -> bool {
        !self.inner.shutting_down.load(Ordering::Acquire)
    }

    /// Accepts a task and starts it in the background.
    pub fn execute(&self, req: ExecuteRequest) -> Result<Uuid, TaskError> {
        if !self.is_ready() {
            return Err(TaskError::ShuttingDown);
        }
        validate(&req).map_err(TaskError::Invalid)?;
        let record = {
            let mut slots = lock(&self.inner.slots);
            if let Some(current) = &slots.current {
                if !current.is_finished() {
                    return Err(TaskError::Busy(current.run_id));
                }
                if current.run_id == req.run_id {
                    return Err(TaskError::Duplicate(req.run_id));
                }
            }
            if slots.finished.iter().any(|r| r.run_id == req.run_id) {
                return Err(TaskError::Duplicate(req.run_id));
            }
            let (done, _) = watch::channel(false);
            let record = Arc::new(TaskRecord {
                run_id: req.run_id,
                status: Mutex::new((TaskState::Preparing, None)),
                events: Arc::new(AtomicI64::new(0)),
                cancel: CancellationToken::new(),
                cancel_reason: Mutex::new(None),
                done,
                controls: Controls::new(req.input_timeout_seconds),
            });
            if let Some(previous) = slots.current.replace(record.clone()) {
                slots.finished.push_back(previous);
                while slots.finished.len() > FINISHED_KEPT {
                    slots.finished.pop_front();
                }
            }
            record
        };
        let run_id = req.run_id;
        // The request id of the manager's execute call stays with the run (its span, its
        // callbacks), so one run can be followed from the backend to the agent.
        let request_id = telemetry::request_id::current();
        let span = info_span!(
            "run",
            %run_id,
            session_id = %req.session_id,
            request_id = request_id.as_deref().unwrap_or_default(),
        );
        tokio::spawn(
            telemetry::request_id::scope_opt(request_id, run(self.inner.clone(), record, req))
                .instrument(span),
        );
        Ok(run_id)
    }

    /// `POST /v1/prestart`: readies a pooled executor's CLI for a new session's first run before
    /// any task came. The workspace is prepared as a run would prepare it (nothing staged, no
    /// inputs), then the CLI is started for `req`'s settings and left waiting; the task that comes
    /// takes it when its command line differs in model and permission mode at most (those are
    /// applied late, [`crate::agent::prestart`]). Refused once a task came (`409`), while shutting
    /// down (`503`), and with `AGENT_PRESTART` off (`422`, which the manager reads as "off"); a
    /// workspace or CLI that fails is `500`.
    pub async fn prestart(&self, req: PrestartRequest) -> Result<(), TaskError> {
        if !self.is_ready() {
            return Err(TaskError::ShuttingDown);
        }
        if !self.inner.settings.agent_prestart {
            return Err(TaskError::Invalid(
                "AGENT_PRESTART is off: this executor starts no CLI ahead".into(),
            ));
        }
        self.first_task_came()?;
        let task = first_run(req);
        let settings = &self.inner.settings;
        let last = lock(&self.inner.staged).take();
        let staging = prepare_ahead(settings, &self.inner.http, &task, last)
            .await
            .map_err(|e| TaskError::Internal(format!("could not prepare the workspace: {e}")))?;
        let inv = AgentInvocation::new(settings, &task, &staging.staged, |name| {
            std::env::var(name).ok()
        });
        *lock(&self.inner.staged) = Some(staging.record);
        let started = Prestarted::start_late(inv)
            .map_err(|e| TaskError::Internal(format!("could not start the agent ahead: {e}")))?;
        // A task that came meanwhile prepared the workspace itself and runs without it.
        self.first_task_came()?;
        info!("agent started ahead of a pooled executor's first task");
        *lock(&self.inner.prestarted) = Some(started);
        Ok(())
    }

    fn first_task_came(&self) -> Result<(), TaskError> {
        match &lock(&self.inner.slots).current {
            Some(record) => Err(TaskError::NotFirst(record.run_id)),
            None => Ok(()),
        }
    }

    /// The status of a run this executor knows.
    pub fn status(&self, run_id: Uuid) -> Result<TaskStatus, TaskError> {
        self.find(run_id)
            .map(|r| r.status())
            .ok_or(TaskError::NotFound(run_id))
    }

    /// Hands a person's answer to the run's pending input request (written to the CLI, emitted as
    /// an `input_answer` event).
    pub fn answer(&self, run_id: Uuid, answer: InputAnswer) -> Result<(), TaskError> {
        let record = self.find(run_id).ok_or(TaskError::NotFound(run_id))?;
        record.controls.answer(answer).map_err(TaskError::from)
    }

    /// Asks a run to stop. A finished run is left as it is.
    pub fn cancel(&self, run_id: Uuid) -> Result<TaskStatus, TaskError> {
        let record = self.find(run_id).ok_or(TaskError::NotFound(run_id))?;
        if !record.is_finished() {
            info!(%run_id, "cancel requested");
            record.request_cancel("canceled by request");
        }
        Ok(record.status())
    }

    /// Refuses new tasks, cancels the running one and waits for its end (its terminal event
    /// delivered); a CLI started ahead is stopped.
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Release);
        let current = lock(&self.inner.slots).current.clone();
        if let Some(record) = current {
            if !record.is_finished() {
                info!(run_id = %record.run_id, "shutting down: canceling the running task");
                record.request_cancel("the executor is shutting down");
            }
            let mut done = record.done.subscribe();
            let _ = done.wait_for(|d| *d).await;
        }
        drop(lock(&self.inner.prestarted).take());
    }

    /// How tasks used the CLIs started ahead of them so far.
    pub fn prestart_counts(&self) -> PrestartUse {
        PrestartUse {
            taken: self.inner.prestart.taken.load(Ordering::Acquire),
            kept: self.inner.prestart.kept.load(Ordering::Acquire),
            replaced: self.inner.prestart.replaced.load(Ordering::Acquire),
        }
    }

    /// Waits until the given run has finished (tests and benchmarks).
    pub async fn wait(&self, run_id: Uuid) -> Option<TaskStatus> {
        let record = self.find(run_id)?;
        let mut done = record.done.subscribe();
        let _ = done.wait_for(|d| *d).await;
        Some(record.status())
    }

    fn find(&self, run_id: Uuid) -> Option<Arc<TaskRecord>> {
        let slots = lock(&self.inner.slots);
        slots
            .current
            .iter()
            .chain(slots.finished.iter())
            .find(|r| r.run_id == run_id)
            .cloned()
    }
}

/// Checks what the types cannot: values that would reach a command line, a path or a URL.
fn validate(req: &ExecuteRequest) -> Result<(), String> {
    if req.prompt.trim().is_empty() {
        return Err("prompt must not be empty".into());
    }
    match reqwest::Url::parse(&req.callback_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => return Err("callback_url must be an http:// or https:// URL".into()),
    }
    if req.callback_token.is_empty() {
        return Err("callback_token must not be empty".into());
    }
    let no_nul = |field: &str, value: &str| {
        if value.contains('\0') {
            Err(format!("{field} must not contain NUL characters"))
        } else {
            Ok(())
        }
    };
    if let Some(model) = &req.model {
        no_nul("model", model)?;
    }
    if let Some(id) = &req.resume_agent_session_id
        && !(id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(
            "resume_agent_session_id must be a session id (letters, digits, - and _)".into(),
        );
    }
    if let Some(text) = &req.append_system_prompt {
        no_nul("append_system_prompt", text)?;
    }
    for tool in req.allowed_tools.iter().chain(&req.disallowed_tools) {
        no_nul("allowed_tools/disallowed_tools", tool)?;
        if tool.trim().is_empty() || tool.starts_with('-') {
            return Err(format!("`{tool}` is not a tool name"));
        }
    }
    for (name, value) in &req.env {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(format!("env: `{name}` is not a variable name"));
        }
        no_nul(&format!("env {name}"), value)?;
    }
    for input in &req.input_files {
        if !workspace::valid_input_name(&input.name) {
            return Err(format!(
                "input file name `{}` must be a plain file name (no `/` or `..`)",
                input.name
            ));
        }
        match reqwest::Url::parse(&input.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(format!(
                    "input file `{}`: url must be an http:// or https:// URL",
                    input.name
                ));
            }
        }
    }
    staging::validate(req)?;
    if let Some(git) = &req.git
        && git.url.trim().is_empty()
    {
        return Err("git.url must not be empty".into());
    }
    Ok(())
}

/// One run, start to end.
async fn run(inner: Arc<Inner>, record: Arc<TaskRecord>, req: ExecuteRequest) {
    let settings = inner.settings.clone();
    let config = CallbackConfig::new(
        &settings,
        req.callback_url.clone(),
        req.callback_token.clone(),
    );
    let (mut sink, delivery) = callback::start(
        inner.http.clone(),
        req.run_id,
        config,
        record.events.clone(),
    );
    info!(
        permission_mode = req.permission_mode.as_cli_flag(),
        resume = req.resume_agent_session_id.is_some(),
        "run started"
    );

    let prestarted = lock(&inner.prestarted).take();
    let (ending, agent_session, staged, kept) =
        execute(&inner, &record, &req, prestarted, &mut sink).await;
    // Before the terminal event: once the manager sees it, the next task may come at once.
    // Only a completed run's CLI is kept (a failed one may be in any state).
    let kept = kept.filter(|_| matches!(ending, Ending::Completed));
    if let Some(staged) = staged {
        inner.prestart_next(&req, agent_session, &staged, kept);
    }
    let (state, body, error) = match ending {
        Ending::Completed => (TaskState::Completed, EventBody::Completed {}, None),
        Ending::Failed(message) => (
            TaskState::Failed,
            EventBody::Failed {
                error: message.clone(),
            },
            Some(message),
        ),
        Ending::Canceled(reason) => (TaskState::Canceled, EventBody::Canceled { reason }, None),
    };
    if let Some(message) = &error {
        warn!(error = %message, "run failed");
    }
    sink.emit(body).await;
    let events = sink.emitted();
    drop(sink);
    match delivery.await {
        Ok(report) => info!(
            state = ?state,
            events,
            delivered = report.delivered,
            dropped = report.dropped,
            requests = report.requests,
            "run finished"
        ),
        Err(e) => error!(error = %e, "callback delivery task failed"),
    }
    record.finish(state, error);
}

impl Inner {
    /// Starts the CLI the session's next run most likely needs: this task's settings and
    /// capabilities (as staged now), resuming the conversation that just ended. The next task
    /// takes it only when its invocation matches, capabilities digest and MCP path included;
    /// one that stages other capabilities (or finds the staged files changed) replaces it.
    /// Tasks that clone a repository are left out: their CLI starts after the clone, and a
    /// follow-up never clones. So are capabilities staged without a digest (unknown: nothing
    /// could match them).
    fn prestart_next(
        &self,
        req: &ExecuteRequest,
        agent_session: Option<String>,
        staged: &Staged,
        kept: Option<LiveAgent>,
    ) {
        if !self.settings.agent_prestart
            || self.shutting_down.load(Ordering::Acquire)
            || req.git.is_some()
            || staged.key.is_none()
        {
            // A kept CLI, if any, stops here (dropped).
            return;
        }
        let mut next = req.clone();
        if let Some(id) = agent_session {
            next.resume_agent_session_id = Some(id);
        }
        let inv = AgentInvocation::new(&self.settings, &next, staged, |name| {
            std::env::var(name).ok()
        });
        // The run's own CLI, still in the conversation, is the best guess; a new one otherwise.
        if let Some(mut live) = kept
            && live.alive()
        {
            *lock(&self.prestarted) = Some(Prestarted::keep(inv, live));
            return;
        }
        match Prestarted::start(inv) {
            Ok(p) => *lock(&self.prestarted) = Some(p),
            Err(e) => warn!(error = %e, "could not start the agent ahead of the next task"),
        }
    }

    /// The CLI waiting for `inv` (started ahead or kept), if there is one; any other is stopped.
    fn waiting_agent(
        &self,
        prestarted: Option<Prestarted>,
        inv: &AgentInvocation,
    ) -> Option<Waiting> {
        let waiting = prestarted?.take_for(inv);
        let counter = match &waiting {
            Some(Waiting::Kept(_)) => &self.prestart.kept,
            Some(Waiting::Started(..)) => &self.prestart.taken,
            None => &self.prestart.replaced,
        };
        counter.fetch_add(1, Ordering::AcqRel);
        waiting
    }
}

/// Prepares the workspace, runs the agent and reports the changes; returns how the run ended,
/// the agent's session id, what it had staged (when preparing got that far), and the agent
/// itself when it was kept alive for the session's next message.
async fn execute(
    inner: &Inner,
    record: &TaskRecord,
    req: &ExecuteRequest,
    prestarted: Option<Prestarted>,
    sink: &mut EventSink,
) -> (Ending, Option<String>, Option<Staged>, Option<LiveAgent>) {
    let settings = &inner.settings;
    let ws = Workspace::new(settings.workspace_path.clone());
    let last = lock(&inner.staged).take();
    let prepared = tokio::select! {
        prepared = prepare(settings, &inner.http, &ws, req, last) => prepared,
        _ = record.cancel.cancelled() => {
            return (Ending::Canceled(record.cancel_reason()), None, None, None)
        }
    };
    let (snapshot, staging) = match prepared {
        Ok(p) => p,
        Err(e) => {
            return (
                Ending::Failed(format!("could not prepare the workspace: {e}")),
                None,
                None,
                None,
            );
        }
    };
    *lock(&inner.staged) = Some(staging.record);
    let staged = staging.staged;
    if record.cancel.is_cancelled() {
        return (
            Ending::Canceled(record.cancel_reason()),
            None,
            Some(staged),
            None,
        );
    }
    record.mark_running();

    let invocation = AgentInvocation::new(settings, req, &staged, |name| std::env::var(name).ok());
    // A CLI started ahead read the configuration directory as it was; files written since
    // (staged again although the digest is the same) make it stale.
    let prestarted = if staging.restaged {
        if prestarted.is_some() {
            inner.prestart.replaced.fetch_add(1, Ordering::AcqRel);
            info!("capabilities were staged again; the agent started ahead is replaced");
        }
        None
    } else {
        prestarted
    };
    let waiting = inner.waiting_agent(prestarted, &invocation);
    // The CLI may stay for the session's next message when the next one could use it.
    let keep = settings.agent_prestart && req.git.is_none() && staged.key.is_some();
    let outcome = agent::run(
        invocation,
        waiting,
        keep,
        &record.controls,
        sink,
        &record.cancel,
        settings.cancel_grace(),
    )
    .await;
    let (outcome, kept) = match outcome {
        Ok((o, kept)) => (Ok(o), kept),
        Err(e) => (Err(e), None),
    };
    let agent_session = outcome
        .as_ref()
        .ok()
        .and_then(|o| o.agent_session_id.clone());

    if let (Some(snapshot), Ok(_)) = (&snapshot, &outcome) {
        match ws.changes(snapshot).await {
            Ok(changes) => {
                info!(files = changes.len(), "file changes measured");
                sink.emit(EventBody::FileChanges { changes }).await;
            }
            Err(e) => workspace::warn_changes_failed(&e),
        }
    }

    let ending = match outcome {
        Err(e) => Ending::Failed(e.to_string()),
        Ok(o) if o.canceled() || record.cancel.is_cancelled() => {
            Ending::Canceled(record.cancel_reason())
        }
        Ok(o) => match o.failure() {
            Some(message) => Ending::Failed(message),
            None => Ending::Completed,
        },
    };
    (ending, agent_session, Some(staged), kept)
}

/// Why the workspace could not be made ready.
#[derive(Debug, thiserror::Error)]
enum PrepareError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Staging(#[from] StagingError),
}

/// Makes the workspace ready: repository, ignores, the run's capabilities in the CLI's
/// configuration directory (kept as they are when `last` staged the same digest), attachments,
/// the start snapshot (none if it cannot be taken: the run goes on without change accounting),
/// and ownership by the agent's user.
async fn prepare(
    settings: &Settings,
    http: &reqwest::Client,
    ws: &Workspace,
    req: &ExecuteRequest,
    last: Option<StagedRecord>,
) -> Result<(Option<Snapshot>, StageOutcome), PrepareError> {
    ws.ensure_repository(req.git.as_ref()).await?;
    let data_dir = create_data_dir(settings).await?;
    ws.write_excludes(&settings.extra_ignores()).await?;
    let staging = staging::stage(&data_dir, http, req, last).await?;
    ws.fetch_inputs(http, &req.input_files).await?;
    let snapshot = match ws.snapshot().await {
        Ok(s) => Some(s),
        Err(e) => {
            workspace::warn_changes_failed(&e);
            None
        }
    };
    // After the snapshot: git objects it wrote must belong to the agent too.
    if let (Some(uid), Some(gid)) = (settings.agent_uid, settings.agent_gid) {
        ws.chown(uid, gid).await?;
    }
    Ok((snapshot, staging))
}

/// The task a CLI started ahead of a pooled executor's first task is started for: a new
/// session's first run with `req`'s settings (nothing staged, no inputs, no conversation).
fn first_run(req: PrestartRequest) -> ExecuteRequest {
    ExecuteRequest {
        run_id: Uuid::nil(),
        session_id: Uuid::nil(),
        prompt: String::new(),
        model: req.model,
        permission_mode: req.permission_mode,
        resume_agent_session_id: None,
        callback_url: String::new(),
        callback_token: String::new(),
        env: req.env,
        mcp_config: None,
        append_system_prompt: None,
        allowed_tools: Vec::new(),
        disallowed_tools: Vec::new(),
        skills: Vec::new(),
        slash_commands: Vec::new(),
        subagents: Vec::new(),
        instructions: None,
        capabilities_digest: None,
        input_timeout_seconds: None,
        git: None,
        input_files: Vec::new(),
    }
}

/// The CLI's configuration directory in the workspace (both made when missing).
async fn create_data_dir(settings: &Settings) -> Result<std::path::PathBuf, WorkspaceError> {
    let data_dir = settings.agent_data_dir();
    tokio::fs::create_dir_all(&data_dir)
        .await
        .map_err(|source| WorkspaceError::Io {
            context: format!("could not create {}", data_dir.display()),
            source,
        })?;
    Ok(data_dir)
}

/// What a CLI started ahead of a pooled executor's first task needs before it starts: the
/// workspace and configuration directories (the repository is left to the task: it may clone
/// one), nothing staged, everything the agent's.
async fn prepare_ahead(
    settings: &Settings,
    http: &reqwest::Client,
    task: &ExecuteRequest,
    last: Option<StagedRecord>,
) -> Result<StageOutcome, PrepareError> {
    let data_dir = create_data_dir(settings).await?;
    let staging = staging::stage(&data_dir, http, task, last).await?;
    if let (Some(uid), Some(gid)) = (settings.agent_uid, settings.agent_gid) {
        Workspace::new(settings.workspace_path.clone())
            .chown(uid, gid)
            .await?;
    }
    Ok(staging)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(extra: serde_json::Value) -> ExecuteRequest {
        let mut base = json!({
            "run_id": Uuid::new_v4(),
            "session_id": Uuid::new_v4(),
            "prompt": "hi",
            "callback_url": "http://127.0.0.1:9/cb",
            "callback_token": "t",
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn validation_rejects_what_would_escape() {
        assert!(validate(&request(json!({}))).is_ok());
        for bad in [
            json!({"prompt": "  "}),
            json!({"callback_url": "ftp://x"}),
            json!({"callback_url": "not a url"}),
            json!({"input_files": [{"name": "../etc", "url": "http://x/y"}]}),
            json!({"input_files": [{"name": "a/b", "url": "http://x/y"}]}),
            json!({"input_files": [{"name": "ok.txt", "url": "file:///etc/passwd"}]}),
            json!({"skills": [{"path": "../../x", "url": "http://x/y", "size": 1}]}),
            json!({"skills": [{"path": "s/SKILL.md", "url": "file:///etc/passwd", "size": 1}]}),
            json!({"slash_commands": [{"name": "../x", "content": ""}]}),
            json!({"allowed_tools": ["--dangerously-skip-permissions"]}),
            json!({"resume_agent_session_id": "--x"}),
            json!({"env": {"A=B": "x"}}),
        ] {
            assert!(validate(&request(bad.clone())).is_err(), "{bad}");
        }
    }
}
