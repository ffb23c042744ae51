//! Auth, ownership and hostile input on the public and internal APIs.

mod common;

use common::{INTERNAL_TOKEN, TestApp, error_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn register_login_me_logout(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("Ada@Example.com").await;
    let me: Value = app
        .get(&token, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["email"], "Ada@Example.com");
    assert_eq!(me["auth_mode"], "password");

    // Same address in another case: taken.
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "email_taken");

    let wrong = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "who@example.com", "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    // Login sets an httpOnly cookie that authenticates on its own.
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let res = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header(reqwest::header::COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Logout revokes the token.
    let res = app.post(&token, "/api/v1/auth/logout", json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get(&token, "/api/v1/auth/me").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn without_a_valid_token_everything_is_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for path in [
        "/api/v1/sessions",
        "/api/v1/auth/me",
        &format!("/api/v1/runs/{}", Uuid::new_v4()),
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(res).await, "unauthorized");
        let res = app.get("garbage.token.here", path).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // A token signed with another key.
    let forged = backend::auth::token::TokenKeys::new("some-other-secret-key-123456", 1)
        .issue(Uuid::new_v4(), 0)
        .unwrap()
        .0;
    assert_eq!(
        app.get(&forged, "/api/v1/sessions").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = app
        .client
        .post(app.url("/api/v1/tasks"))
        .json(&json!({"prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn internal_routes_need_the_internal_token(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let run = Uuid::new_v4();
    for path in [
        "/runs/claim".to_owned(),
        format!("/runs/{run}/heartbeat"),
        format!("/runs/{run}/start"),
        format!("/runs/{run}/events"),
        format!("/runs/{run}/complete"),
        format!("/runs/{run}/fail"),
    ] {
        let url = app.url(&format!("/api/v1/internal{path}"));
        let res = app.client.post(&url).json(&json!({})).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(res).await, "unauthorized");
        let res = app
            .client
            .post(&url)
            .header("x-internal-token", format!("{INTERNAL_TOKEN}x"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // A user's login token is not an internal token.
    let token = app.register("a@example.com").await;
    let res = app
        .client
        .post(app.url("/api/v1/internal/runs/claim"))
        .bearer_auth(&token)
        .json(&json!({"worker_id": "w", "lease_seconds": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn another_users_session_and_run_are_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.register("alice@example.com").await;
    let bob = app.register("bob@example.com").await;
    let (session, run) = app.task(&alice, "alice's task", None).await;
    for path in [
        format!("/api/v1/sessions/{session}"),
        format!("/api/v1/sessions/{session}/events"),
        format!("/api/v1/runs/{run}"),
    ] {
        let res = app.get(&bob, &path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(res).await, "not_found");
        assert_eq!(
            app.get(&alice, &path).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let res = app
        .post(
            &bob,
            &format!("/api/v1/sessions/{session}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .post(
            &bob,
            "/api/v1/tasks",
            json!({"prompt": "hijack", "session_id": session}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/sessions/{session}")))
        .bearer_auth(&bob)
        .json(&json!({"title": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/sessions/{session}")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let list: Value = app
        .get(&bob, "/api/v1/sessions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["sessions"].as_array().unwrap().len(), 0);
    // Alice's session is untouched.
    let detail: Value = app
        .get(&alice, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["title"], "alice's task");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn sessions_list_newest_first_with_pages_rename_and_delete(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.task(&token, &format!("task {i}"), None).await.0);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/sessions?limit=2&cursor={c}"),
            None => "/api/v1/sessions?limit=2".to_owned(),
        };
        let page: Value = app.get(&token, &path).await.json().await.unwrap();
        for s in page["sessions"].as_array().unwrap() {
            seen.push(s["id"].as_str().unwrap().parse::<Uuid>().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);

    let res = app
        .client
        .patch(app.url(&format!("/api/v1/sessions/{}", ids[0])))
        .bearer_auth(&token)
        .json(&json!({"title": "Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let s: Value = res.json().await.unwrap();
    assert_eq!(s["title"], "Renamed");
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/sessions/{}", ids[0])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&token, &format!("/api/v1/sessions/{}", ids[0]))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn hostile_input_gets_json_4xx_and_the_server_keeps_serving(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.register("a@example.com").await;
    let tasks = app.url("/api/v1/tasks");
    let send = |body: &'static str, ct: &'static str| {
        app.client
            .post(&tasks)
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let cases: Vec<(reqwest::Response, StatusCode, &str)> = vec![
        (
            send("{not json", "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            send(r#"{"prompt": 42}"#, "application/json").await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            send(
                r#"{"prompt": "x", "permission_mode": "god"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            send(r#"{"prompt": "x", "extra": 1}"#, "application/json")
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            send(r#"{"prompt": "   "}"#, "application/json")
                .await
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            send(r#"{"prompt": "x"}"#, "text/plain").await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            send(
                r#"{"prompt": "x", "session_id": "not-a-uuid"}"#,
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
    ];
    for (res, status, code) in cases {
        assert_eq!(res.status(), status);
        assert_eq!(error_code(res).await, code);
    }
    // Oversized body.
    let big = format!(r#"{{"prompt": "{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let res = app
        .client
        .post(&tasks)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(res).await, "payload_too_large");
    // A non-UUID in a path, unknown ids, unknown routes, wrong methods, bad query strings.
    for (path, status, code) in [
        (
            "/api/v1/sessions/not-a-uuid",
            StatusCode::BAD_REQUEST,
            "invalid_path",
        ),
        ("/api/v1/runs/123", StatusCode::BAD_REQUEST, "invalid_path"),
        (
            &*format!("/api/v1/sessions/{}", Uuid::new_v4()),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &*format!("/api/v1/runs/{}", Uuid::new_v4()),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/api/v1/nowhere", StatusCode::NOT_FOUND, "route_not_found"),
        (
            "/api/v1/sessions?limit=abc",
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "/api/v1/sessions?limit=100000",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
        ),
        (
            "/api/v1/sessions?cursor=bogus",
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
    ] {
        let res = app.get(&token, path).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(error_code(res).await, code, "{path}");
    }
    let res = app
        .client
        .put(app.url("/api/v1/tasks"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(res).await, "method_not_allowed");
    // Internal: malformed claim.
    let res = app
        .internal(
            "/runs/claim",
            json!({"worker_id": "w", "lease_seconds": "long"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .internal("/runs/claim", json!({"worker_id": "w", "lease_seconds": 0}))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .internal(
            "/runs/claim",
            json!({"worker_id": "w", "lease_seconds": 30, "wait_seconds": 100000}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Still serving.
    let (_, run) = app.task(&token, "still fine", None).await;
    assert_eq!(
        app.get(&token, &format!("/api/v1/runs/{run}"))
            .await
            .status(),
        StatusCode::OK
    );
    let health: Value = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "healthy", "service": "backend"}));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn single_user_mode_needs_no_login(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("AUTH_MODE", "single_user")]).await;
    let res = app
        .client
        .post(app.url("/api/v1/tasks"))
        .json(&json!({"prompt": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let me: Value = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["auth_mode"], "single_user");
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "x@example.com", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn health_endpoints(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for (path, status) in [
        ("/health", "healthy"),
        ("/health/live", "alive"),
        ("/health/ready", "ready"),
        ("/api/v1/health", "healthy"),
        ("/api/v1/health/live", "alive"),
        ("/api/v1/health/ready", "ready"),
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().contains_key("x-request-id"));
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["status"], status);
        assert_eq!(v["service"], "backend");
    }
    // A caller's request id is echoed back.
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
}

/// The login's settings act on what a sign-in hands out: `COOKIE_SECURE` marks the cookie
/// `Secure` (not by default), `AUTH_TOKEN_TTL_HOURS` is the lifetime of the token and of the
/// cookie (168 hours by default), and `SECRET_KEY` signs the token: a backend with another key
/// refuses it, one with the same key accepts it.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_login_cookie_and_token_follow_their_settings(pool: PgPool) {
    async fn register(app: &TestApp, email: &str) -> (Vec<String>, Value) {
        let res = app
            .client
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"email": email, "password": "password-123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let cookie: Vec<String> = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .map(|p| p.trim().to_owned())
            .collect();
        assert!(cookie[0].starts_with("workcell_token="), "{cookie:?}");
        (cookie, res.json().await.unwrap())
    }
    fn secure(cookie: &[String]) -> bool {
        cookie.iter().any(|p| p.eq_ignore_ascii_case("secure"))
    }
    fn lifetime(body: &Value) -> chrono::Duration {
        let expires: chrono::DateTime<chrono::Utc> =
            body["expires_at"].as_str().unwrap().parse().unwrap();
        expires - chrono::Utc::now()
    }

    // The defaults.
    let app = TestApp::spawn(pool.clone()).await;
    let (cookie, body) = register(&app, "plain@example.com").await;
    assert!(!secure(&cookie), "{cookie:?}");
    assert!(cookie.contains(&"Max-Age=604800".to_owned()), "{cookie:?}");
    let left = lifetime(&body);
    assert!(
        left > chrono::Duration::hours(167) && left <= chrono::Duration::hours(168),
        "{left}"
    );
    let token = body["token"].as_str().unwrap().to_owned();
    drop(app);

    // COOKIE_SECURE=true and AUTH_TOKEN_TTL_HOURS=2; the same SECRET_KEY as above.
    let app = TestApp::spawn_with(
        pool.clone(),
        &[("COOKIE_SECURE", "true"), ("AUTH_TOKEN_TTL_HOURS", "2")],
    )
    .await;
    let (cookie, body) = register(&app, "secure@example.com").await;
    assert!(secure(&cookie), "{cookie:?}");
    assert!(cookie.contains(&"Max-Age=7200".to_owned()), "{cookie:?}");
    let left = lifetime(&body);
    assert!(
        left > chrono::Duration::minutes(119) && left <= chrono::Duration::hours(2),
        "{left}"
    );
    let res = app.get(&token, "/api/v1/auth/me").await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "same SECRET_KEY: the token holds"
    );
    drop(app);

    // Another SECRET_KEY: the tokens the first key signed are refused, its own are accepted.
    let app = TestApp::spawn_with(
        pool,
        &[("SECRET_KEY", "another-secret-key-0123456789abcdef")],
    )
    .await;
    let res = app.get(&token, "/api/v1/auth/me").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "unauthorized");
    let (_, body) = register(&app, "fresh@example.com").await;
    let res = app
        .get(body["token"].as_str().unwrap(), "/api/v1/auth/me")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}
