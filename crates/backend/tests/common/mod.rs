//! A real backend on a loopback port over a fresh database (from `#[sqlx::test]`), and a client.
#![allow(dead_code)]

pub mod s3;

use std::net::SocketAddr;

use backend::config::Settings;
use protocol::files::{Manifest, ManifestChange, ManifestEntry};
use protocol::internal::{ClaimRequest, ClaimedRun, INTERNAL_TOKEN_HEADER};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const INTERNAL_TOKEN: &str = "test-internal-token-0123456789";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: Client,
    pub pool: PgPool,
    pub shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn base_vars() -> Vec<(String, String)> {
    let db = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/test.sh sets it)");
    [
        ("DATABASE_URL", db.as_str()),
        ("SECRET_KEY", "test-secret-key-0123456789abcdef"),
        ("INTERNAL_API_TOKEN", INTERNAL_TOKEN),
        ("S3_ENDPOINT", "http://127.0.0.1:9"),
        ("S3_ACCESS_KEY", "ak"),
        ("S3_SECRET_KEY", "sk"),
        ("S3_BUCKET", "bucket"),
        ("RUN_RETRY_BACKOFF_SECONDS", "0"),
        ("LEASE_REAPER_INTERVAL_SECONDS", "1"),
        // Tests send bursts from one address; the rate-limit tests turn the limits back on.
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
        // Tests register many users; the registration policy's own tests set it back.
        ("REGISTRATION", "open"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

impl TestApp {
    /// Starts a backend in `password` mode over `pool`.
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    /// Starts a backend with extra settings.
    pub async fn spawn_with(pool: PgPool, extra: &[(&str, &str)]) -> Self {
        let mut vars = base_vars();
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = Settings::from_vars(vars).expect("test settings");
        let shutdown = CancellationToken::new();
        let state = backend::server::start_state(settings, pool.clone(), shutdown.clone())
            .await
            .expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(backend::server::serve(listener, state));
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client: Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            pool,
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Registers a user and returns its bearer token.
    pub async fn register(&self, email: &str) -> String {
        let res = self
            .client
            .post(self.url("/api/v1/auth/register"))
            .json(&json!({"email": email, "password": "password-123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// Starts a backend with `s3`'s settings and `extra`.
    pub async fn spawn_with_s3(pool: PgPool, s3: &s3::S3Server, extra: &[(&str, &str)]) -> Self {
        let owned = s3.vars();
        let mut vars: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        vars.extend_from_slice(extra);
        Self::spawn_with(pool, &vars).await
    }

    /// A request with `method` and an optional JSON body.
    pub async fn send(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// A multipart upload of one field `file` named `filename` ([`multipart`]).
    pub async fn upload(
        &self,
        token: &str,
        method: Method,
        path: &str,
        filename: &str,
        content_type: &str,
        data: &[u8],
    ) -> Response {
        let (ct, body) = multipart("file", filename, content_type, data);
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The id of the user registered as `email`.
    pub async fn user_id(&self, email: &str) -> Uuid {
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a task; returns (session_id, run_id).
    pub async fn task(&self, token: &str, prompt: &str, session: Option<Uuid>) -> (Uuid, Uuid) {
        let mut body = json!({"prompt": prompt});
        if let Some(s) = session {
            body["session_id"] = json!(s);
        }
        let res = self.post(token, "/api/v1/tasks", body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let v: Value = res.json().await.unwrap();
        (
            v["session_id"].as_str().unwrap().parse().unwrap(),
            v["run_id"].as_str().unwrap().parse().unwrap(),
        )
    }

    pub async fn internal(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(&format!("/api/v1/internal{path}")))
            .header(INTERNAL_TOKEN_HEADER, INTERNAL_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn claim(&self, worker: &str, wait_seconds: u32) -> Option<ClaimedRun> {
        self.claim_lease(worker, wait_seconds, 60).await
    }

    pub async fn claim_lease(
        &self,
        worker: &str,
        wait_seconds: u32,
        lease: u32,
    ) -> Option<ClaimedRun> {
        let res = self
            .internal(
                "/runs/claim",
                serde_json::to_value(ClaimRequest {
                    worker_id: worker.into(),
                    lease_seconds: lease,
                    wait_seconds,
                    kinds: None,
                    max_runs: 1,
                    start: false,
                })
                .unwrap(),
            )
            .await;
        match res.status() {
            StatusCode::OK => Some(res.json().await.unwrap()),
            StatusCode::NO_CONTENT => None,
            s => panic!(
                "claim answered {s}: {}",
                res.text().await.unwrap_or_default()
            ),
        }
    }

    /// A task (in `session`, or a new one), claimed by worker `w` and completed; returns
    /// (session, run, epoch).
    pub async fn finished_run(&self, token: &str, session: Option<Uuid>) -> (Uuid, Uuid, i64) {
        let (session, run_id) = self.task(token, "work", session).await;
        let claimed = self.claim("w", 0).await.expect("claimable");
        assert_eq!(claimed.run_id, run_id);
        let res = self
            .internal(
                &format!("/runs/{run_id}/complete"),
                json!({"worker_id": "w", "epoch": claimed.epoch}),
            )
            .await;
        assert!(res.status().is_success(), "{}", res.status());
        (session, run_id, claimed.epoch)
    }

    /// Finishes an export the way the manager does, once the file objects of `entries` are in
    /// the bucket: writes `archive.zip` and `manifest.json` under the run's prefix, then reports
    /// the export (ready, its counts from the entries) through the internal route. Returns the
    /// manifest key.
    pub async fn report_export(
        &self,
        s3: &s3::S3Server,
        user: Uuid,
        (session, run_id, epoch): (Uuid, Uuid, i64),
        entries: Vec<ManifestEntry>,
        deleted: Vec<String>,
    ) -> String {
        let prefix = format!("workspaces/{session}/runs/{run_id}");
        let archive_key = format!("{prefix}/archive.zip");
        s3.put(&archive_key, b"PK-archive-bytes").await;
        let count = |c: ManifestChange| entries.iter().filter(|e| e.change == c).count();
        let report = json!({"worker_id": "w", "epoch": epoch, "status": "ready",
                            "archive_key": archive_key, "files": entries.len(),
                            "added": count(ManifestChange::Added),
                            "modified": count(ManifestChange::Modified),
                            "unchanged": count(ManifestChange::Unchanged),
                            "deleted": deleted.len()});
        let manifest = Manifest {
            user_id: user,
            run_id,
            session_id: session,
            previous_run_id: None,
            created_at: chrono::Utc::now(),
            files: entries,
            deleted,
            archive_key,
            archive_spans: Vec::new(),
        };
        let manifest_key = format!("{prefix}/manifest.json");
        s3.put(&manifest_key, &serde_json::to_vec(&manifest).unwrap())
            .await;
        let mut report = report;
        report["manifest_key"] = json!(manifest_key);
        let res = self
            .internal(&format!("/runs/{run_id}/export"), report)
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        manifest_key
    }

    pub async fn run_status(&self, run: Uuid) -> String {
        sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
            .bind(run)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// The `backend` binary with the test settings against `pool`, plus `env`, running `args`.
pub fn binary(pool: &PgPool, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_backend"));
    cmd.env_clear()
        .args(args)
        .env("DATABASE_URL", test_support::postgres::database_url(pool))
        .env("SECRET_KEY", "test-secret-key-0123456789abcdef")
        .env("INTERNAL_API_TOKEN", INTERNAL_TOKEN)
        .env("S3_ENDPOINT", "http://127.0.0.1:9")
        .env("S3_ACCESS_KEY", "ak")
        .env("S3_SECRET_KEY", "sk")
        .env("S3_BUCKET", "bucket")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `cmd` with `stdin` written to it; (success, stdout, stderr).
pub async fn run_with_stdin(
    mut cmd: tokio::process::Command,
    stdin: &str,
) -> (bool, String, String) {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the backend binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let out = child.wait_with_output().await.expect("the binary ends");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The answer's JSON body (`null` when it has none), asserting its status.
pub async fn json_of(res: Response, want: StatusCode) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, want, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A multipart body with one part; returns (content type, body).
pub fn multipart(
    field: &str,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> (String, Vec<u8>) {
    let boundary = "workcell-test-boundary-7d3f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Asserts the JSON error shape and returns the code.
pub async fn error_code(res: Response) -> String {
    let status = res.status();
    let body: Value = res
        .json()
        .await
        .unwrap_or_else(|e| panic!("{status}: body is not JSON: {e}"));
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{status}: no error.code in {body}"));
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{status}: no error.message in {body}"
    );
    code.to_owned()
}

/// An event batch of `n` assistant texts numbered from `from`.
pub fn text_batch(worker: &str, epoch: i64, from: i64, n: i64) -> Value {
    let events: Vec<Value> = (from..from + n)
        .map(|i| {
            json!({"run_seq": i, "time": "2026-01-01T00:00:00Z", "type": "assistant_text",
                   "payload": {"text": format!("event {i}")}})
        })
        .collect();
    json!({"worker_id": worker, "epoch": epoch, "events": events})
}
