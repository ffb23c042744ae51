//! `workcell sessions` and `workcell cancel`.

use uuid::Uuid;

use super::{Context, print_json, print_lines};
use crate::cli::SessionsArgs;
use crate::error::Result;
use crate::render;

pub async fn list(ctx: &Context, args: SessionsArgs) -> Result<()> {
    let list = ctx.client()?.sessions(args.limit).await?;
    if ctx.json {
        return print_json(&list);
    }
    if list.sessions.is_empty() {
        return print_lines(["no sessions yet: start one with `workcell run \"…\"`"]);
    }
    print_lines(render::sessions_table(&list.sessions, chrono::Utc::now()))
}

pub async fn cancel(ctx: &Context, session: Uuid) -> Result<()> {
    let res = ctx.client()?.cancel(session).await?;
    if ctx.json {
        return print_json(&res);
    }
    let mut lines = Vec::new();
    if res.canceled > 0 {
        lines.push(format!("canceled {} queued run(s)", res.canceled));
    }
    if res.canceling > 0 {
        lines.push(format!(
            "stopping {} running run(s); follow with `workcell logs {session} --follow`",
            res.canceling
        ));
    }
    if lines.is_empty() {
        lines.push(format!(
            "nothing to cancel: session {session} has no queued or running run"
        ));
    }
    print_lines(lines)
}
