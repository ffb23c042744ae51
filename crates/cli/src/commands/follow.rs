//! Showing a session's events: the stored ones page by page, then live ones until a run ends.
//!
//! A run normally ends with its own final event (`completed`, `failed`, `canceled`). One that
//! ends without one (canceled while still queued, failed before a worker started it, given up
//! by the reaper) is noticed from its record: when the session's status changes and every
//! [`POLL`] as a backstop, the run is read over HTTP; once it is over, the events still unseen
//! are read too, and the run's last line comes from its record.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use protocol::RunStatus;
use protocol::api::RunView;
use protocol::event::{Event, EventBody};
use uuid::Uuid;

use super::{Context, print_json_line, print_lines};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::live::{self, Update};
use crate::render::{self, Renderer, Spinner};

/// Events per page of `GET /sessions/{id}/events` (the server's maximum is larger).
const PAGE: u32 = 500;
/// How often the followed run's record is read, in case its end came without an event.
const POLL: Duration = Duration::from_secs(15);
const SPIN: Duration = Duration::from_millis(120);

/// Which events are shown, and when following stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only the target run's events; stop when it ends.
    Run,
    /// Every event of the session; stop when no run of it is queued or active.
    Session,
}

/// Shows one session's events, each once, in order.
pub struct Follower<'a> {
    ctx: &'a Context,
    client: &'a Client,
    session: Uuid,
    renderer: Renderer,
    /// The last sequence number handled (shown or skipped).
    last_seq: i64,
    /// Runs whose end was shown, with how they ended.
    ended: HashMap<Uuid, RunStatus>,
    /// Runs with an event shown.
    seen_runs: HashSet<Uuid>,
}

impl<'a> Follower<'a> {
    pub fn new(ctx: &'a Context, client: &'a Client, session: Uuid, renderer: Renderer) -> Self {
        Follower {
            ctx,
            client,
            session,
            renderer,
            last_seq: 0,
            ended: HashMap::new(),
            seen_runs: HashSet::new(),
        }
    }

    /// Shows the stored events after the last one handled.
    pub async fn catch_up(&mut self, scope: Scope, target: Uuid) -> Result<()> {
        loop {
            let page = self
                .client
                .events(self.session, self.last_seq, PAGE)
                .await?;
            for ev in &page.events {
                self.handle(ev, scope, target)?;
            }
            if !page.has_more || page.events.is_empty() {
                return Ok(());
            }
        }
    }

    /// Follows live events from the last one handled until `target` (and, for a session, every
    /// run queued after it) ends; returns how the last run ended.
    pub async fn follow(&mut self, mut target: Uuid, scope: Scope) -> Result<RunStatus> {
        let token = self.client.token().map(str::to_owned);
        let mut live =
            live::Follow::start(self.client.server(), token, self.session, self.last_seq);
        let mut spinner = Spinner::new(self.ctx.spinner());
        spinner.set_message("waiting for the agent");
        let mut spin = tokio::time::interval(SPIN);
        spin.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + POLL, POLL);
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::pin!(ctrl_c);
        loop {
            if let Some(&status) = self.ended.get(&target) {
                match scope {
                    Scope::Run => return Ok(status),
                    Scope::Session => {
                        let detail = self.client.session(self.session).await?;
                        let next = detail
                            .runs
                            .iter()
                            .find(|r| !r.status.is_terminal() && !self.ended.contains_key(&r.id));
                        match next {
                            Some(next) => target = next.id,
                            None => {
                                self.show_silent_ends(&detail.runs)?;
                                return Ok(status);
                            }
                        }
                    }
                }
                continue;
            }
            let check = tokio::select! {
                _ = &mut ctrl_c => {
                    spinner.clear();
                    eprintln!(
                        "detached: the run goes on. Follow it again with `workcell logs {} --follow`",
                        self.session
                    );
                    return Err(Error::Detached);
                }
                update = live.next() => match update {
                    None => return Err(Error::Live("the live connection stopped".into())),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(Update::Event(ev))) => {
                        spinner.clear();
                        self.handle(&ev, scope, target)?;
                        spinner.set_message("running");
                        false
                    }
                    Some(Ok(Update::Session(view))) => {
                        spinner.set_message(view.status.as_str());
                        !matches!(
                            view.status,
                            protocol::SessionStatus::Queued
                                | protocol::SessionStatus::Running
                                | protocol::SessionStatus::Canceling
                        )
                    }
                    Some(Ok(Update::Reconnecting { attempt, reason })) => {
                        spinner.set_message(format!(
                            "reconnecting (attempt {attempt}: {})",
                            render::one_line(&reason, 60)
                        ));
                        false
                    }
                    Some(Ok(Update::Subscribed)) => false,
                },
                _ = spin.tick() => {
                    spinner.tick();
                    false
                }
                _ = poll.tick() => true,
            };
            if check {
                spinner.clear();
                self.check_ended(target, scope).await?;
            }
        }
    }

    /// Reads `target`'s record; if it is over but its end was not shown, shows the events still
    /// unseen and, failing a final event among them, the end from the record.
    async fn check_ended(&mut self, target: Uuid, scope: Scope) -> Result<()> {
        let run = self.client.run(target).await?;
        if !run.status.is_terminal() {
            return Ok(());
        }
        self.catch_up(scope, target).await?;
        if !self.ended.contains_key(&target) {
            if !self.ctx.json {
                print_lines([render::run_end_line(self.ctx.style, &run)])?;
            }
            self.ended.insert(target, run.status);
        }
        Ok(())
    }

    /// Shows how the runs that ended without a final event ended (canceled while queued,
    /// failed before they started), after the events: they have no place among them.
    pub fn show_silent_ends(&mut self, runs: &[RunView]) -> Result<()> {
        for run in runs {
            if !run.status.is_terminal() || self.ended.contains_key(&run.id) {
                continue;
            }
            self.ended.insert(run.id, run.status);
            if self.ctx.json {
                continue;
            }
            let mut lines = Vec::new();
            if !self.seen_runs.contains(&run.id) {
                lines.push(render::run_header(self.ctx.style, &run.prompt));
            }
            lines.push(render::run_end_line(self.ctx.style, run));
            print_lines(lines)?;
        }
        Ok(())
    }

    /// Shows one event (once), noting a run's end.
    fn handle(&mut self, ev: &Event, scope: Scope, target: Uuid) -> Result<()> {
        if ev.seq <= self.last_seq {
            return Ok(());
        }
        self.last_seq = ev.seq;
        if scope == Scope::Run && ev.run_id != target {
            return Ok(());
        }
        self.seen_runs.insert(ev.run_id);
        if let Some(status) = final_status(&ev.body) {
            self.ended.insert(ev.run_id, status);
        }
        if self.ctx.json {
            print_json_line(ev)
        } else {
            print_lines(self.renderer.lines(ev))
        }
    }
}

/// How a run ended, for its final event.
fn final_status(body: &EventBody) -> Option<RunStatus> {
    match body {
        EventBody::Completed {} => Some(RunStatus::Completed),
        EventBody::Failed { .. } => Some(RunStatus::Failed),
        EventBody::Canceled { .. } => Some(RunStatus::Canceled),
        _ => None,
    }
}

/// A run's end as the command's result: only a completed run succeeds.
pub fn outcome(status: RunStatus) -> Result<()> {
    if status == RunStatus::Completed {
        Ok(())
    } else {
        Err(Error::RunDidNotComplete(status))
    }
}
