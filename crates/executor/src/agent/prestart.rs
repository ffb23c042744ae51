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

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::time::Instant;
use tracing::{debug, info};

use super::{AgentError, AgentInvocation, LiveAgent, Waiting, process};

/// A CLI process waiting for the prompt of the invocation it is ready for. Dropping it stops the
/// process and anything it started.
pub struct Prestarted {
    inv: AgentInvocation,
    agent: Option<Waiting>,
    since: Instant,
}

impl Prestarted {
    /// Starts the CLI for `inv` (whose prompt is ignored).
    pub fn start(inv: AgentInvocation) -> Result<Self, AgentError> {
        let child = inv.spawn()?;
        debug!(pid = child.id(), "agent started ahead of the next task");
        Ok(Self {
            inv,
            agent: Some(Waiting::Started(child)),
            since: Instant::now(),
        })
    }

    /// Keeps `live`, the CLI of the run that just ended, for a next run invoked as `inv` (the
    /// same settings, resuming the conversation `live` holds).
    pub fn keep(inv: AgentInvocation, live: LiveAgent) -> Self {
        debug!(pid = live.pid(), "agent kept for the next task");
        Self {
            inv,
            agent: Some(Waiting::Kept(live)),
            since: Instant::now(),
        }
    }

    /// Whether the waiting CLI is the run's own, kept after its turn.
    pub fn is_kept(&self) -> bool {
        matches!(self.agent, Some(Waiting::Kept(_)))
    }

    /// The waiting process when it is ready for exactly `inv` and still alive; otherwise it is
    /// stopped (when dropped) and `None` is returned.
    pub fn take_for(mut self, inv: &AgentInvocation) -> Option<Waiting> {
        if !self.inv.same_process(inv) {
            info!("the waiting agent differs from the task's; starting another");
            return None;
        }
        let alive = match self.agent.as_mut()? {
            Waiting::Started(child) => match child.try_wait() {
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
                    "the task runs in the waiting agent"
                );
                self.agent.take()
            }
            Err(why) => {
                info!(%why, "the waiting agent is gone; starting another");
                None
            }
        }
    }
}

impl Drop for Prestarted {
    fn drop(&mut self) {
        // A kept agent stops itself when dropped.
        if let Some(Waiting::Started(child)) = &mut self.agent {
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
