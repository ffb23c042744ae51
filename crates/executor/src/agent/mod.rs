//! The agent: one Claude Code CLI process per run, headless, its stdout turned into events.
//!
//! The CLI runs as `claude -p --input-format stream-json --output-format stream-json --verbose
//! --permission-prompt-tool stdio --model=M --permission-mode=P [--resume=ID] [--mcp-config=FILE]
//! [--append-system-prompt=TEXT] [--allowedTools T…] [--disallowedTools T…]` in the workspace,
//! with the prompt on stdin as one user message (never through a shell or the command line), in
//! its own process group, with an environment built from scratch (see [`AgentInvocation::new`]).
//! Because the prompt is not part of the command, the process can be started before its task
//! arrives ([`prestart`]).
//!
//! Stdin stays open after the prompt: a writer task fed by a channel writes the answers to the
//! CLI's control requests ([`control`]: a tool call waiting for permission, a question, a plan)
//! and closes it when the `result` line is seen or the agent is stopped; requests still pending
//! then end as `canceled`, before the run's terminal event. With the CLI kept across the runs of a
//! session ([`LiveAgent`]), the `result` line ends the run but not the input: the process waits
//! for the session's next message.
//!
//! Stopping (a cancel, or a model API that refuses the key) sends SIGINT to the CLI's group — the
//! CLI then aborts its tools and prints its `result` — and SIGKILL to the whole process tree after
//! the grace period. Processes the run leaves behind are killed when it ends.

pub mod control;
pub mod prestart;
pub mod process;
pub mod stream;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use protocol::event::EventBody;
use protocol::executor::ExecuteRequest;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, instrument, warn};

use crate::callback::EventSink;
use crate::config::Settings;
use crate::staging::Staged;
use control::{Controls, StdinMessage};
use process::{Line, LineReader, ProcId, Tail};
use stream::{ResultInfo, StopRequest, StreamParser};

/// Longest stdout line read whole; a longer one becomes a cut `raw` event.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

/// How long stdout may stay open after the CLI exited (a leftover child holding it).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Variables the executor always sets for the agent, after everything else.
const ENFORCED_ENV: &[(&str, &str)] = &[
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    // The container is the sandbox: lets `bypassPermissions` work when the CLI runs as root.
    ("IS_SANDBOX", "1"),
];

/// Everything needed to start the CLI for one run. `Debug` shows variable names only.
pub struct AgentInvocation {
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub user: Option<(u32, u32)>,
    pub prompt: String,
    /// What the configuration directory holds ([`Staged::key`]): part of the match between a
    /// CLI started ahead and its task, as the CLI reads those files when it starts.
    pub capabilities: Option<String>,
}

impl fmt::Debug for AgentInvocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentInvocation")
            .field("program", &self.program)
            .field("args", &self.args.len())
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("cwd", &self.cwd)
            .field("user", &self.user)
            .field("capabilities", &self.capabilities)
            .finish()
    }
}

