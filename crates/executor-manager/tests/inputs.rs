//! Attachments end to end: uploaded to the backend (streamed into a real S3 server, s3s-fs),
//! named by a task, claimed by the manager, presigned by it, downloaded by the real executor into
//! the run's `inputs/`, used by the real Claude Code CLI (driven by the scripted model), exported
//! back to S3 by the manager, and downloaded by a browser through the backend's presigned URLs.

mod common;

use std::time::Duration;

use common::Harness;
use fake_llm::{Block, ScenarioFile, Turn};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::s3::{BUCKET, S3Server};
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(120);
const CONTENT: &str = "attached data, line 1\nline 2\n";

fn scenarios() -> ScenarioFile {
    ScenarioFile::default().with_scenario(
        "use_input",
        vec![
            Turn::blocks(vec![
                Block::text("Copying the attachment."),
                Block::tool_use("Bash", json!({"command": "cp inputs/data.txt copy.txt"})),
            ]),
            Turn::text("Done."),
        ],
    )
}

/// Uploads `data.txt` (single-user mode: no sign-in), gives the task that copies it, and waits for
/// the run to complete; returns (session, run).
async fn attach_and_run(h: &Harness) -> (Uuid, Uuid) {
    let (ct, body) = common::multipart_file("data.txt", CONTENT.as_bytes());
    let res = h
        .client
        .post(format!("{}/api/v1/attachments", h.backend))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let attachment: Value = res.json().await.unwrap();
    assert_eq!(attachment["name"], "data.txt");
    let res = h
        .client
        .post(format!("{}/api/v1/tasks", h.backend))
        .json(
            &json!({"prompt": "[scenario:use_input] copy the attachment",
                      "attachments": [attachment["id"]]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let created: Value = res.json().await.unwrap();
    let session: Uuid = created["session_id"].as_str().unwrap().parse().unwrap();
    let run: Uuid = created["run_id"].as_str().unwrap().parse().unwrap();
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(
        status,
        "completed",
        "error: {:?}; events: {:?}",
        h.run_error(run).await,
        h.events(run).await
    );
    (session, run)
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn attachments_reach_inputs_and_the_exported_workspace_downloads(pool: PgPool) {
    let s3 = S3Server::start().await;
    let s3_vars = [
        ("S3_ENDPOINT", s3.endpoint.as_str()),
        ("S3_ACCESS_KEY", s3.access_key.as_str()),
        ("S3_SECRET_KEY", s3.secret_key.as_str()),
        ("S3_BUCKET", BUCKET),
    ];
    let h = Harness::start_full(pool, scenarios(), &s3_vars, &s3_vars, None).await;

    let (session, run) = attach_and_run(&h).await;

    // The executor staged it into inputs/, and the agent used it from there.
    let user = h.user_of(session).await;
    let ws = h.workspace(user, session);
    assert_eq!(
        std::fs::read_to_string(ws.join("inputs/data.txt")).unwrap(),
        CONTENT
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("copy.txt")).unwrap(),
        CONTENT
    );

    // The manager exports after reporting the run; wait for the export report.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let files = loop {
        let res = h
            .client
            .get(format!("{}/api/v1/runs/{run}/files", h.backend))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let files: Value = res.json().await.unwrap();
        if !files["export_status"].is_null() {
            break files;
        }
        assert!(tokio::time::Instant::now() < deadline, "no export reported");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(files["export_status"], "ready", "{files}");
    let list = files["files"].as_array().unwrap();
    for path in ["copy.txt", "inputs/data.txt"] {
        let f = list
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} not in {files}"));
        assert_eq!(f["change"], "added");
        let url = f["url"].as_str().unwrap();
        let res = reqwest::get(url).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text().await.unwrap(), CONTENT, "{path}");
    }
}

/// With the docker runtime the manager reaches the store on loopback, which means nothing inside
/// a container: the attachment is presigned for `S3_EXECUTOR_ENDPOINT` (the store as containers
/// reach it, let through the executors' firewall by `EXECUTOR_EGRESS_HOST_PORTS`), and the agent in
/// its container gets the file. Without that setting the same run fails to stage its input.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_attachment_reaches_an_agent_in_a_container_through_the_executor_endpoint(pool: PgPool) {
    let Some((_, image, gateway)) = test_support::docker::docker_env() else {
        return;
    };
    let s3 = S3Server::start_on("0.0.0.0").await;
    let executor_endpoint = format!("http://{gateway}:{}", s3.port);
    let port = s3.port.to_string();
    let s3_vars = [
        ("S3_ENDPOINT", s3.endpoint.as_str()),
        ("S3_ACCESS_KEY", s3.access_key.as_str()),
        ("S3_SECRET_KEY", s3.secret_key.as_str()),
        ("S3_BUCKET", BUCKET),
    ];
    let mut manager = s3_vars.to_vec();
    manager.extend([
        ("EXECUTOR_RUNTIME", "docker"),
        ("EXECUTOR_IMAGE", image.as_str()),
        ("EXECUTOR_PUBLISHED_HOST", "127.0.0.1"),
        ("S3_EXECUTOR_ENDPOINT", executor_endpoint.as_str()),
        ("EXECUTOR_EGRESS_HOST_PORTS", port.as_str()),
    ]);
    let h = Harness::start_full(pool, scenarios(), &manager, &s3_vars, Some(&gateway)).await;

    let (session, _) = attach_and_run(&h).await;
    let ws = h.workspace(h.user_of(session).await, session);
    assert_eq!(
        std::fs::read_to_string(ws.join("copy.txt")).unwrap(),
        CONTENT
    );
}
