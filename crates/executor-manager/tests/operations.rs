//! Operations across real processes: the backend, executor-manager and executor binaries (process
//! runtime) run one task with JSON logs; the test follows the task's request id through all three
//! logs, checks both `/metrics` moved, and greps every log for secrets.
//!
//! Needs the three binaries (`cargo build -p backend -p executor-manager -p executor`), the Claude
//! Code CLI and `DATABASE_URL`, like the other end-to-end tests.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{LLM_KEY, executor_bin};
use fake_llm::{Block, Config, FakeLlm, ScenarioFile, Turn};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::net::free_port;
use test_support::process::Service;
use uuid::Uuid;

const INTERNAL: &str = "ops-internal-token-5f1e2d3c4b5a6978";
const SECRET_KEY: &str = "ops-secret-key-0a1b2c3d4e5f6a7b8c9d";
const PASSWORD: &str = "correct-horse-battery";
const S3_SECRET: &str = "ops-s3-secret-9z8y7x";

async fn wait_http(client: &reqwest::Client, url: &str) {
    for _ in 0..200 {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The spans of a log line (`spans` lists them all, outermost first).
fn spans(line: &Value) -> Vec<&Value> {
    line["spans"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn has_span_with(line: &Value, key: &str, value: &str) -> bool {
    spans(line).iter().any(|s| s[key] == value)
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == series).then(|| v.parse().ok())?
        })
        .unwrap_or(0.0)
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn one_task_is_followed_through_every_log_and_no_secret_is_logged(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let db_url = test_support::postgres::database_url(&pool);

    let llm = FakeLlm::start(Config::new(
        LLM_KEY,
        ScenarioFile::default().with_scenario(
            "work",
            vec![
                Turn::blocks(vec![
                    Block::text("Working."),
                    Block::tool_use("Bash", json!({"command": "printf ok > done.txt"})),
                ]),
                Turn::text("Done."),
            ],
        ),
    ))
    .await
    .unwrap();

    let client = reqwest::Client::new();
    let backend_port = free_port();
    let backend_url = format!("http://127.0.0.1:{backend_port}");
    fn common(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> = vec![
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", std::env::var("HOME").unwrap_or_default()),
            ("DEBUG", "false".into()),
            ("LOG_LEVEL", "debug".into()),
        ];
        v.extend(extra.iter().cloned());
        v
    }
    let mut backend = Service::spawn(
        "backend",
        &common::stack::backend_bin(),
        &common(&[
            ("DATABASE_URL", db_url.to_string()),
            ("SECRET_KEY", SECRET_KEY.into()),
            ("INTERNAL_API_TOKEN", INTERNAL.into()),
            ("S3_ENDPOINT", "http://127.0.0.1:9".into()),
            ("S3_ACCESS_KEY", "ops-access".into()),
            ("S3_SECRET_KEY", S3_SECRET.into()),
            ("S3_BUCKET", "bucket".into()),
            ("HOST", "127.0.0.1".into()),
            ("PORT", backend_port.to_string()),
            ("UVICORN_ACCESS_LOG", "true".into()),
        ]),
        dir.path(),
    );
    backend
        .wait_ready(&format!("{backend_url}/health/ready"))
        .await;

    let manager_port = free_port();
    let manager_url = format!("http://127.0.0.1:{manager_port}");
    let workspaces = dir.path().join("workspaces");
    std::fs::create_dir_all(&workspaces).unwrap();
    let mut manager = Service::spawn(
        "manager",
        Path::new(env!("CARGO_BIN_EXE_executor-manager")),
        &common(&[
            ("BACKEND_URL", backend_url.clone()),
            ("INTERNAL_API_TOKEN", INTERNAL.into()),
            ("CALLBACK_BASE_URL", manager_url.clone()),
            ("WORKSPACE_ROOT", workspaces.display().to_string()),
            ("EXECUTOR_RUNTIME", "process".into()),
            ("EXECUTOR_BIN", executor_bin().display().to_string()),
            (
                "CLAUDE_BIN",
                test_support::tools::claude_bin().display().to_string(),
            ),
            ("ANTHROPIC_BASE_URL", format!("http://{}", llm.addr())),
            ("ANTHROPIC_AUTH_TOKEN", LLM_KEY.into()),
            ("HOST", "127.0.0.1".into()),
            ("PORT", manager_port.to_string()),
            ("MANAGER_ID", format!("ops-{}", Uuid::new_v4().simple())),
            ("TASK_CLAIM_WAIT_SECONDS", "2".into()),
            ("TASK_CLAIM_LEASE_SECONDS", "30".into()),
            ("UVICORN_ACCESS_LOG", "true".into()),
        ]),
        dir.path(),
    );
    manager
        .wait_ready(&format!("{manager_url}/health/live"))
        .await;
    // Ready: the backend answers and the process runtime needs nothing else.
    let ready = client
        .get(format!("{manager_url}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status(),
        200,
        "{}",
        ready.text().await.unwrap_or_default()
    );
    let manager_before = client
        .get(format!("{manager_url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    // A user signs in (JWT and cookie), creates a task and reads it with the cookie.
    let res = client
        .post(format!("{backend_url}/api/v1/auth/register"))
        .json(&json!({"email": "ops@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let jwt = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = client
        .post(format!("{backend_url}/api/v1/tasks"))
        .bearer_auth(&jwt)
        .header("x-request-id", "ops-edge-request-1")
        .json(&json!({"prompt": "[scenario:work] do it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-request-id"], "ops-edge-request-1");
    let run: Uuid = res.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        let s: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
        if ["completed", "failed", "canceled"].contains(&s.as_str()) {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "run stuck in {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let res = client
        .get(format!("{backend_url}/api/v1/runs/{run}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(status, "completed", "{}", res.text().await.unwrap());

    // Metrics moved on both services.
    // Run observations are recorded off the response path: give them a moment.
    let mut backend_metrics = String::new();
    for _ in 0..50 {
        backend_metrics = client
            .get(format!("{backend_url}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(
            &backend_metrics,
            r#"workcell_runs_finished_total{status="completed"}"#,
        ) >= 1.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        metric(
            &backend_metrics,
            r#"workcell_runs_finished_total{status="completed"}"#
        ) >= 1.0,
        "{backend_metrics}"
    );
    assert!(
        metric(&backend_metrics, "workcell_events_ingested_total") >= 3.0,
        "{backend_metrics}"
    );
    assert!(
        metric(
            &backend_metrics,
            r#"workcell_http_requests_total{method="POST",route="/api/v1/internal/runs/claims",status="200"}"#
        ) >= 1.0,
        "{backend_metrics}"
    );
    let manager_metrics = client
        .get(format!("{manager_url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let moved = |s: &str| metric(&manager_metrics, s) - metric(&manager_before, s);
    assert_eq!(
        moved(r#"workcell_manager_runs_total{outcome="completed"}"#),
        1.0,
        "{manager_metrics}"
    );
    assert!(
        moved(
            r#"workcell_http_requests_total{method="POST",route="/api/v1/callbacks/{run_id}",status="200"}"#
        ) >= 1.0,
        "{manager_metrics}"
    );
    assert!(
        manager_metrics.contains("workcell_executors_running 0"),
        "{manager_metrics}"
    );
    assert!(!manager_metrics.contains(&run.to_string()));

    manager.terminate(Duration::from_secs(30)).await;
    backend.terminate(Duration::from_secs(30)).await;
    let backend_log = json_lines(backend.log());
    let manager_all = json_lines(manager.log());
    assert!(
        !backend_log.is_empty() && !manager_all.is_empty(),
        "logs are JSON lines"
    );
    for line in backend_log.iter().chain(&manager_all) {
        for key in ["timestamp", "level", "target"] {
            assert!(line.get(key).is_some(), "no {key}: {line}");
        }
    }
    // The executor is the manager's child: its lines share the manager's output.
    let (executor_log, manager_log): (Vec<&Value>, Vec<&Value>) =
        manager_all.iter().partition(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t == "executor" || t.starts_with("executor::"))
        });
    assert!(!executor_log.is_empty(), "no executor lines");

    // The public request that created the task carries the caller's id.
    assert!(
        backend_log.iter().any(|l| l["message"] == "task queued"
            && has_span_with(l, "request_id", "ops-edge-request-1")),
        "task creation not logged with its request id"
    );
    // The run's trace id: the request id of the claim that handed it out.
    let claimed = backend_log
        .iter()
        .find(|l| l["message"] == "run claimed" && l["run_id"] == run.to_string())
        .expect("backend logged the claim");
    let rid = spans(claimed)
        .iter()
        .find_map(|s| s["request_id"].as_str())
        .expect("claim has a request id")
        .to_owned();
    let run_s = run.to_string();
    // Backend: later internal calls about the run carry the same id and the run id.
    assert!(
        backend_log
            .iter()
            .any(|l| spans(l).iter().any(|s| s["request_id"] == rid.as_str()
                && s["run_id"] == run_s.as_str()
                && s["route"] == "/api/v1/internal/runs/{id}/complete")),
        "backend: no complete call with request id {rid}"
    );
    // Manager: the run's span holds both ids.
    assert!(
        manager_log
            .iter()
            .any(|l| has_span_with(l, "request_id", &rid) && has_span_with(l, "run_id", &run_s)),
        "manager: no line with request id {rid} and run {run}"
    );
    // Executor: the execute call and the run it started.
    assert!(
        executor_log
            .iter()
            .any(|l| has_span_with(l, "request_id", &rid) && has_span_with(l, "run_id", &run_s)),
        "executor: no line with request id {rid} and run {run}: {executor_log:?}"
    );
    // Callbacks (executor → manager) arrive with the same id.
    assert!(
        manager_log.iter().any(|l| {
            spans(l).iter().any(|s| {
                s["request_id"] == rid.as_str() && s["route"] == "/api/v1/callbacks/{run_id}"
            })
        }),
        "manager: no callback request with request id {rid}"
    );

    // No secret in any log.
    let raw = format!(
        "{}\n{}",
        std::fs::read_to_string(backend.log()).unwrap(),
        std::fs::read_to_string(manager.log()).unwrap()
    );
    let cookie_value = cookie.split_once('=').unwrap().1.to_owned();
    for (what, secret) in [
        ("internal token", INTERNAL),
        ("secret key", SECRET_KEY),
        ("model key", LLM_KEY),
        ("password", PASSWORD),
        ("S3 secret", S3_SECRET),
        ("JWT", jwt.as_str()),
        ("cookie", cookie_value.as_str()),
    ] {
        assert!(!raw.contains(secret), "the {what} appears in the logs");
    }
    // The per-run callback token is random: no log line may carry a bearer credential or a
    // callback token field at all.
    for needle in [
        "Bearer ",
        "bearer ",
        "callback_token\":\"",
        "x-internal-token",
    ] {
        assert!(!raw.contains(needle), "`{needle}` appears in the logs");
    }
    assert!(llm.turn_requests().len() >= 2);
}

/// `GET /health/ready` of an in-process manager.
async fn manager_ready(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let res = client
        .get(format!("{url}/health/ready"))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn readiness_names_each_failing_dependency(pool: PgPool) {
    // A real backend and a real S3 server.
    let backend_settings = backend::config::Settings::from_vars(
        [
            ("DATABASE_URL", std::env::var("DATABASE_URL").unwrap()),
            ("SECRET_KEY", SECRET_KEY.to_owned()),
            ("INTERNAL_API_TOKEN", INTERNAL.to_owned()),
            ("S3_ENDPOINT", "http://127.0.0.1:9".to_owned()),
            ("S3_ACCESS_KEY", "ak".to_owned()),
            ("S3_SECRET_KEY", "sk".to_owned()),
            ("S3_BUCKET", "bucket".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v)),
    )
    .unwrap();
    let backend_stop = tokio_util::sync::CancellationToken::new();
    let state = backend::server::start_state(backend_settings, pool, backend_stop.clone())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_url = format!("http://{}", listener.local_addr().unwrap());
    let backend_task = tokio::spawn(backend::server::serve(listener, state));
    let s3 = test_support::s3::S3Server::start().await;

    let workspaces = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let manager_url = format!("http://{}", listener.local_addr().unwrap());
    let settings = executor_manager::Settings::from_vars(
        [
            ("BACKEND_URL", backend_url.clone()),
            ("INTERNAL_API_TOKEN", INTERNAL.to_owned()),
            ("CALLBACK_BASE_URL", manager_url.clone()),
            ("WORKSPACE_ROOT", workspaces.path().display().to_string()),
            ("EXECUTOR_RUNTIME", "process".to_owned()),
            ("TASK_PULL_ENABLED", "false".to_owned()),
        ]
        .into_iter()
        .chain(s3.vars())
        .map(|(k, v)| (k.to_owned(), v)),
    )
    .unwrap();
    let runtime = executor_manager::server::runtime_from_settings(&settings)
        .await
        .unwrap();
    let app = executor_manager::App::new(settings, runtime).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let manager = tokio::spawn(app.serve(listener, async move {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    wait_http(&client, &format!("{manager_url}/health/live")).await;

    let (status, body) = manager_ready(&client, &manager_url).await;
    assert_eq!((status, &body["status"]), (200, &json!("ready")), "{body}");

    // S3 goes away.
    drop(s3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = manager_ready(&client, &manager_url).await;
    assert_eq!(status, 503, "{body}");
    let errors: Vec<String> = serde_json::from_value(body["errors"].clone()).unwrap();
    assert!(
        errors.len() == 1 && errors[0].starts_with("s3: "),
        "{errors:?}"
    );

    // And the backend too.
    backend_stop.cancel();
    let _ = backend_task.await;
    let (status, body) = manager_ready(&client, &manager_url).await;
    assert_eq!(status, 503, "{body}");
    let errors: Vec<String> = serde_json::from_value(body["errors"].clone()).unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.starts_with("backend: ")),
        "{errors:?}"
    );
    // Liveness does not depend on anything.
    let live = client
        .get(format!("{manager_url}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);

    let _ = stop_tx.send(());
    let _ = manager.await;
}

/// `METRICS_TOKEN`: with it, the manager's `/metrics` wants it as a bearer token (401 without it
/// or with another); without it, `/metrics` is open.
#[tokio::test]
async fn the_managers_metrics_can_require_a_token() {
    let client = reqwest::Client::new();
    for token in [None, Some("manager-metrics-token-0123")] {
        let root = tempfile::tempdir().unwrap();
        let mut vars = vec![
            // Nothing answers here: this manager never claims (TASK_PULL_ENABLED=false).
            ("BACKEND_URL", "http://127.0.0.1:9".to_owned()),
            ("INTERNAL_API_TOKEN", INTERNAL.to_owned()),
            ("CALLBACK_BASE_URL", "http://127.0.0.1:9".to_owned()),
            ("WORKSPACE_ROOT", root.path().display().to_string()),
            ("EXECUTOR_RUNTIME", "process".to_owned()),
            ("TASK_PULL_ENABLED", "false".to_owned()),
        ];
        if let Some(t) = token {
            vars.push(("METRICS_TOKEN", t.to_owned()));
        }
        let settings =
            executor_manager::Settings::from_vars(vars.into_iter().map(|(k, v)| (k.to_owned(), v)))
                .unwrap();
        let runtime = executor_manager::server::runtime_from_settings(&settings)
            .await
            .unwrap();
        let app = executor_manager::App::new(settings, runtime).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(app.serve(listener, async move {
            let _ = stop_rx.await;
        }));
        wait_http(&client, &format!("{url}/health/live")).await;
        let metrics = format!("{url}/metrics");

        let open = client.get(&metrics).send().await.unwrap();
        match token {
            None => assert_eq!(open.status(), 200),
            Some(token) => {
                assert_eq!(open.status(), 401);
                let wrong = client
                    .get(&metrics)
                    .bearer_auth("not-the-metrics-token")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(wrong.status(), 401);
                let right = client
                    .get(&metrics)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(right.status(), 200);
                assert!(
                    right.text().await.unwrap().contains("workcell_"),
                    "not the metrics"
                );
            }
        }
        let _ = stop_tx.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
    }
}
