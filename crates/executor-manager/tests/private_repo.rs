//! A private repository end to end: a smart-HTTP git server that requires basic auth
//! (`test_support::git_http`, `git http-backend` behind a tiny server), the user's secret
//! `GITHUB_TOKEN` named by the task's `git.token_secret`, the backend resolving it at the claim,
//! the manager handing it to the run's executor, the executor cloning through `GIT_ASKPASS`.
//! With the secret the workspace has the repository; with a wrong token or none the run fails
//! with git's reason; a name the user has no secret of is refused at submit (422). The token is
//! then searched for everywhere it must not be: every event, every exported object, the
//! workspace on disk (`.git` included), the agent's environment, the three services' logs and
//! every row of the database.
//!
//! The deployed shape (`common::stack`: the backend and manager binaries as processes, real S3),
//! so the services' logs are files to read; executors are containers when a Docker daemon is
//! configured (their logs read from the engine), else child processes whose output lands in the
//! manager's log. Needs the backend and executor binaries (`cargo build -p backend -p executor`),
//! the Claude Code CLI, `python3` and `git`, like the other end-to-end tests.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};
use common::stack::{Runtime, Stack};
use executor_manager::runtime::docker::LABEL_MANAGER;
use fake_llm::{Block, ScenarioFile, Turn};
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::git_http::GitHttpServer;
use test_support::net::Reach;
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(180);
const TOKEN: &str = "ghp_private-repo-token-5e1f0c93a7";
const WRONG: &str = "ghp_wrong-token-for-the-repo-8d22";
const README: &str = "# Private\nOnly with the token.\n";

fn scenarios() -> ScenarioFile {
    ScenarioFile::default().with_scenario(
        "look",
        vec![
            Turn::blocks(vec![
                Block::text("Reading the repository."),
                Block::tool_use(
                    "Bash",
                    json!({"command": "cat README.md > seen.txt && env > agent-env.txt && git config --list > git-config.txt"}),
                ),
            ]),
            Turn::text("Done."),
        ],
    )
}

