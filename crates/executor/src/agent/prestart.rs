//! The CLI for the session's next run, up before its task arrives.
//!
//! Most of the Claude Code CLI's start-up (loading its code, reading its configuration and, for a
//! follow-up, the earlier conversation) happens before it reads its input. After a run, the
//! executor therefore readies the CLI the session's next run would most likely need (the same
//! settings and capabilities, resuming the conversation that just ended): the run's own CLI,
//! kept alive after its turn ([`LiveAgent`]), or — when the run's CLI could not be kept — a new
//! one started and left waiting on stdin. When the next task asks for exactly that command line
//! and environment, with the same capabilities digest staged and the staged files untouched
//! ([`crate::staging`]), the waiting process gets the prompt and the task skips the start-up;
//! anything else stops it and starts the CLI as usual, so a guess that misses costs nothing but
//! the idle process.
//!
//! A pooled executor starts its CLI before it knows its session at all ([`Prestarted::start_late`],
//! on `POST /v1/prestart`): the guess is a new session's first run, and the model and permission
//! mode are *applied late*: a task whose command line differs from the guess in those two flags
//! only still takes the CLI, and gets them through the CLI's control requests (`set_model`,
//! `set_permission_mode`) before its prompt ([`LateSetting`]).
//!
//! Either way the CLI must still be in the task's workspace: the directory it was started in is
//! remembered (device and inode), and a task whose workspace path now names another directory
//! (a session's workspace moved into a pooled executor's slot over the one the CLI started in)
//! does not take it.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;
use tokio::process::Child;
use tokio::time::Instant;
use tracing::{debug, info};

use super::control::{StdinMessage, json_line};
use super::process::Line;
use super::{AgentError, AgentInvocation, LiveAgent, LiveParts, Waiting, process};

/// The flags a CLI started ahead may differ in from its task's, each applied late by a control
/// request.
const MODEL_FLAG: &str = "--model=";
const PERMISSION_MODE_FLAG: &str = "--permission-mode=";

/// A setting given to a waiting CLI through a control request before its prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LateSetting {
    Model(String),
    PermissionMode(String),
}

impl LateSetting {
    /// The control request's `request` object.
    pub fn request(&self) -> serde_json::Value {
        match self {
            LateSetting::Model(model) => json!({"subtype": "set_model", "model": model}),
            LateSetting::PermissionMode(mode) => {
                json!({"subtype": "set_permission_mode", "mode": mode})
            }
        }
    }
}

/// Longest wait for a waiting CLI's answers to the settings applied late.
const LATE_SETTINGS_TIMEOUT: Duration = Duration::from_secs(10);

