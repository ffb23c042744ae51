//! `workcell run` (give the agent a task, optionally follow it) and `workcell logs`.

use std::collections::HashMap;

use protocol::api::CreateTaskRequest;
use uuid::Uuid;

use super::follow::{Follower, Scope, outcome};
use super::{Context, print_json, print_lines};
use crate::cli::{LogsArgs, RunArgs};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::render::{self, Renderer};

pub async fn run(ctx: &Context, args: RunArgs) -> Result<()> {
    if args.prompt.trim().is_empty() {
        return Err(Error::Usage("the prompt is empty".into()));
    }
    if let Some(missing) = args.attach.iter().find(|p| !p.is_file()) {
        return Err(Error::Usage(format!(
            "{}: no such file to attach",
            missing.display()
        )));
    }
    let client = ctx.client()?;
    let project_id = match &args.project {
        Some(p) => Some(resolve_project(&client, p).await?),
        None => None,
    };
    let mut attachments = Vec::with_capacity(args.attach.len());
    for path in &args.attach {
        let a = client.upload_attachment(path).await?;
        if !ctx.json {
            eprintln!(
                "attached {} ({})",
                a.name,
                render::size(a.size.max(0) as u64)
            );
        }
        attachments.push(a.id);
    }
    let created = client
        .create_task(&CreateTaskRequest {
            prompt: args.prompt,
            session_id: args.session,
            model: args.model,
            permission_mode: None,
            attachments,
            git: None,
            preset_id: None,
            skill_ids: None,
            mcp_server_ids: None,
            slash_command_ids: None,
            subagent_ids: None,
            client_request_id: Some(Uuid::new_v4().to_string()),
            project_id,
        })
        .await?;
    let session = created.session_id;
    if !args.follow {
        if ctx.json {
            return print_json(&created);
        }
        print_lines([session.to_string()])?;
        eprintln!("queued; follow it with `workcell logs {session} --follow`");
        return Ok(());
    }
    if !ctx.json {
        print_lines([format!("session {session}")])?;
    }
    let mut follower = Follower::new(ctx, &client, session, Renderer::new(ctx.style));
    let status = follower.follow(created.run_id, Scope::Run).await?;
    outcome(status)
}

pub async fn logs(ctx: &Context, args: LogsArgs) -> Result<()> {
    let client = ctx.client()?;
    // The runs before the events: a run seen active here has its end among the events read
    // next or among the live ones after them.
    let detail = client.session(args.session).await?;
    let prompts: HashMap<Uuid, String> = detail
        .runs
        .iter()
        .map(|r| (r.id, r.prompt.clone()))
        .collect();
    let renderer = Renderer::new(ctx.style).with_prompts(prompts);
    let mut follower = Follower::new(ctx, &client, args.session, renderer);
    follower.catch_up(Scope::Session, Uuid::nil()).await?;
    if !args.follow {
        return follower.show_silent_ends(&detail.runs);
    }
    match detail.runs.iter().find(|r| !r.status.is_terminal()) {
        Some(active) => outcome(follower.follow(active.id, Scope::Session).await?),
        // Nothing to wait for: the exit code still tells how the last run ended.
        None => {
            follower.show_silent_ends(&detail.runs)?;
            detail.runs.last().map_or(Ok(()), |r| outcome(r.status))
        }
    }
}

/// A project named by id or by name (exact, else the one case-insensitive match).
async fn resolve_project(client: &Client, name_or_id: &str) -> Result<Uuid> {
    if let Ok(id) = name_or_id.parse::<Uuid>() {
        return Ok(id);
    }
    let projects = client.projects().await?.projects;
    if let Some(p) = projects.iter().find(|p| p.name == name_or_id) {
        return Ok(p.id);
    }
    let folded: Vec<_> = projects
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(name_or_id))
        .collect();
    if let [only] = folded.as_slice() {
        return Ok(only.id);
    }
    let names: Vec<&str> = projects.iter().map(|p| p.name.as_str()).collect();
    Err(Error::Usage(if names.is_empty() {
        format!("no project named {name_or_id:?}: you have no projects")
    } else {
        format!(
            "no project named {name_or_id:?} (yours: {})",
            names.join(", ")
        )
    }))
}