/// Every file under `dir` (links not followed), as (path, bytes).
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => {
                    if let Ok(bytes) = std::fs::read(&p) {
                        out.push((p.display().to_string(), bytes));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The logs of every executor container of `manager` still present.
async fn container_logs(docker: &bollard::Docker, manager: &str) -> String {
    let filters = HashMap::from([("label", vec![format!("{LABEL_MANAGER}={manager}")])]);
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    let mut out = String::new();
    for c in list {
        let Some(id) = c.id else { continue };
        let mut logs = docker.logs(
            &id,
            Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
        );
        while let Some(Ok(chunk)) = logs.next().await {
            out.push_str(&chunk.to_string());
        }
    }
    out
}

/// `POST /tasks` with `git`; the answer's status and body.
async fn submit(stack: &Stack, git: Value) -> (u16, Value) {
    let res = stack
        .client
        .post(format!("{}/api/v1/tasks", stack.backend_url))
        .json(&json!({"prompt": "[scenario:look] Read the private repository.", "git": git}))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

fn ids(body: &Value) -> (Uuid, Uuid) {
    (
        body["session_id"].as_str().unwrap().parse().unwrap(),
        body["run_id"].as_str().unwrap().parse().unwrap(),
    )
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_private_repository_clones_with_the_users_token_and_the_token_shows_nowhere(
    pool: PgPool,
) {
    let docker = test_support::docker::docker_env();
    let reach = match &docker {
        Some((_, _, gateway)) => Reach::Gateway(gateway),
        None => Reach::Loopback,
    };
    let git = GitHttpServer::start(reach, TOKEN).await;
    git.add_repo(
        "private",
        &[
            ("README.md", README),
            ("src/lib.rs", "pub fn hidden() {}\n"),
        ],
    );
    let url = git.url(reach, "private");
    let git_port = git.port.to_string();
    let runtime = match &docker {
        Some((_, image, gateway)) => Runtime::Docker { image, gateway },
        None => Runtime::Process,
    };
    let stack = Stack::start_full(
        pool,
        scenarios(),
        runtime,
        &[
            ("EXECUTOR_EGRESS_HOST_PORTS", git_port.as_str()),
            // The successful run's container stays (warm) so its logs can be read.
            ("EXECUTOR_WARM_IDLE_SECONDS", "300"),
            ("LOG_LEVEL", "debug"),
        ],
        &[("GIT_ALLOW_HTTP", "true"), ("LOG_LEVEL", "debug")],
    )
    .await;
    stack.put_secret("GITHUB_TOKEN", TOKEN).await;
    stack.put_secret("WRONG_TOKEN", WRONG).await;

    // A name the user has no secret of: refused at submit, nothing queued.
    let (status, body) = submit(
        &stack,
        json!({"url": url, "branch": "main", "token_secret": "MISSING_TOKEN"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unknown_secret", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MISSING_TOKEN")
    );

    // With the secret: the clone works and the agent reads the repository.
    let (status, body) = submit(
        &stack,
        json!({"url": url, "branch": "main", "token_secret": "GITHUB_TOKEN"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (session, run) = ids(&body);
    let view = stack.wait_finished(run, RUN_LIMIT).await;
    assert_eq!(view["status"], "completed", "{view}\n{}", stack.logs());
    let user = stack.user_of(session).await;
    let workspace = stack.workspace(user, session);
    assert_eq!(
        std::fs::read_to_string(workspace.join("README.md")).unwrap(),
        README
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join("seen.txt")).unwrap(),
        README
    );
    assert!(workspace.join("src/lib.rs").is_file());
    assert!(
        git.requests().iter().any(|r| r.auth == "good"),
        "{:?}",
        git.requests()
    );
    // The remote is the plain URL: no credential was written into the repository.
    let remote = std::fs::read_to_string(workspace.join("git-config.txt")).unwrap();
    assert!(
        remote.contains(&format!("remote.origin.url={url}")),
        "{remote}"
    );
    let mut searched = vec![(run, session)];

    // A wrong token: the run fails with git's reason.
    let (status, body) = submit(
        &stack,
        json!({"url": url, "branch": "main", "token_secret": "WRONG_TOKEN"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (wrong_session, wrong_run) = ids(&body);
    let view = stack.wait_finished(wrong_run, RUN_LIMIT).await;
    assert_eq!(view["status"], "failed", "{view}");
    let error = view["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("Authentication failed"), "{error}");
    assert!(!error.contains(WRONG), "{error}");
    searched.push((wrong_run, wrong_session));

    // No token at all (a public-repository task against this private one): fails, and says so.
    let (status, body) = submit(&stack, json!({"url": url, "branch": "main"})).await;
    assert_eq!(status, 201, "{body}");
    let (open_session, open_run) = ids(&body);
    let view = stack.wait_finished(open_run, RUN_LIMIT).await;
    assert_eq!(view["status"], "failed", "{view}");
    let error = view["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("could not read Username") || error.contains("Authentication failed"),
        "{error}"
    );
    searched.push((open_run, open_session));

    // ---- Where the tokens must not be ----
    assert!(!stack.events(session).await.is_empty());
    for (run, session) in &searched {
        let events = stack.events(*session).await;
        let text = serde_json::to_string(&events).unwrap();
        let view = serde_json::to_string(&stack.get(&format!("runs/{run}")).await).unwrap();
        for secret in [TOKEN, WRONG] {
            assert!(!text.contains(secret), "a token in the events of {run}");
            assert!(!view.contains(secret), "a token in the view of {run}");
        }
    }
    // The agent's environment (dumped by the agent itself) has no token.
    let env = std::fs::read_to_string(workspace.join("agent-env.txt")).unwrap();
    assert!(env.contains("PATH="), "{env}");
    assert!(!env.contains(TOKEN), "the token in the agent's environment");
    // No file of any workspace (`.git` included) and no exported object.
    for (path, bytes) in files_under(stack.workspace_root.path())
        .into_iter()
        .chain(files_under(stack.s3.root()))
    {
        for secret in [TOKEN, WRONG] {
            assert!(!contains(&bytes, secret), "a token in {path}");
        }
    }
    assert!(
        !stack.keys(&format!("workspaces/{session}/")).is_empty(),
        "the workspace was exported"
    );
    // No row of the database, in clear or as bytes.
    let all = test_support::postgres::dump(&stack.pool).await;
    for secret in [TOKEN, WRONG] {
        assert!(!all.contains(secret), "a token in the database");
        assert!(
            !all.contains(&hex::encode(secret.as_bytes())),
            "a token's bytes in the database"
        );
    }
    // No log: backend, manager (with the executors' output in the process runtime), and the
    // executor containers still there (the successful run's, kept warm).
    let mut logs = vec![
        std::fs::read_to_string(stack.backend.log()).unwrap(),
        std::fs::read_to_string(stack.manager.log()).unwrap(),
    ];
    if let Some((docker, _, _)) = &docker {
        let executors = container_logs(docker, &stack.manager_id).await;
        assert!(!executors.is_empty(), "no executor log was read");
        logs.push(executors);
    }
    assert!(
        logs[0].contains("secret"),
        "the backend logged nothing about secrets"
    );
    for log in &logs {
        assert!(!log.is_empty());
        for secret in [TOKEN, WRONG] {
            assert!(!log.contains(secret), "a token in a service log");
        }
    }
    stack.stop().await;
}