impl AgentInvocation {
    /// Builds the command line and environment of a task.
    ///
    /// The environment is, in order of precedence (later wins): the executor variables named by
    /// `AGENT_ENV_PASSTHROUGH` (`PATH`, locale, proxies, CA bundles by default — never the rest
    /// of the executor's environment), the model API settings (`ANTHROPIC_BASE_URL`,
    /// `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `CLAUDE_CODE_MAX_RETRIES`), the task's own
    /// `env`, then `HOME` and `CLAUDE_CONFIG_DIR` (the workspace's `.claude_data`) and the
    /// telemetry / update / sandbox switches, which a task cannot override.
    pub fn new(
        settings: &Settings,
        req: &ExecuteRequest,
        staged: &Staged,
        host_env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let model = req
            .model
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or(&settings.default_model);
        // Single values ride in `--flag=value` form, so a value starting with `-` stays a value.
        let mut args: Vec<String> = vec![
            "-p".to_owned(),
            "--input-format".to_owned(),
            "stream-json".to_owned(),
            "--output-format".to_owned(),
            "stream-json".to_owned(),
            "--verbose".to_owned(),
            // Tool calls that need a person come as control requests on stdout (see `control`).
            "--permission-prompt-tool".to_owned(),
            "stdio".to_owned(),
            format!("--model={model}"),
            format!("--permission-mode={}", req.permission_mode.as_cli_flag()),
        ];
        if let Some(id) = req
            .resume_agent_session_id
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            args.push(format!("--resume={id}"));
        }
        if let Some(path) = &staged.mcp_config {
            args.push(format!("--mcp-config={}", path.to_string_lossy()));
        }
        if let Some(text) = req
            .append_system_prompt
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            args.push(format!("--append-system-prompt={text}"));
        }
        // Each list after its flag, one tool per argument (none starts with `-`: checked when the
        // task is accepted); the prompt goes on stdin, so nothing positional follows.
        if !req.allowed_tools.is_empty() {
            args.push("--allowedTools".to_owned());
            args.extend(req.allowed_tools.iter().cloned());
        }
        if !req.disallowed_tools.is_empty() {
            args.push("--disallowedTools".to_owned());
            args.extend(req.disallowed_tools.iter().cloned());
        }

        let mut env = BTreeMap::new();
        for name in settings.passthrough_vars() {
            if let Some(value) = host_env(&name) {
                env.insert(name, value);
            }
        }
        env.entry("PATH".to_owned()).or_insert_with(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned()
        });
        env.entry("LANG".to_owned())
            .or_insert_with(|| "C.UTF-8".to_owned());
        env.insert(
            "ANTHROPIC_BASE_URL".to_owned(),
            settings.anthropic_base_url.clone(),
        );
        if let Some(key) = &settings.anthropic_api_key {
            env.insert("ANTHROPIC_API_KEY".to_owned(), key.expose().clone());
        }
        if let Some(token) = &settings.anthropic_auth_token {
            env.insert("ANTHROPIC_AUTH_TOKEN".to_owned(), token.expose().clone());
        }
        if let Some(retries) = settings.agent_max_retries {
            env.insert("CLAUDE_CODE_MAX_RETRIES".to_owned(), retries.to_string());
        }
        for (name, value) in &req.env {
            env.insert(name.clone(), value.clone());
        }
        let data_dir = settings.agent_data_dir().to_string_lossy().into_owned();
        env.insert("HOME".to_owned(), data_dir.clone());
        env.insert("CLAUDE_CONFIG_DIR".to_owned(), data_dir);
        for (name, value) in ENFORCED_ENV {
            env.insert((*name).to_owned(), (*value).to_owned());
        }

        Self {
            program: settings.claude_bin.clone(),
            args,
            env,
            cwd: settings.workspace_path.clone(),
            user: settings.agent_uid.zip(settings.agent_gid),
            prompt: req.prompt.clone(),
            capabilities: staged.key.clone(),
        }
    }

    /// Whether a process started for `other` is the process this invocation would start: the
    /// same program, arguments, environment, directory and user (the prompt aside), and the
    /// same known capabilities staged (an unknown staging, `None`, matches nothing).
    pub fn same_process(&self, other: &AgentInvocation) -> bool {
        self.same_process_but(other, |_| false)
    }

    /// [`AgentInvocation::same_process`], the arguments `ignored` picks out left aside.
    pub fn same_process_but(
        &self,
        other: &AgentInvocation,
        ignored: impl Fn(&str) -> bool,
    ) -> bool {
        let args = |inv: &'_ AgentInvocation| {
            inv.args
                .iter()
                .filter(|a| !ignored(a))
                .cloned()
                .collect::<Vec<_>>()
        };
        self.capabilities.is_some()
            && self.capabilities == other.capabilities
            && self.program == other.program
            && args(self) == args(other)
            && self.env == other.env
            && self.cwd == other.cwd
            && self.user == other.user
    }

    /// The prompt as the CLI's stream-json input: one user message on one line.
    fn input(&self) -> Vec<u8> {
        let message = serde_json::json!({
            "type": "user",
            "message": {"role": "user", "content": self.prompt},
        });
        let mut line = message.to_string().into_bytes();
        line.push(b'\n');
        line
    }

    /// Starts the CLI; it waits for its prompt on stdin.
    fn spawn(&self) -> Result<Child, AgentError> {
        self.command().spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                AgentError::NotFound {
                    program: self.program.clone(),
                }
            } else {
                AgentError::Spawn {
                    program: self.program.clone(),
                    source,
                }
            }
        })
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some((uid, gid)) = self.user {
            // std clears the supplementary groups when a root process switches user.
            cmd.uid(uid).gid(gid);
        }
        cmd
    }
}

