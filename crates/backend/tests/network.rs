//! Who the client is and which pages may open the WebSocket, over real TCP connections (so the
//! peer address is real) and a real PostgreSQL: login lock-outs through a trusted proxy stay with
//! their client, a forged `X-Forwarded-For` from anyone else is ignored, over-long e-mails never
//! reach the throttle, and a foreign `Origin` cannot open the WebSocket.
//!
//! Distinct client addresses come from binding the client socket to 127.0.0.2 / 127.0.0.3; the
//! backend listens on 127.0.0.1, and the default `TRUSTED_PROXIES` trusts 127.0.0.1 only.

mod common;

use std::net::IpAddr;

use common::{TestApp, error_code};
use reqwest::{Client, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "password-123";

/// A client whose connections come from `from`.
fn client_from(from: &str) -> Client {
    Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn login(
    app: &TestApp,
    client: &Client,
    forwarded_for: Option<&str>,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let mut req = client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

/// `n` failed logins, each for another (unknown) e-mail so that only the address adds up.
async fn fail_logins(app: &TestApp, client: &Client, forwarded_for: Option<&str>, n: usize) {
    for i in 0..n {
        let res = login(
            app,
            client,
            forwarded_for,
            &format!("nobody-{i}@example.com"),
            "wrong-password",
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "failure {}", i + 1);
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_lockout_through_a_trusted_proxy_stays_with_its_client(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register("user@example.com").await;
    // The proxy (127.0.0.1, trusted by default) forwards for two clients. Whatever the first
    // client wrote itself (left of what the proxy appended) is not believed.
    let proxy = client_from("127.0.0.1");
    let guesser = "6.6.6.6, 198.51.100.1";
    fail_logins(&app, &proxy, Some(guesser), 20).await;
    let res = login(
        &app,
        &proxy,
        Some(guesser),
        "x@example.com",
        "wrong-password",
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the 21st is refused"
    );
    assert_eq!(error_code(res).await, "rate_limited");
    // Locked out even with the right password; the other client behind the same proxy is not,
    // nor is the address the guesser wrote on the left.
    let res = login(&app, &proxy, Some(guesser), "user@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    for other in ["198.51.100.2", "6.6.6.6"] {
        let res = login(&app, &proxy, Some(other), "user@example.com", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "{other}");
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.register("user@example.com").await;
    // 127.0.0.2 is not a trusted proxy: its X-Forwarded-For is ignored, and the lock-out follows
    // the real peer, whatever address it claims each time.
    let forger = client_from("127.0.0.2");
    fail_logins(&app, &forger, Some("198.51.100.7"), 20).await;
    let res = login(
        &app,
        &forger,
        Some("198.51.100.8"),
        "user@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another peer logs in; so does the address the forger claimed, through the real proxy.
    let res = login(
        &app,
        &client_from("127.0.0.3"),
        None,
        "user@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = login(
        &app,
        &client_from("127.0.0.1"),
        Some("198.51.100.7"),
        "user@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn trusted_proxies_none_believes_no_header(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("TRUSTED_PROXIES", "none")]).await;
    app.register("user@example.com").await;
    let proxy = client_from("127.0.0.1");
    fail_logins(&app, &proxy, Some("198.51.100.1"), 20).await;
    // Every client of the loopback "proxy" is 127.0.0.1 now, and 127.0.0.1 is locked out.
    let res = login(
        &app,
        &proxy,
        Some("198.51.100.2"),
        "user@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn over_long_emails_are_refused_before_the_throttle(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("LOGIN_IP_MAX_FAILURES", "3")]).await;
    app.register("user@example.com").await;
    let client = client_from("127.0.0.2");
    for i in 0..10 {
        let email = format!("{i}{}@example.com", "a".repeat(250));
        assert!(email.len() > 254);
        let res = login(&app, &client, None, &email, "wrong-password").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_code(res).await, "validation_error");
    }
    // None of them counted against the address (3 failures would lock it).
    let res = login(&app, &client, None, "user@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    // 254 bytes is still an address that counts.
    let email = format!("{}@example.com", "b".repeat(254 - "@example.com".len()));
    assert_eq!(email.len(), 254);
    for _ in 0..3 {
        let res = login(&app, &client, None, &email, "wrong-password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login(&app, &client, None, "user@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// The handshake's answer: `Ok(())` once upgraded, else the status and body.
async fn handshake(app: &TestApp, origin: Option<&str>) -> Result<(), (u16, String)> {
    let mut req = format!("ws://{}/api/v1/ws", app.addr)
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => Ok(()),
        Err(tungstenite::Error::Http(res)) => Err((
            res.status().as_u16(),
            String::from_utf8_lossy(res.body().as_deref().unwrap_or_default()).into_owned(),
        )),
        Err(e) => panic!("handshake: {e}"),
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_websocket_from_a_foreign_origin_is_refused(pool: PgPool) {
    for mode in ["password", "single_user"] {
        let app = TestApp::spawn_with(
            pool.clone(),
            &[
                ("AUTH_MODE", mode),
                ("CORS_ORIGINS", r#"["http://127.0.0.1:3999"]"#),
            ],
        )
        .await;
        for foreign in [
            "http://evil.example",
            "http://127.0.0.1:3000",
            "null",
            "http://127.0.0.1",
        ] {
            let (status, body) = handshake(&app, Some(foreign)).await.unwrap_err();
            assert_eq!(status, 403, "{mode} {foreign}");
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                body["error"]["code"], "forbidden_origin",
                "{mode} {foreign}"
            );
        }
        // Listed in CORS_ORIGINS, the backend's own origin, or no Origin (not a browser).
        for ok in [
            Some("http://127.0.0.1:3999".to_owned()),
            Some(format!("http://{}", app.addr)),
            None,
        ] {
            handshake(&app, ok.as_deref())
                .await
                .unwrap_or_else(|e| panic!("{mode} {ok:?}: {e:?}"));
        }
    }
}