/// Gives a CLI started ahead the run's settings through its control requests, before its
/// prompt, and waits for each answer (they may come in any order); lines before them are not the
/// run's. An error names what the CLI refused (e.g. `bypassPermissions` in a CLI not started with
/// it).
pub(super) async fn apply(parts: &mut LiveParts, late: &[LateSetting]) -> Result<(), String> {
    let mut pending = HashMap::new();
    for (i, setting) in late.iter().enumerate() {
        let id = format!("workcell-late-{i}");
        let line =
            json!({"type": "control_request", "request_id": id, "request": setting.request()});
        parts
            .stdin
            .send(StdinMessage::Line(json_line(&line)))
            .map_err(|_| "the agent's input is closed".to_owned())?;
        pending.insert(id, setting);
    }
    let deadline = Instant::now() + LATE_SETTINGS_TIMEOUT;
    while !pending.is_empty() {
        let line = tokio::time::timeout_at(deadline, parts.reader.next_line())
            .await
            .map_err(|_| format!("no answer in {LATE_SETTINGS_TIMEOUT:?}"))?;
        let text = match line {
            Ok(Some(Line::Text(text))) => text,
            Ok(Some(Line::TooLong { .. })) => continue,
            Ok(None) => return Err("the agent exited".to_owned()),
            Err(e) => return Err(e.to_string()),
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let response = &value["response"];
        let answered = (value["type"] == "control_response")
            .then(|| response["request_id"].as_str())
            .flatten()
            .and_then(|id| pending.remove(id));
        let Some(setting) = answered else {
            debug!(
                line_type = value["type"].as_str().unwrap_or_default(),
                "agent line before the run's prompt"
            );
            continue;
        };
        if response["subtype"] != "success" {
            let error = response["error"].as_str().unwrap_or("refused");
            return Err(format!("{setting:?}: {error}"));
        }
        debug!(?setting, "setting applied late");
    }
    Ok(())
}

/// A CLI process waiting for the prompt of the invocation it is ready for. Dropping it stops the
/// process and anything it started.
pub struct Prestarted {
    inv: AgentInvocation,
    agent: Option<Waiting>,
    since: Instant,
    /// Whether the model and the permission mode may be applied late.
    late: bool,
    /// The directory the CLI was started in (device, inode).
    workspace: Option<(u64, u64)>,
}

/// Device and inode of `dir`, when it is there.
fn identity(dir: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

impl Prestarted {
    /// Starts the CLI for `inv` (whose prompt is ignored).
    pub fn start(inv: AgentInvocation) -> Result<Self, AgentError> {
        Self::spawn(inv, false)
    }

    /// Starts the CLI for `inv` (whose prompt is ignored), to be taken by a task that differs in
    /// model and permission mode too (applied late).
    pub fn start_late(inv: AgentInvocation) -> Result<Self, AgentError> {
        Self::spawn(inv, true)
    }

    fn spawn(inv: AgentInvocation, late: bool) -> Result<Self, AgentError> {
        let child = inv.spawn()?;
        debug!(
            pid = child.id(),
            late, "agent started ahead of the next task"
        );
        Ok(Self {
            workspace: identity(&inv.cwd),
            inv,
            agent: Some(Waiting::Started(child, Vec::new())),
            since: Instant::now(),
            late,
        })
    }

    /// Keeps `live`, the CLI of the run that just ended, for a next run invoked as `inv` (the
    /// same settings, resuming the conversation `live` holds).
    pub fn keep(inv: AgentInvocation, live: LiveAgent) -> Self {
        debug!(pid = live.pid(), "agent kept for the next task");
        Self {
            workspace: identity(&inv.cwd),
            inv,
            agent: Some(Waiting::Kept(live)),
            since: Instant::now(),
            late: false,
        }
    }

    /// Whether the waiting CLI is the run's own, kept after its turn.
    pub fn is_kept(&self) -> bool {
        matches!(self.agent, Some(Waiting::Kept(_)))
    }

    /// The waiting process when it is ready for `inv` (exactly, or but for the settings applied
    /// late, which it then carries), still in the task's workspace and still alive; otherwise it
    /// is stopped (when dropped) and `None` is returned.
    pub fn take_for(mut self, inv: &AgentInvocation) -> Option<Waiting> {
        let late = if self.inv.same_process(inv) {
            Vec::new()
        } else if let Some(late) = self.late.then(|| late_settings(&self.inv, inv)).flatten() {
            late
        } else {
            info!("the waiting agent differs from the task's; starting another");
            return None;
        };
        if self.workspace.is_none() || self.workspace != identity(&inv.cwd) {
            info!("the waiting agent started in a workspace since replaced; starting another");
            return None;
        }
        let alive = match self.agent.as_mut()? {
            Waiting::Started(child, _) => match child.try_wait() {
                Ok(None) => Ok(()),
                Ok(Some(status)) => Err(status.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Waiting::Kept(live) => {
                if live.alive() {
                    Ok(())
                } else {
                    Err("exited".to_owned())
                }
            }
        };
        match alive {
            Ok(()) => {
                info!(
                    waited_ms = self.since.elapsed().as_millis() as u64,
                    kept = self.is_kept(),
                    late = late.len(),
                    "the task runs in the waiting agent"
                );
                match self.agent.take()? {
                    Waiting::Started(child, _) => Some(Waiting::Started(child, late)),
                    kept => Some(kept),
                }
            }
            Err(why) => {
                info!(%why, "the waiting agent is gone; starting another");
                None
            }
        }
    }
}

/// What `task` needs applied late to a CLI started for `ahead`: `None` when the two differ in
/// more than the model and the permission mode (or in capabilities).
fn late_settings(ahead: &AgentInvocation, task: &AgentInvocation) -> Option<Vec<LateSetting>> {
    if !ahead.same_process_but(task, is_late_flag) {
        return None;
    }
    let mut late = Vec::new();
    for (flag, setting) in [
        (MODEL_FLAG, LateSetting::Model as fn(String) -> LateSetting),
        (PERMISSION_MODE_FLAG, LateSetting::PermissionMode),
    ] {
        let wanted = flag_value(&task.args, flag)?;
        if flag_value(&ahead.args, flag)? != wanted {
            late.push(setting(wanted.to_owned()));
        }
    }
    Some(late)
}

fn is_late_flag(arg: &str) -> bool {
    arg.starts_with(MODEL_FLAG) || arg.starts_with(PERMISSION_MODE_FLAG)
}

/// The value of the single `--flag=value` argument `flag`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut values = args.iter().filter_map(|a| a.strip_prefix(flag));
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

impl Drop for Prestarted {
    fn drop(&mut self) {
        // A kept agent stops itself when dropped.
        if let Some(Waiting::Started(child, _)) = &mut self.agent {
            stop(child);
        }
    }
}

fn stop(child: &mut Child) {
    // Its own process group: whatever it started goes with it.
    if let Some(pid) = child.id() {
        process::signal_group(pid as i32, Signal::SIGKILL);
    }
    let _ = child.start_kill();
}