/// The agent could not be started at all.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "could not start the agent: `{program}` was not found (set CLAUDE_BIN to the Claude Code CLI)"
    )]
    NotFound { program: String },
    #[error("could not start the agent `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why the executor stopped the agent before it finished on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopCause {
    Canceled,
    Requested(StopRequest),
}

/// How the agent's process ended and what it said.
#[derive(Debug, Default)]
pub struct AgentOutcome {
    pub exit: Option<ExitStatus>,
    pub stopped: Option<StopCause>,
    pub result: Option<ResultInfo>,
    pub api_error: Option<(Option<u16>, String)>,
    pub stderr: Vec<String>,
    pub agent_session_id: Option<String>,
}

impl AgentOutcome {
    /// Whether the run was canceled (rather than finished or failed).
    pub fn canceled(&self) -> bool {
        self.stopped == Some(StopCause::Canceled)
    }

    /// The message a user sees when the run failed; `None` when it succeeded.
    pub fn failure(&self) -> Option<String> {
        if let Some(StopCause::Requested(StopRequest::ModelAuthRejected { status, error })) =
            &self.stopped
        {
            let text = self
                .api_error
                .as_ref()
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| error.clone());
            return Some(model_api_message(*status, &text));
        }
        if let Some(result) = &self.result {
            if !result.is_error {
                return match self.exit {
                    Some(status) if !status.success() => Some(format!(
                        "the agent finished but exited with {}{}",
                        describe_exit(status),
                        self.stderr_suffix()
                    )),
                    _ => None,
                };
            }
            let text = result
                .text
                .clone()
                .filter(|t| !t.trim().is_empty())
                .or_else(|| self.api_error.as_ref().map(|(_, t)| t.clone()))
                .unwrap_or_else(|| result.errors.join("; "));
            let status = result
                .api_error_status
                .or_else(|| self.api_error.as_ref().and_then(|(s, _)| *s));
            if let Some(status) = status {
                return Some(model_api_message(status, &text));
            }
            return Some(match result.subtype.as_str() {
                "error_max_turns" => {
                    "the agent stopped after reaching its maximum number of turns".to_owned()
                }
                "error_max_budget_usd" => "the agent stopped after reaching its budget".to_owned(),
                _ if text.trim().is_empty() => format!(
                    "the agent stopped with an error ({}){}",
                    result.subtype,
                    self.stderr_suffix()
                ),
                _ => format!("the agent stopped with an error: {text}"),
            });
        }
        match self.exit {
            Some(status) if status.success() => Some(format!(
                "the agent exited without reporting a result{}",
                self.stderr_suffix()
            )),
            Some(status) => Some(format!(
                "the agent exited with {}{}",
                describe_exit(status),
                self.stderr_suffix()
            )),
            None => Some("the agent's exit status is unknown".to_owned()),
        }
    }

    fn stderr_suffix(&self) -> String {
        if self.stderr.is_empty() {
            " and no error output".to_owned()
        } else {
            let tail: Vec<&str> = self
                .stderr
                .iter()
                .rev()
                .take(5)
                .rev()
                .map(String::as_str)
                .collect();
            format!(": {}", tail.join(" | "))
        }
    }
}

/// A model API error phrased for the person who has to fix it.
pub fn model_api_message(status: u16, text: &str) -> String {
    let text = text.trim();
    let detail = if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    };
    match status {
        401 | 403 => format!(
            "model API rejected the key ({status}){detail}. Check the API key given to the executor \
             (ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN, or the task's env) and ANTHROPIC_BASE_URL."
        ),
        404 => {
            format!("model API answered 404{detail}. Check the model name and ANTHROPIC_BASE_URL.")
        }
        429 => format!(
            "model API is rate-limiting requests (429){detail}. Wait and retry, or raise the account's limits."
        ),
        500..=599 => format!(
            "model API failed ({status}){detail}. This is usually temporary: retry the run later."
        ),
        _ => format!("model API answered {status}{detail}"),
    }
}

fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(9)) => "signal 9 (SIGKILL; out of memory?)".to_owned(),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "an unknown status".to_owned(),
    }
}

