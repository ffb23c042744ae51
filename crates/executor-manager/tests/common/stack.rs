//! The deployed shape, for end-to-end tests: the `backend` and `executor-manager` binaries as
//! their own processes (configured only through their environment, as in production), over a
//! fresh database from `#[sqlx::test]`, a real S3 server (s3s-fs) and the scripted model server.
//!
//! Needs the backend binary (`BACKEND_BIN`, default: `backend` in this test's target directory,
//! built by `cargo build -p backend`; `scripts/test.sh` builds the workspace first).

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_llm::{FakeLlmHandle, ScenarioFile};
use reqwest::Client;
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::net::{Reach, free_port};
use test_support::postgres::database_url;
use test_support::process::Service;
use test_support::s3::{BUCKET, S3Server};
use uuid::Uuid;

use super::{INTERNAL_TOKEN, start_llm};

const MANAGER_BIN: &str = env!("CARGO_BIN_EXE_executor-manager");

/// The backend binary: `BACKEND_BIN`, else `backend` in this test's target directory (built by
/// `cargo build -p backend`).
pub fn backend_bin() -> PathBuf {
    test_support::tools::target_bin("backend", "BACKEND_BIN")
}

/// Backend + manager as processes, S3 server, model server.
pub struct Stack {
    pub backend_url: String,
    pub manager_url: String,
    pub manager_id: String,
    pub client: Client,
    pub pool: PgPool,
    pub llm: FakeLlmHandle,
    pub s3: S3Server,
    pub backend: Service,
    pub manager: Service,
    pub workspace_root: tempfile::TempDir,
    _logs: tempfile::TempDir,
}

/// How the manager launches executors.
pub enum Runtime<'a> {
    /// Containers from `image`; the host is `gateway` as containers see it (e.g. 172.17.0.1).
    Docker { image: &'a str, gateway: &'a str },
    /// Child processes (the executor binary and the CLI on this host).
    Process,
}

impl Stack {
    /// Starts everything; `extra` adds or overrides manager variables.
    pub async fn start(
        pool: PgPool,
        scenarios: ScenarioFile,
        runtime: Runtime<'_>,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::start_full(pool, scenarios, runtime, extra, &[]).await
    }

