//! End to end with the `docker` runtime against a real Docker daemon (`DOCKER_HOST`, e.g. the
//! private daemon of `tests/docker-env.sh`) and the image `EXECUTOR_TEST_IMAGE` (default
//! `workcell/executor-test:dev`, made by the same script: the executor + the Claude Code CLI).
//!
//! Without `DOCKER_HOST` these tests are skipped with a message, unless `WORKCELL_REQUIRE_DOCKER=1`,
//! where they fail.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use common::{Harness, INTERNAL_TOKEN};
use executor_manager::runtime::docker::{
    LABEL_EPOCH, LABEL_MANAGER, LABEL_POOL_SLOT, LABEL_RUN, LABEL_SESSION, LABEL_USER,
};
use fake_llm::{Block, ScenarioFile, Turn};
use protocol::internal::{ClaimRequest, ClaimedRun, INTERNAL_TOKEN_HEADER};
use serde_json::json;
use sqlx::PgPool;
use test_support::docker::docker_env;

const RUN_LIMIT: Duration = Duration::from_secs(180);

fn scenarios() -> ScenarioFile {
    let mut slow = Turn::text("Never in time.");
    slow.delay_ms = 120_000;
    ScenarioFile::default()
        .with_scenario(
            "write_file",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "Bash",
                    json!({"command": "printf hello > out.txt && id -u > uid.txt"}),
                )]),
                Turn::text("Done."),
            ],
        )
        .with_scenario("slow", vec![slow])
        .with_scenario(
            "hog",
            vec![
                Turn::blocks(vec![Block::tool_use(
                    "Bash",
                    json!({"command": "head -c 400000000 /dev/zero | tail > /dev/null"}),
                )]),
                Turn::text("Survived."),
            ],
        )
}