/// A CLI process that finished a run's turn and waits, alive, for the session's next message.
///
/// A CLI in stream-json mode answers message after message in one conversation; kept across the
/// runs of a session, it skips its start-up *and* the work a fresh process does on its first
/// message (reading the conversation back, building its context): a follow-up's first line comes
/// in 10–30 ms instead of ~65 ms (docs/benchmarks.md). Dropping it stops the process, everything
/// it started, and what the runs it served left behind.
pub struct LiveAgent {
    parts: Option<LiveParts>,
}

struct LiveParts {
    child: Child,
    pid: i32,
    stdin: mpsc::UnboundedSender<StdinMessage>,
    writer: Option<tokio::task::JoinHandle<()>>,
    stderr_task: Option<tokio::task::JoinHandle<Tail>>,
    reader: LineReader<tokio::process::ChildStdout>,
    /// Processes seen in its tree at the end of each run it served.
    known_tree: Vec<ProcId>,
}

impl LiveAgent {
    /// Whether the process is still there to take a message.
    pub fn alive(&mut self) -> bool {
        self.parts
            .as_mut()
            .is_some_and(|p| matches!(p.child.try_wait(), Ok(None)) && process::is_running(p.pid))
    }

    pub fn pid(&self) -> Option<i32> {
        self.parts.as_ref().map(|p| p.pid)
    }
}

impl Drop for LiveAgent {
    fn drop(&mut self) {
        let Some(mut p) = self.parts.take() else {
            return;
        };
        let _ = p.stdin.send(StdinMessage::Close);
        process::signal_all(&p.known_tree, Signal::SIGKILL);
        if p.pid > 0 {
            process::signal_group(p.pid, Signal::SIGKILL);
        }
        let _ = p.child.start_kill();
        if let Some(w) = p.writer.take() {
            w.abort();
        }
        if let Some(t) = p.stderr_task.take() {
            t.abort();
        }
        debug!(pid = p.pid, "kept agent stopped");
    }
}

/// A CLI ready for a run's prompt: one started ahead for it ([`prestart`]), or one kept from the
/// session's last run.
pub enum Waiting {
    /// Started ahead; the settings to apply before the prompt (see [`prestart::LateSetting`]).
    Started(Child, Vec<prestart::LateSetting>),
    Kept(LiveAgent),
}

