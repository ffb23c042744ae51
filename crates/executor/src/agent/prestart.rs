//! A CLI started before its task arrives.
//!
//! Most of the Claude Code CLI's start-up (loading its code, reading its configuration and, for a
//! follow-up, the earlier conversation) happens before it reads its input. After a run, the
//! executor therefore starts the CLI the session's next run would most likely need (the same
//! settings and capabilities, resuming the conversation that just ended) and leaves it waiting on
//! stdin. When the next task asks for exactly that command line and environment, with the same
//! capabilities digest staged and the staged files untouched ([`crate::staging`]), the waiting
//! process gets the prompt and the task skips the start-up; anything else stops it and starts the
//! CLI as usual, so a guess that misses costs nothing but the idle process.

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::time::Instant;
use tracing::{debug, info};

use super::{AgentError, AgentInvocation, process};

/// A CLI process waiting for the prompt of the invocation it was started for. Dropping it stops
/// the process and anything it started.
pub struct Prestarted {
    inv: AgentInvocation,
    child: Option<Child>,
    since: Instant,
}

impl Prestarted {
    /// Starts the CLI for `inv` (whose prompt is ignored).
    pub fn start(inv: AgentInvocation) -> Result<Self, AgentError> {
        let child = inv.spawn()?;
        debug!(pid = child.id(), "agent started ahead of the next task");
        Ok(Self {
            inv,
            child: Some(child),
            since: Instant::now(),
        })
    }

    /// The waiting process when it was started for exactly `inv` and is still alive; otherwise
    /// it is stopped (when dropped) and `None` is returned.
    pub fn take_for(mut self, inv: &AgentInvocation) -> Option<Child> {
        if !self.inv.same_process(inv) {
            info!("the agent started ahead differs from the task's; starting another");
            return None;
        }
        let mut child = self.child.take()?;
        match child.try_wait() {
            Ok(None) => {
                info!(
                    waited_ms = self.since.elapsed().as_millis() as u64,
                    "the task runs in the agent started ahead"
                );
                Some(child)
            }
            Ok(Some(status)) => {
                info!(%status, "the agent started ahead had exited; starting another");
                None
            }
            Err(e) => {
                info!(error = %e, "the agent started ahead cannot be checked; starting another");
                self.child = Some(child);
                None
            }
        }
    }
}

impl Drop for Prestarted {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // Its own process group: whatever it started goes with it.
            if let Some(pid) = child.id() {
                process::signal_group(pid as i32, Signal::SIGKILL);
            }
            let _ = child.start_kill();
        }
    }
}