async fn containers_of(docker: &Docker, run: uuid::Uuid) -> Vec<bollard::models::ContainerSummary> {
    let filters = HashMap::from([("label", vec![format!("{LABEL_RUN}={run}")])]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap()
}

async fn start(pool: PgPool, extra: &[(&str, &str)]) -> Option<(Harness, Docker)> {
    let (docker, image, gateway) = docker_env()?;
    let mut vars = vec![
        ("EXECUTOR_RUNTIME", "docker"),
        ("EXECUTOR_IMAGE", image.as_str()),
        ("EXECUTOR_PUBLISHED_HOST", "127.0.0.1"),
    ];
    vars.extend_from_slice(extra);
    let h = Harness::start_with(pool, scenarios(), &vars, Some(&gateway)).await;
    Some((h, docker))
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn docker_run_completes_in_a_labelled_unprivileged_container(pool: PgPool) {
    let Some((h, docker)) = start(pool, &[]).await else {
        return;
    };
    let (session, run) = h.task("[scenario:write_file] write hello").await;

    // While it runs: one container, labelled, limited, unprivileged.
    let deadline = tokio::time::Instant::now() + RUN_LIMIT;
    let summary = loop {
        if let Some(c) = containers_of(&docker, run).await.into_iter().next() {
            break c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no container for {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let labels = summary.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(LABEL_SESSION), Some(&session.to_string()));
    assert_eq!(
        labels.get(LABEL_MANAGER).map(String::as_str),
        Some(h.manager_id.as_str())
    );
    assert!(labels.contains_key(LABEL_USER) && labels.contains_key(LABEL_EPOCH));
    if let Ok(info) = docker
        .inspect_container(summary.id.as_deref().unwrap(), None)
        .await
    {
        let hc = info.host_config.unwrap();
        assert_eq!(hc.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_owned()]));
        assert_eq!(hc.memory, Some(2048 * 1024 * 1024));
        assert_eq!(hc.pids_limit, Some(512));
        let config = info.config.unwrap();
        assert_eq!(config.user.as_deref(), Some("1000:1000"));
        // The model token is not in the container's environment.
        let env = config.env.unwrap_or_default();
        assert!(env.iter().all(|e| !e.contains(common::LLM_KEY)), "{env:?}");
        assert!(env.iter().any(|e| e == "WORKSPACE_PATH=/workspace"));
    }

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
    let kinds: Vec<String> = h.events(run).await.into_iter().map(|e| e.2).collect();
    assert_eq!(kinds.first().map(String::as_str), Some("system_init"));
    assert_eq!(kinds.last().map(String::as_str), Some("completed"));

    let user = h.user_of(session).await;
    let ws = h.workspace(user, session);
    assert_eq!(
        std::fs::read_to_string(ws.join("out.txt")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("uid.txt")).unwrap().trim(),
        "1000"
    );
    // The container is gone after the run.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !containers_of(&docker, run).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "container left behind"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn removed_container_fails_the_run(pool: PgPool) {
    let Some((h, docker)) = start(pool, &[]).await else {
        return;
    };
    let (_, run) = h.task("[scenario:slow] wait").await;
    h.wait_status(run, &["running"], RUN_LIMIT).await;
    for c in containers_of(&docker, run).await {
        docker
            .remove_container(
                c.id.as_deref().unwrap(),
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await
            .unwrap();
    }
    let status = h
        .wait_status(
            run,
            &["completed", "failed", "canceled"],
            Duration::from_secs(60),
        )
        .await;
    assert_eq!(status, "failed");
    let error = h.run_error(run).await.unwrap_or_default();
    assert!(
        error.contains("vanished") || error.contains("exited with status"),
        "{error}"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn memory_hog_fails_the_run_as_out_of_memory(pool: PgPool) {
    let Some((h, _docker)) = start(pool, &[("EXECUTOR_MEMORY_MB", "256")]).await else {
        return;
    };
    let (_, run) = h.task("[scenario:hog] use memory").await;
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    let error = h.run_error(run).await.unwrap_or_default();
    assert_eq!(
        status,
        "failed",
        "error: {error}; events: {:?}",
        h.events(run).await
    );
    assert!(error.contains("out of memory"), "{error}");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn startup_removes_leftover_containers_and_requeues_their_runs(pool: PgPool) {
    let Some((docker, image, gateway)) = docker_env() else {
        return;
    };
    let manager_id = format!("test-reconcile-{}", uuid::Uuid::new_v4().simple());
    // A run claimed by an earlier life of this manager, with its container still there.
    let h = Harness::start_with(
        pool.clone(),
        scenarios(),
        &[
            ("EXECUTOR_RUNTIME", "docker"),
            ("EXECUTOR_IMAGE", image.as_str()),
            ("TASK_PULL_ENABLED", "false"),
            ("MANAGER_ID", manager_id.as_str()),
        ],
        Some(gateway.as_str()),
    )
    .await;
    let (_, run) = h.task("left behind").await;
    let res = h
        .client
        .post(format!("{}/api/v1/internal/runs/claim", h.backend))
        .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
        .json(&ClaimRequest {
            worker_id: manager_id.clone(),
            lease_seconds: 600,
            wait_seconds: 5,
            kinds: None,
            max_runs: 1,
            start: false,
        })
        .send()
        .await
        .unwrap();
    let claimed: ClaimedRun = res.json().await.unwrap();
    assert_eq!(claimed.run_id, run);
    let labels = HashMap::from([
        (LABEL_RUN.to_owned(), run.to_string()),
        (LABEL_MANAGER.to_owned(), manager_id.clone()),
        (LABEL_EPOCH.to_owned(), claimed.epoch.to_string()),
    ]);
    docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::new()
                    .name(&format!("leftover-{run}"))
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(image.clone()),
                cmd: Some(vec!["sleep".into(), "600".into()]),
                labels: Some(labels),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(containers_of(&docker, run).await.len(), 1);
    drop(h);

    // The manager starts again under the same id: the container goes, the run is re-queued.
    let h = Harness::start_with(
        pool,
        scenarios(),
        &[
            ("EXECUTOR_RUNTIME", "docker"),
            ("EXECUTOR_IMAGE", image.as_str()),
            ("TASK_PULL_ENABLED", "false"),
            ("MANAGER_ID", manager_id.as_str()),
        ],
        Some(gateway.as_str()),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !containers_of(&docker, run).await.is_empty() || h.run_status(run).await != "queued" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "leftover container or run not released: {}",
            h.run_status(run).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn containers_labelled(
    docker: &Docker,
    label: &str,
) -> Vec<bollard::models::ContainerSummary> {
    let filters = HashMap::from([("label", vec![label.to_owned()])]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn pooled_container_serves_a_new_session_then_stays_warm_for_it(pool: PgPool) {
    let Some((mut h, docker)) = start(
        pool,
        &[
            ("EXECUTOR_WARM_IDLE_SECONDS", "120"),
            ("EXECUTOR_POOL_TARGETS", "default:1"),
        ],
    )
    .await
    else {
        return;
    };
    let mine = format!("{LABEL_MANAGER}={}", h.manager_id);
    let pooled = h.kept.pool.clone();
    let deadline = tokio::time::Instant::now() + RUN_LIMIT;
    while pooled.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "pool not filled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pool_container = containers_labelled(&docker, &mine).await;
    assert_eq!(pool_container.len(), 1);
    let pool_id = pool_container[0].id.clone().unwrap();
    let labels = pool_container[0].labels.clone().unwrap_or_default();
    assert!(labels.contains_key(LABEL_POOL_SLOT) && !labels.contains_key(LABEL_SESSION));

    // The first run of a new session runs in the pooled container (no per-run container).
    let (session, run) = h.task("[scenario:write_file] write hello").await;
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(status, "completed", "error: {:?}", h.run_error(run).await);
    assert!(containers_of(&docker, run).await.is_empty());
    let user = h.user_of(session).await;
    let ws = h.workspace(user, session);
    assert_eq!(
        std::fs::read_to_string(ws.join("out.txt")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("uid.txt")).unwrap().trim(),
        "1000"
    );
    // It is now the session's warm container, and the pool started a new one.
    let deadline = tokio::time::Instant::now() + RUN_LIMIT;
    while pooled.is_empty() || h.kept.warm.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not refilled/parked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids: Vec<String> = containers_labelled(&docker, &mine)
        .await
        .into_iter()
        .filter_map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&pool_id));

    // Shutdown removes both; the workspace stays.
    h.stop_manager(Duration::from_secs(60)).await;
    assert!(containers_labelled(&docker, &mine).await.is_empty());
    assert!(ws.join("out.txt").exists());
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn warm_container_takes_the_follow_up_run(pool: PgPool) {
    let Some((mut h, docker)) = start(pool, &[("EXECUTOR_WARM_IDLE_SECONDS", "120")]).await else {
        return;
    };
    let (session, run) = h.task("[scenario:write_file] write hello").await;
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(status, "completed", "error: {:?}", h.run_error(run).await);
    // The run's container stays up, parked for the session.
    let kept = containers_of(&docker, run).await;
    assert_eq!(kept.len(), 1);
    let next = h.task_in(session, "again").await;
    let status = h
        .wait_status(next, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(status, "completed", "error: {:?}", h.run_error(next).await);
    // No container of its own: it ran in the first run's container, which is still the only one.
    assert!(containers_of(&docker, next).await.is_empty());
    let now = containers_of(&docker, run).await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].id, kept[0].id);
    h.stop_manager(Duration::from_secs(60)).await;
    assert!(containers_of(&docker, run).await.is_empty());
}