/// Runs the agent to its end, emitting an event for each line it prints.
///
/// `waiting` is a CLI already up for exactly this invocation (see [`prestart`]); without one,
/// the CLI is started now. With `keep`, a run that ends with the CLI's `result` (not stopped,
/// not canceled) leaves the process alive, input open, and returns it for the session's next run;
/// otherwise the input is closed and the run waits for the process to exit. `cancel` stops the
/// agent (SIGINT, then SIGKILL after `grace`); the outcome then says `Canceled`. `controls` holds
/// the run's control requests (see [`control`]); none is left pending when this returns.
#[instrument(skip_all, fields(program = %inv.program))]
pub async fn run(
    inv: AgentInvocation,
    waiting: Option<Waiting>,
    keep: bool,
    controls: &Arc<Controls>,
    sink: &mut EventSink,
    cancel: &CancellationToken,
    grace: Duration,
) -> Result<(AgentOutcome, Option<LiveAgent>), AgentError> {
    let kept = matches!(waiting, Some(Waiting::Kept(_)));
    let mut late = Vec::new();
    let mut parts = match waiting {
        Some(Waiting::Kept(mut live)) => match live.parts.take() {
            Some(p) => p,
            None => start_parts(&inv, None)?,
        },
        Some(Waiting::Started(child, settings)) => {
            late = settings;
            start_parts(&inv, Some(child))?
        }
        None => start_parts(&inv, None)?,
    };
    if !late.is_empty()
        && let Err(why) = prestart::apply(&mut parts, &late).await
    {
        warn!(%why, "the waiting agent did not take the run's settings; starting another");
        drop(LiveAgent { parts: Some(parts) });
        parts = start_parts(&inv, None)?;
    }
    let pid = parts.pid;
    info!(pid, kept, args = inv.args.len(), "agent started");

    // Stdin: the prompt, then the answers to control requests (until it is closed, or the run
    // ends with the CLI kept).
    let (control_tx, mut control_rx) = mpsc::unbounded_channel();
    let _ = parts.stdin.send(StdinMessage::Line(inv.input()));
    controls.attach(parts.stdin.clone(), control_tx);

    // Stopping runs beside the reading, so it happens even while a full event queue holds the
    // reader.
    let stop = cancel.child_token();
    let stop_cause: Arc<Mutex<Option<StopCause>>> = Arc::new(Mutex::new(None));
    let known_tree: Arc<Mutex<Vec<ProcId>>> =
        Arc::new(Mutex::new(std::mem::take(&mut parts.known_tree)));
    let supervisor = tokio::spawn(supervise(
        pid,
        stop.clone(),
        cancel.clone(),
        stop_cause.clone(),
        known_tree.clone(),
        grace,
    ));

    let mut parser = StreamParser::new();
    let mut status: Option<ExitStatus> = None;
    let mut eof = false;
    let mut drain_until: Option<Instant> = None;
    let mut input_closed = false;
    let mut idle = false;
    loop {
        if eof && status.is_some() {
            break;
        }
        tokio::select! {
            exited = parts.child.wait(), if status.is_none() => {
                match exited {
                    Ok(s) => status = Some(s),
                    Err(e) => {
                        warn!(error = %e, "could not wait for the agent");
                        break;
                    }
                }
                drain_until = Some(Instant::now() + DRAIN_AFTER_EXIT);
            }
            _ = sleep_until_opt(drain_until), if status.is_some() && !eof => {
                warn!("agent exited but its output stays open (a process it left holds it)");
                eof = true;
            }
            Some(event) = control_rx.recv() => sink.emit(event).await,
            _ = stop.cancelled(), if !input_closed => {
                // Requests pending end as canceled; the CLI reads EOF as it is interrupted.
                input_closed = true;
                controls.close();
            }
            line = parts.reader.next_line(), if !eof => match line {
                Ok(Some(Line::Text(line))) => {
                    let out = parser.parse_line(&line);
                    let ends = out.events.iter().any(|e| matches!(e, EventBody::Result(_)));
                    if ends {
                        // The CLI is about to exit (or wait): remember what it started, to clean
                        // up after.
                        let tree = process::process_tree(pid);
                        lock(&known_tree, |t| process::merge(t, tree));
                    }
                    for event in out.events {
                        sink.emit(event).await;
                    }
                    if let Some(control) = out.control {
                        controls.open(control);
                    }
                    if let Some(id) = out.control_cancel {
                        controls.cancel_cli_request(&id);
                    }
                    let stopping = out.stop.is_some() || stop.is_cancelled();
                    if ends {
                        if keep && !stopping && !input_closed {
                            idle = true;
                        } else {
                            input_closed = true;
                            controls.close();
                        }
                    }
                    // What the control requests decided goes out in order with the lines.
                    forward(&mut control_rx, sink).await;
                    if let Some(request) = out.stop {
                        lock(&stop_cause, |c| {
                            c.get_or_insert(StopCause::Requested(request));
                        });
                        stop.cancel();
                    }
                    if idle {
                        break;
                    }
                }
                Ok(Some(Line::TooLong { start, len })) => {
                    warn!(len, "agent printed an over-long line; kept cut as raw");
                    let line = format!("{}… [line of {len} bytes cut]", stream::truncate(&start, stream::MAX_RAW_LINE));
                    sink.emit(EventBody::Raw { line }).await;
                }
                Ok(None) => eof = true,
                Err(e) => {
                    warn!(error = %e, "could not read the agent's output");
                    eof = true;
                }
            },
        }
    }
    supervisor.abort();

    if idle {
        // The turn is over and the CLI waits for the next message: the run ends here, the process
        // lives on for the session's next run.
        controls.detach();
        forward(&mut control_rx, sink).await;
        parts.known_tree = lock(&known_tree, std::mem::take);
        info!(
            pid,
            "agent finished its turn; kept for the session's next message"
        );
        let outcome = AgentOutcome {
            exit: None,
            stopped: None,
            result: parser.result().cloned(),
            api_error: parser.api_error().cloned(),
            stderr: Vec::new(),
            agent_session_id: parser.agent_session_id().map(str::to_owned),
        };
        return Ok((outcome, Some(LiveAgent { parts: Some(parts) })));
    }

    if status.is_none() {
        // Only after a failed wait: make sure it is gone.
        let _ = parts.child.start_kill();
        status = parts.child.wait().await.ok();
    }
    // Anything still pending ends as canceled, before the run's terminal event.
    controls.close();
    forward(&mut control_rx, sink).await;
    if let Some(writer) = parts.writer.take() {
        writer.abort();
    }

    // Whatever the run started and left behind goes with it.
    let leftovers = lock(&known_tree, std::mem::take);
    let killed = process::signal_all(&leftovers, Signal::SIGKILL);
    if pid > 0 {
        process::signal_group(pid, Signal::SIGKILL);
    }
    if killed > 0 {
        info!(killed, "killed processes the agent left behind");
    }

    let stderr = match parts.stderr_task.take() {
        Some(task) => match tokio::time::timeout(Duration::from_secs(1), task).await {
            Ok(Ok(tail)) => tail.lines().map(str::to_owned).collect(),
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    let stopped = lock(&stop_cause, |c| c.clone());
    info!(status = ?status, stopped = ?stopped, "agent ended");
    Ok((
        AgentOutcome {
            exit: status,
            stopped,
            result: parser.result().cloned(),
            api_error: parser.api_error().cloned(),
            stderr,
            agent_session_id: parser.agent_session_id().map(str::to_owned),
        },
        None,
    ))
}

/// The pipes of a CLI process: `child` if it was started ahead, else one started now for `inv`.
fn start_parts(inv: &AgentInvocation, child: Option<Child>) -> Result<LiveParts, AgentError> {
    let mut child = match child {
        Some(c) => c,
        None => inv.spawn()?,
    };
    let pid = child.id().map(|p| p as i32).unwrap_or(0);
    let (stdin, stdin_rx) = mpsc::unbounded_channel();
    let writer = child
        .stdin
        .take()
        .map(|pipe| tokio::spawn(write_stdin(pipe, stdin_rx)));
    let stderr_task = child
        .stderr
        .take()
        .map(|s| tokio::spawn(process::collect_tail(s, Tail::new(20, 2000))));
    let Some(stdout) = child.stdout.take() else {
        return Err(AgentError::Spawn {
            program: inv.program.clone(),
            source: std::io::Error::other("no stdout pipe"),
        });
    };
    Ok(LiveParts {
        child,
        pid,
        stdin,
        writer,
        stderr_task,
        reader: LineReader::new(stdout, MAX_LINE),
        known_tree: Vec::new(),
    })
}

/// Writes each line handed over (the prompts, then the answers to control requests), until told
/// to close (or every sender is gone).
async fn write_stdin(mut stdin: ChildStdin, mut lines: mpsc::UnboundedReceiver<StdinMessage>) {
    while let Some(message) = lines.recv().await {
        match message {
            StdinMessage::Line(line) => {
                if let Err(e) = stdin.write_all(&line).await {
                    debug!(error = %e, "could not write to the agent's input");
                    return;
                }
                let _ = stdin.flush().await;
            }
            StdinMessage::Close => break,
        }
    }
    let _ = stdin.shutdown().await;
}

/// Hands the events the control requests queued to the run's sink.
async fn forward(events: &mut mpsc::UnboundedReceiver<EventBody>, sink: &mut EventSink) {
    while let Ok(event) = events.try_recv() {
        sink.emit(event).await;
    }
}

/// Waits for a stop, then interrupts the agent and, after `grace`, kills its whole tree.
async fn supervise(
    pid: i32,
    stop: CancellationToken,
    cancel: CancellationToken,
    cause: Arc<Mutex<Option<StopCause>>>,
    known_tree: Arc<Mutex<Vec<ProcId>>>,
    grace: Duration,
) {
    stop.cancelled().await;
    if cancel.is_cancelled() {
        lock(&cause, |c| {
            c.get_or_insert(StopCause::Canceled);
        });
    }
    if pid <= 0 {
        return;
    }
    let tree = process::process_tree(pid);
    lock(&known_tree, |t| process::merge(t, tree));
    info!(pid, "interrupting the agent");
    process::signal_group(pid, Signal::SIGINT);
    tokio::time::sleep(grace).await;
    let mut tree = process::process_tree(pid);
    lock(&known_tree, |t| process::merge(&mut tree, t.clone()));
    if process::any_alive(&tree) {
        warn!(
            pid,
            "agent still running after the grace period; killing it"
        );
        process::signal_all(&tree, Signal::SIGKILL);
        process::signal_group(pid, Signal::SIGKILL);
    }
}

fn lock<T, R>(m: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
    let mut guard = m.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::PermissionMode;
    use std::os::unix::process::ExitStatusExt;
    use uuid::Uuid;

    fn request() -> ExecuteRequest {
        serde_json::from_value(serde_json::json!({
            "run_id": Uuid::nil(),
            "session_id": Uuid::nil(),
            "prompt": "do it",
            "callback_url": "http://127.0.0.1:1/cb",
            "callback_token": "cb-secret",
        }))
        .unwrap()
    }

    fn settings() -> Settings {
        let mut s = Settings::with_defaults("default-model", "/ws");
        s.anthropic_api_key = Some("sk-key".into());
        s
    }

    #[test]
    fn the_command_line_is_headless_stream_json() {
        let mut req = request();
        req.permission_mode = PermissionMode::Plan;
        req.resume_agent_session_id = Some("sess-1".into());
        req.append_system_prompt = Some("be brief".into());
        req.allowed_tools = vec!["Bash(git *)".into(), "Read".into()];
        req.disallowed_tools = vec!["WebFetch".into()];
        let inv = AgentInvocation::new(
            &settings(),
            &req,
            &Staged {
                key: Some("d1".into()),
                mcp_config: Some(PathBuf::from("/ws/.claude_data/mcp.json")),
            },
            |_| None,
        );
        assert_eq!(inv.program, "claude");
        assert_eq!(
            inv.args,
            vec![
                "-p",
                "--input-format",
                "stream-json",
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-prompt-tool",
                "stdio",
                "--model=default-model",
                "--permission-mode=plan",
                "--resume=sess-1",
                "--mcp-config=/ws/.claude_data/mcp.json",
                "--append-system-prompt=be brief",
                "--allowedTools",
                "Bash(git *)",
                "Read",
                "--disallowedTools",
                "WebFetch",
            ]
        );
        assert_eq!(inv.prompt, "do it");
        assert_eq!(inv.cwd, PathBuf::from("/ws"));
        let line = inv.input();
        assert_eq!(line.last(), Some(&b'\n'));
        let message: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            message,
            serde_json::json!({"type": "user", "message": {"role": "user", "content": "do it"}})
        );
    }

    #[test]
    fn the_same_process_ignores_the_prompt_only() {
        let req = request();
        let base = AgentInvocation::new(&settings(), &req, &Staged::nothing(), |_| None);
        let mut other = req.clone();
        other.prompt = "something else".into();
        other.run_id = Uuid::new_v4();
        other.callback_token = "another".into();
        assert!(base.same_process(&AgentInvocation::new(
            &settings(),
            &other,
            &Staged::nothing(),
            |_| None
        )));
        for change in [
            |r: &mut ExecuteRequest| r.model = Some("other-model".into()),
            |r: &mut ExecuteRequest| r.permission_mode = PermissionMode::Plan,
            |r: &mut ExecuteRequest| r.resume_agent_session_id = Some("s2".into()),
            |r: &mut ExecuteRequest| {
                r.env.insert("K".into(), "v".into());
            },
        ] {
            let mut changed = req.clone();
            change(&mut changed);
            let inv = AgentInvocation::new(&settings(), &changed, &Staged::nothing(), |_| None);
            assert!(!base.same_process(&inv), "{:?}", inv.args);
        }
        let with_path = AgentInvocation::new(&settings(), &req, &Staged::nothing(), |n| {
            (n == "PATH").then(|| "/other".to_owned())
        });
        assert!(!base.same_process(&with_path));
        // Other capabilities staged (the CLI reads them when it starts), or unknown ones.
        for staged in [
            Staged {
                key: Some("digest-2".into()),
                mcp_config: None,
            },
            Staged {
                key: None,
                mcp_config: None,
            },
        ] {
            let inv = AgentInvocation::new(&settings(), &req, &staged, |_| None);
            assert!(!base.same_process(&inv), "{staged:?}");
            assert_eq!(inv.same_process(&inv), staged.key.is_some(), "{staged:?}");
        }
        let with_digest = Staged {
            key: Some("digest-2".into()),
            mcp_config: Some(PathBuf::from("/ws/.claude_data/executor/mcp-1.json")),
        };
        let a = AgentInvocation::new(&settings(), &req, &with_digest, |_| None);
        let b = AgentInvocation::new(&settings(), &other, &with_digest, |_| None);
        assert!(a.same_process(&b));
    }

    #[test]
    fn the_default_permission_mode_lets_tools_run_unattended() {
        let inv = AgentInvocation::new(&settings(), &request(), &Staged::nothing(), |_| None);
        assert!(
            inv.args
                .contains(&"--permission-mode=bypassPermissions".to_owned())
        );
        assert_eq!(inv.env["IS_SANDBOX"], "1");
    }

    #[test]
    fn the_environment_is_explicit() {
        let mut req = request();
        req.model = Some("task-model".into());
        req.env.insert("EXTRA_KEY".into(), "v".into());
        req.env
            .insert("ANTHROPIC_API_KEY".into(), "task-key".into());
        req.env.insert("HOME".into(), "/elsewhere".into());
        req.env.insert("DISABLE_TELEMETRY".into(), "0".into());
        let host = |name: &str| match name {
            "PATH" => Some("/host/bin".to_owned()),
            "EXECUTOR_SECRET" => Some("nope".to_owned()),
            _ => None,
        };
        let inv = AgentInvocation::new(&settings(), &req, &Staged::nothing(), host);
        assert!(inv.args.contains(&"--model=task-model".to_owned()));
        assert_eq!(inv.env["PATH"], "/host/bin");
        assert_eq!(inv.env["ANTHROPIC_API_KEY"], "task-key");
        assert_eq!(inv.env["ANTHROPIC_BASE_URL"], "https://api.anthropic.com");
        assert_eq!(inv.env["EXTRA_KEY"], "v");
        assert_eq!(inv.env["HOME"], "/ws/.claude_data");
        assert_eq!(inv.env["CLAUDE_CONFIG_DIR"], "/ws/.claude_data");
        assert_eq!(inv.env["DISABLE_TELEMETRY"], "1");
        assert_eq!(inv.env["DISABLE_AUTOUPDATER"], "1");
        assert_eq!(inv.env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"], "1");
        assert!(!inv.env.contains_key("EXECUTOR_SECRET"));
        assert!(!inv.env.values().any(|v| v.contains("cb-secret")));
        // Debug output names variables, never values.
        let shown = format!("{inv:?}");
        assert!(
            !shown.contains("task-key") && !shown.contains("sk-key"),
            "{shown}"
        );
    }

    fn outcome(exit: i32) -> AgentOutcome {
        AgentOutcome {
            exit: Some(ExitStatus::from_raw(exit << 8)),
            ..Default::default()
        }
    }

    #[test]
    fn failures_are_phrased_for_users() {
        assert_eq!(
            outcome(0).failure().as_deref(),
            Some("the agent exited without reporting a result and no error output")
        );
        let mut o = outcome(2);
        o.stderr = vec!["error: unknown option '--bogus'".into()];
        assert_eq!(
            o.failure().as_deref(),
            Some("the agent exited with status 2: error: unknown option '--bogus'")
        );

        let mut o = outcome(1);
        o.result = Some(ResultInfo {
            is_error: true,
            subtype: "success".into(),
            text: Some("Invalid API key · Fix external API key".into()),
            api_error_status: Some(401),
            errors: vec![],
        });
        let msg = o.failure().unwrap();
        assert!(
            msg.starts_with("model API rejected the key (401): Invalid API key"),
            "{msg}"
        );

        let mut o = outcome(0);
        o.result = Some(ResultInfo {
            is_error: false,
            ..Default::default()
        });
        assert_eq!(o.failure(), None);

        let mut o = outcome(1);
        o.stopped = Some(StopCause::Requested(StopRequest::ModelAuthRejected {
            status: 403,
            error: "permission_error".into(),
        }));
        assert!(
            o.failure()
                .unwrap()
                .starts_with("model API rejected the key (403)")
        );
        let killed = AgentOutcome {
            exit: Some(ExitStatus::from_raw(9)),
            ..Default::default()
        };
        assert!(killed.failure().unwrap().contains("SIGKILL"));
    }
}