    /// Like [`Stack::start`], with `backend_extra` adding or overriding backend variables. An
    /// `EXECUTOR_EGRESS_HOST_PORTS` in `extra` adds to the model server's port (docker).
    pub async fn start_full(
        pool: PgPool,
        scenarios: ScenarioFile,
        runtime: Runtime<'_>,
        extra: &[(&str, &str)],
        backend_extra: &[(&str, &str)],
    ) -> Self {
        let logs = tempfile::tempdir().unwrap();
        let client = Client::new();
        let s3 = S3Server::start().await;
        let s3_vars = s3.vars();
        let path = std::env::var("PATH").unwrap_or_default();

        // Backend, single-user mode (no sign-in), on a loopback port.
        let backend_port = free_port();
        let backend_url = format!("http://127.0.0.1:{backend_port}");
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path.clone()),
            ("DATABASE_URL".into(), database_url(&pool)),
            (
                "SECRET_KEY".into(),
                "e2e-secret-key-0123456789abcdef".into(),
            ),
            ("INTERNAL_API_TOKEN".into(), INTERNAL_TOKEN.into()),
            ("AUTH_MODE".into(), "single_user".into()),
            ("HOST".into(), "127.0.0.1".into()),
            ("PORT".into(), backend_port.to_string()),
            ("RUN_RETRY_BACKOFF_SECONDS".into(), "0".into()),
        ];
        env.extend(s3_vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
        for (k, v) in backend_extra {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
        let mut backend = Service::spawn("backend", &backend_bin(), &env, logs.path());
        backend
            .wait_ready(&format!("{backend_url}/health/ready"))
            .await;

        // The model server, and the manager; with docker both are reached through the gateway.
        let reach = match runtime {
            Runtime::Docker { gateway, .. } => Reach::Gateway(gateway),
            Runtime::Process => Reach::Loopback,
        };
        let llm = start_llm(scenarios, reach).await;
        let workspace_root = tempfile::tempdir().unwrap();
        let manager_port = free_port();
        let manager_url = format!("http://127.0.0.1:{manager_port}");
        let manager_id = format!("e2e-manager-{}", Uuid::new_v4().simple());
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("BACKEND_URL".into(), backend_url.clone()),
            ("INTERNAL_API_TOKEN".into(), INTERNAL_TOKEN.into()),
            ("CALLBACK_BASE_URL".into(), reach.url(manager_port)),
            ("HOST".into(), reach.bind_host().into()),
            ("PORT".into(), manager_port.to_string()),
            (
                "WORKSPACE_ROOT".into(),
                workspace_root.path().display().to_string(),
            ),
            ("ANTHROPIC_BASE_URL".into(), reach.url(llm.addr().port())),
            ("ANTHROPIC_AUTH_TOKEN".into(), super::LLM_KEY.into()),
            ("MANAGER_ID".into(), manager_id.clone()),
            ("TASK_CLAIM_LEASE_SECONDS".into(), "30".into()),
            ("TASK_CLAIM_WAIT_SECONDS".into(), "5".into()),
            ("TASK_PULL_INTERVAL_SECONDS".into(), "1".into()),
            ("SHUTDOWN_TIMEOUT_SECONDS".into(), "20".into()),
        ];
        match runtime {
            Runtime::Docker { image, .. } => {
                env.push(("EXECUTOR_RUNTIME".into(), "docker".into()));
                env.push(("EXECUTOR_IMAGE".into(), image.into()));
                env.push(("EXECUTOR_PUBLISHED_HOST".into(), "127.0.0.1".into()));
                // The model server listens on the host: the executors' firewall lets them through.
                env.push((
                    "EXECUTOR_EGRESS_HOST_PORTS".into(),
                    llm.addr().port().to_string(),
                ));
                if let Ok(h) = std::env::var("DOCKER_HOST") {
                    env.push(("DOCKER_HOST".into(), h));
                }
            }
            Runtime::Process => {
                env.push(("EXECUTOR_RUNTIME".into(), "process".into()));
                env.push((
                    "EXECUTOR_BIN".into(),
                    super::executor_bin().display().to_string(),
                ));
                env.push((
                    "CLAUDE_BIN".into(),
                    test_support::tools::claude_bin().display().to_string(),
                ));
            }
        }
        env.extend(s3_vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
        for (k, v) in extra {
            let v = match env.iter().find(|(name, _)| name == k) {
                Some((_, ports)) if *k == "EXECUTOR_EGRESS_HOST_PORTS" => format!("{ports},{v}"),
                _ => v.to_string(),
            };
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v));
        }
        let mut manager = Service::spawn(
            "executor-manager",
            Path::new(MANAGER_BIN),
            &env,
            logs.path(),
        );
        manager
            .wait_ready(&format!("{manager_url}/health/ready"))
            .await;

        Stack {
            backend_url,
            manager_url,
            manager_id,
            client,
            pool,
            llm,
            s3,
            backend,
            manager,
            workspace_root,
            _logs: logs,
        }
    }

    /// Sets the (single) user's secret `name` through `PUT /api/v1/secrets/{name}` (created: 201),
    /// checking the answer does not carry the value.
    pub async fn put_secret(&self, name: &str, value: &str) {
        let res = self
            .client
            .put(format!("{}/api/v1/secrets/{name}", self.backend_url))
            .json(&json!({"value": value, "description": format!("{name}, for a test")}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_eq!(status, 201, "{body}");
        assert!(
            !body.contains(value),
            "the secret's value in the answer: {body}"
        );
    }

    /// Both services' log tails, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- backend ---\n{}\n--- executor-manager ---\n{}",
            self.backend.log_tail(30),
            self.manager.log_tail(60)
        )
    }

    /// `POST /api/v1/tasks`, in `session` when given; returns (session_id, run_id).
    pub async fn task(&self, prompt: &str, session: Option<Uuid>) -> (Uuid, Uuid) {
        let mut body = json!({"prompt": prompt});
        if let Some(s) = session {
            body["session_id"] = json!(s);
        }
        let res = self
            .client
            .post(format!("{}/api/v1/tasks", self.backend_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!(status, 201, "{v}");
        (
            v["session_id"].as_str().unwrap().parse().unwrap(),
            v["run_id"].as_str().unwrap().parse().unwrap(),
        )
    }

    /// `GET /api/v1/{path}` as JSON, asserting 200.
    pub async fn get(&self, path: &str) -> Value {
        let res = self
            .client
            .get(format!("{}/api/v1/{path}", self.backend_url))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let v: Value = res.json().await.unwrap_or_default();
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Waits (through the public API) until the run is terminal and its export reported;
    /// returns the run's view.
    pub async fn wait_finished(&self, run: Uuid, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let v = self.get(&format!("runs/{run}")).await;
            let terminal = ["completed", "failed", "canceled"]
                .contains(&v["status"].as_str().unwrap_or_default());
            if terminal && (v["status"] != "completed" || !v["export"].is_null()) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run} not finished in {limit:?}: {v}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every event of the session, through the public API, in order.
    pub async fn events(&self, session: Uuid) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .get(&format!(
                    "sessions/{session}/events?after={after}&limit=500"
                ))
                .await;
            out.extend(page["events"].as_array().cloned().unwrap_or_default());
            after = page["next_after"].as_i64().unwrap_or(after);
            if page["has_more"] != true {
                return out;
            }
        }
    }

    /// An object's bytes from the S3 server's directory (s3s-fs keeps objects as files).
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.s3.root().join(BUCKET).join(key)).ok()
    }

    /// Keys under `prefix` in the bucket, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let base = self.s3.root().join(BUCKET);
        let mut out = Vec::new();
        let mut stack = vec![base.join(prefix)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&base) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        out.retain(|k| !k.contains(".s3s"));
        out.sort();
        out
    }

    pub async fn user_of(&self, session: Uuid) -> Uuid {
        sqlx::query_scalar("SELECT user_id FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub fn workspace(&self, user: Uuid, session: Uuid) -> PathBuf {
        self.workspace_root
            .path()
            .join("active")
            .join(user.to_string())
            .join(session.to_string())
            .join("workspace")
    }

    /// Graceful stop of both services (SIGTERM); asserts they exited cleanly.
    pub async fn stop(mut self) {
        let manager_ok = self.manager.terminate(Duration::from_secs(30)).await;
        let backend_ok = self.backend.terminate(Duration::from_secs(30)).await;
        assert!(manager_ok && backend_ok, "unclean exit:\n{}", self.logs());
    }
}
