//! The `backend` binary itself: start-up errors, migrations, graceful shutdown.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;
use test_support::net::free_port;
use test_support::postgres::database_url;

const BIN: &str = env!("CARGO_BIN_EXE_backend");
const INTERNAL: &str = "binary-test-internal-token-0123";

#[test]
fn a_missing_variable_stops_it_with_one_line_naming_it() {
    let out = std::process::Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", "postgresql://u@127.0.0.1:9/db")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("SECRET_KEY is required"), "{err}");
}

/// The binary with valid settings for `pool` on `host`:`port`, plus `extra`.
fn command(
    pool: &PgPool,
    host: &str,
    port: u16,
    extra: &[(&str, &str)],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .env("DATABASE_URL", database_url(pool))
        .env("SECRET_KEY", "binary-test-secret-key-0123456789")
        .env("INTERNAL_API_TOKEN", INTERNAL)
        .env("S3_ENDPOINT", "http://127.0.0.1:9")
        .env("S3_ACCESS_KEY", "ak")
        .env("S3_SECRET_KEY", "sk")
        .env("S3_BUCKET", "b")
        .env("HOST", host)
        .env("PORT", port.to_string())
        .envs(extra.iter().copied())
        .kill_on_drop(true);
    cmd
}

async fn wait_ready(base: &str, child: &mut tokio::process::Child) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the backend exited during start-up: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the backend did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn single_user_on_the_network_refuses_to_start_unless_allowed(pool: PgPool) {
    for host in ["0.0.0.0", "::"] {
        let out = command(&pool, host, free_port(), &[("AUTH_MODE", "single_user")])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{host}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.starts_with("backend: AUTH_MODE is invalid")
                && err.contains(&format!("`{host}`"))
                && err.contains("HOST=127.0.0.1")
                && err.contains("ALLOW_SINGLE_USER_ON_NETWORK=true"),
            "{err}"
        );
    }
    // Allowed explicitly, it starts on every interface (reached here through loopback).
    let port = free_port();
    let mut child = command(
        &pool,
        "0.0.0.0",
        port,
        &[
            ("AUTH_MODE", "single_user"),
            ("ALLOW_SINGLE_USER_ON_NETWORK", "true"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_ready(&format!("http://127.0.0.1:{port}"), &mut child).await;
    child.kill().await.unwrap();
    // On loopback (by name too) it needs no permission.
    let port = free_port();
    let mut child = command(&pool, "localhost", port, &[("AUTH_MODE", "single_user")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(&format!("http://127.0.0.1:{port}"), &mut child).await;
    child.kill().await.unwrap();
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_invalid_trusted_proxy_stops_it_with_one_line(pool: PgPool) {
    let out = command(
        &pool,
        "127.0.0.1",
        free_port(),
        &[("TRUSTED_PROXIES", "127.0.0.1/32,10.0.0.0/40")],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("backend: TRUSTED_PROXIES is invalid") && err.contains("10.0.0.0/40"),
        "{err}"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn sigterm_ends_parked_claims_and_exits_cleanly(pool: PgPool) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", database_url(&pool))
        .env("SECRET_KEY", "binary-test-secret-key-0123456789")
        .env("INTERNAL_API_TOKEN", INTERNAL)
        .env("S3_ENDPOINT", "http://127.0.0.1:9")
        .env("S3_ACCESS_KEY", "ak")
        .env("S3_SECRET_KEY", "sk")
        .env("S3_BUCKET", "b")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the backend did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let claim = {
        let client = client.clone();
        let url = format!("{base}/api/v1/internal/runs/claim");
        tokio::spawn(async move {
            let res = client
                .post(url)
                .header("x-internal-token", INTERNAL)
                .json(&json!({"worker_id": "w", "lease_seconds": 30, "wait_seconds": 60}))
                .send()
                .await
                .unwrap();
            (res.status(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().unwrap() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (status, answered) = claim.await.unwrap();
    assert_eq!(status, 204, "a parked claim answers 'nothing' at shutdown");
    assert!(answered - signalled < Duration::from_secs(2));
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exited after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
