//! `workcell` against a real backend in password mode (in-process, on a fresh PostgreSQL
//! database from `#[sqlx::test]`; no manager: runs stay queued): signing in stores a scoped API
//! token with mode 0600, the commands use it, a revoked or wrong token is refused with exit 2,
//! and `logout` forgets it. The dev smoke (scripts/dev-smoke.sh) runs the commands end to end
//! against the whole stack with the scripted model.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use backend::config::Settings;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "a long enough password";

/// A backend in password mode on a loopback port; its base URL.
async fn backend(pool: &PgPool, shutdown: CancellationToken) -> String {
    let db = test_support::postgres::database_url(pool);
    let vars = [
        ("DATABASE_URL", db.as_str()),
        ("SECRET_KEY", "test-secret-key-0123456789abcdef"),
        ("INTERNAL_API_TOKEN", "test-internal-token-0123456789"),
        ("S3_ENDPOINT", "http://127.0.0.1:9"),
        ("S3_ACCESS_KEY", "ak"),
        ("S3_SECRET_KEY", "sk"),
        ("S3_BUCKET", "bucket"),
        ("AUTH_MODE", "password"),
        ("RATE_LIMIT_PER_MINUTE", "0"),
        ("RATE_LIMIT_IP_PER_MINUTE", "0"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let settings = Settings::from_vars(vars).expect("settings");
    let state = backend::server::start_state(settings, pool.clone(), shutdown)
        .await
        .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(backend::server::serve(listener, state));
    format!("http://{addr}")
}

/// Runs `workcell args…` with its config under `home` and `stdin`; (exit code, stdout, stderr).
async fn workcell(home: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_workcell"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn login_stores_a_scoped_token_that_the_commands_use(pool: PgPool) {
    let shutdown = CancellationToken::new();
    let base = backend(&pool, shutdown.clone()).await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "cli@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let home = tempfile::tempdir().unwrap();

    // A wrong password: exit 2 with the server's message; nothing stored.
    let (code, _, err) = workcell(
        home.path(),
        &["--server", &base, "login", "--email", "cli@example.com"],
        "not the password\n",
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("wrong email or password"), "{err}");

    let (code, out, err) = workcell(
        home.path(),
        &["--server", &base, "login", "--email", "cli@example.com"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));
    let file = home.path().join("config/workcell/config.toml");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored = std::fs::read_to_string(&file).unwrap();
    let token = stored
        .split('"')
        .find(|s| s.starts_with("wc_"))
        .unwrap_or_else(|| panic!("no wc_ token in {stored}"))
        .to_owned();

    // The token is an API token with the CLI's scopes, named after this host.
    let me: Value = http
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["scopes"],
        json!(["tasks:write", "sessions:read", "files:read"])
    );
    let name: String = sqlx::query_scalar("SELECT name FROM api_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(name.starts_with("workcell CLI on "), "{name}");

    // The commands use it (the run stays queued: no manager here).
    let (code, out, err) =
        workcell(home.path(), &["run", "--json", "hello from the CLI"], "").await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = workcell(home.path(), &["--json", "sessions"], "").await;
    assert_eq!(code, 0, "{err}");
    let sessions: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(out.contains("hello from the CLI"), "{sessions}");

    // Revoked on the server: the next command is refused with exit 2.
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM api_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let (code, _, err) = workcell(home.path(), &["sessions"], "").await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unauthorized") || err.contains("revoked"),
        "{err}"
    );

    // A token given on the command line is checked before it is stored.
    let (code, _, err) = workcell(
        home.path(),
        &[
            "--server",
            &base,
            "login",
            "--token",
            "wc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
        "",
    )
    .await;
    assert_eq!(code, 2, "{err}");

    let (code, _, err) = workcell(home.path(), &["logout"], "").await;
    assert_eq!(code, 0, "{err}");
    let stored = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(!stored.contains("wc_"), "{stored}");
    shutdown.cancel();
}
