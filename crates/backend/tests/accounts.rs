//! Accounts and access: who may register, API tokens and their scopes, disabled accounts cut off
//! mid-WebSocket, password changes and resets, the admin API, per-token rate limits and the
//! `backend user …` commands — against a real PostgreSQL and the real binary.

mod common;

use std::time::Duration;

use common::{TestApp, error_code, json_of};
use futures::{SinkExt, StreamExt};
use protocol::accounts::{AdminUserList, CreatedInvite, CreatedToken, TokenList};
use protocol::live::{CLOSE_UNAUTHORIZED, ServerMessage};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const PASSWORD: &str = "a long enough password";

async fn register(app: &TestApp, email: &str, invite: Option<&str>) -> reqwest::Response {
    let mut body = json!({"email": email, "password": PASSWORD});
    if let Some(i) = invite {
        body["invite"] = json!(i);
    }
    app.client
        .post(app.url("/api/v1/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn new_token(app: &TestApp, login: &str, scopes: &[&str]) -> CreatedToken {
    let res = app
        .post(
            login,
            "/api/v1/tokens",
            json!({"name": "ci", "scopes": scopes, "expires_in_days": 30}),
        )
        .await;
    serde_json::from_value(json_of(res, StatusCode::CREATED).await).unwrap()
}

async fn invite(app: &TestApp, admin: &str, body: Value) -> CreatedInvite {
    let res = app.post(admin, "/api/v1/admin/invites", body).await;
    serde_json::from_value(json_of(res, StatusCode::CREATED).await).unwrap()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn invite_only_registration_and_the_first_admin(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("REGISTRATION", "invite")]).await;
    let cfg = json_of(app.get("", "/api/v1/auth/config").await, StatusCode::OK).await;
    assert_eq!(cfg["registration"], "invite");
    assert_eq!(cfg["providers"], json!([]));
    assert_eq!(cfg["first_account"], true);

    // The first account of an empty database registers without an invite and is an admin.
    let res = register(&app, "root@example.com", None).await;
    let v = json_of(res, StatusCode::CREATED).await;
    assert_eq!(v["user"]["role"], "admin");
    let admin = v["token"].as_str().unwrap().to_owned();
    let cfg = json_of(app.get("", "/api/v1/auth/config").await, StatusCode::OK).await;
    assert_eq!(cfg["first_account"], false);

    // Then nobody without an invite.
    let res = register(&app, "walk-in@example.com", None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "registration_closed");
    let res = register(&app, "walk-in@example.com", Some("made-up")).await;
    assert_eq!(error_code(res).await, "registration_closed");

    // An invite is single-use and makes a member.
    let inv = invite(&app, &admin, json!({})).await;
    assert!(
        inv.url.ends_with(&format!("/login?invite={}", inv.token)),
        "{}",
        inv.url
    );
    let v = json_of(
        register(&app, "guest@example.com", Some(&inv.token)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(v["user"]["role"], "member");
    let member = v["token"].as_str().unwrap().to_owned();
    let res = register(&app, "second@example.com", Some(&inv.token)).await;
    assert_eq!(error_code(res).await, "registration_closed");

    // One bound to an address works for that address only; an admin invite makes an admin.
    let bound = invite(
        &app,
        &admin,
        json!({"email": "ops@example.com", "role": "admin", "expires_in_days": 1}),
    )
    .await;
    let res = register(&app, "other@example.com", Some(&bound.token)).await;
    assert_eq!(error_code(res).await, "registration_closed");
    let v = json_of(
        register(&app, "OPS@example.com", Some(&bound.token)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(v["user"]["role"], "admin");

    // An expired one is refused with why.
    let old = invite(&app, &admin, json!({})).await;
    sqlx::query("UPDATE invites SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(old.invite.id)
        .execute(&pool)
        .await
        .unwrap();
    let res = register(&app, "late@example.com", Some(&old.token)).await;
    let body = res.text().await.unwrap();
    assert!(body.contains("expired"), "{body}");

    // The list shows open invites first, never a token; members cannot see it.
    let list = json_of(
        app.get(&admin, "/api/v1/admin/invites").await,
        StatusCode::OK,
    )
    .await;
    let text = list.to_string();
    assert!(!text.contains(&inv.token) && !text.contains(&old.token));
    assert_eq!(list["invites"].as_array().unwrap().len(), 3);
    let res = app.get(&member, "/api/v1/admin/invites").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(res).await, "insufficient_scope");
    let res = app
        .send(
            &admin,
            Method::DELETE,
            &format!("/api/v1/admin/invites/{}", old.invite.id),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // Weak passwords are refused with a code of their own.
    let fresh = invite(&app, &admin, json!({})).await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "w@example.com", "password": "Password123", "invite": fresh.token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(res).await, "weak_password");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn open_and_closed_registration(pool: PgPool) {
    let open = TestApp::spawn_with(pool.clone(), &[("REGISTRATION", "open")]).await;
    let first = json_of(
        register(&open, "a@example.com", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["user"]["role"], "admin");
    let second = json_of(
        register(&open, "b@example.com", None).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["user"]["role"], "member");

    let closed = TestApp::spawn_with(pool, &[("REGISTRATION", "closed")]).await;
    let res = register(&closed, "c@example.com", None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("registration_closed") && body.contains("closed"),
        "{body}"
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn concurrent_first_registrations_make_one_admin(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("REGISTRATION", "open")]).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/register");
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": format!("u{i}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(admins, 1);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn api_tokens_act_within_their_scopes(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let admin = app.register("admin@example.com").await;
    let alice = app.register("alice@example.com").await;
    let (session, _run) = app.task(&alice, "hello", None).await;

    // Created once, listed without the token, with its prefix.
    let read = new_token(&app, &alice, &["sessions:read"]).await;
    assert!(read.token.starts_with("wc_") && read.token.len() == 46);
    assert!(read.token.starts_with(&read.info.prefix));
    let list: TokenList = serde_json::from_value(
        json_of(app.get(&alice, "/api/v1/tokens").await, StatusCode::OK).await,
    )
    .unwrap();
    assert_eq!(list.tokens.len(), 1);
    assert!(list.tokens[0].last_used_at.is_none());
    assert!(!serde_json::to_string(&list).unwrap().contains(&read.token));
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM api_tokens WHERE prefix = $1")
        .bind(&read.info.prefix)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    let dump = test_support::postgres::dump(&pool).await;
    assert!(
        !dump.contains(&read.token[3..]),
        "the token is stored in clear"
    );

    // A sessions:read token reads, and cannot create tasks (403), download files or mint tokens.
    let res = app.get(&read.token, "/api/v1/sessions").await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .get(&read.token, &format!("/api/v1/sessions/{session}"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post(&read.token, "/api/v1/tasks", json!({"prompt": "no"}))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("insufficient_scope") && body.contains("tasks:write"),
        "{body}"
    );
    let res = app
        .get(
            &read.token,
            &format!("/api/v1/runs/{}/files", Uuid::new_v4()),
        )
        .await;
    assert_eq!(error_code(res).await, "insufficient_scope");
    let res = app
        .post(
            &read.token,
            "/api/v1/tokens",
            json!({"name": "x", "scopes": ["sessions:read"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let me = json_of(
        app.get(&read.token, "/api/v1/auth/me").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["scopes"], json!(["sessions:read"]));
    assert_eq!(me["user"]["email"], "alice@example.com");

    // A tasks:write token creates tasks; another user's session is still not found.
    let write = new_token(&app, &alice, &["tasks:write", "sessions:read"]).await;
    let res = app
        .post(&write.token, "/api/v1/tasks", json!({"prompt": "yes"}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (other_session, _) = app.task(&admin, "admin's", None).await;
    let res = app
        .get(&write.token, &format!("/api/v1/sessions/{other_session}"))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Use is recorded.
    let list: TokenList = serde_json::from_value(
        json_of(app.get(&alice, "/api/v1/tokens").await, StatusCode::OK).await,
    )
    .unwrap();
    let used = list.tokens.iter().find(|t| t.id == read.info.id).unwrap();
    assert!(used.last_used_at.is_some());

    // A member cannot hold `admin`; an admin can, and uses the admin API with it.
    let res = app
        .post(
            &alice,
            "/api/v1/tokens",
            json!({"name": "x", "scopes": ["admin"]}),
        )
        .await;
    assert_eq!(error_code(res).await, "insufficient_scope");
    let adm = new_token(&app, &admin, &["admin"]).await;
    let users: AdminUserList = serde_json::from_value(
        json_of(
            app.get(&adm.token, "/api/v1/admin/users").await,
            StatusCode::OK,
        )
        .await,
    )
    .unwrap();
    assert_eq!(users.users.len(), 2);
    // ...but an admin-only token does not read sessions.
    let res = app.get(&adm.token, "/api/v1/sessions").await;
    assert_eq!(error_code(res).await, "insufficient_scope");

    // Bad input: clear 422s.
    for body in [
        json!({"name": "", "scopes": ["sessions:read"]}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["root"]}),
        json!({"name": "x", "scopes": ["sessions:read"], "expires_in_days": 0}),
        json!({"name": "x", "scopes": ["sessions:read"], "expires_in_days": 100000}),
    ] {
        let res = app.post(&alice, "/api/v1/tokens", body.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }

    // Revoked: refused on the very next request. Another user's token is not found.
    let res = app
        .send(
            &admin,
            Method::DELETE,
            &format!("/api/v1/tokens/{}", read.info.id),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .send(
            &alice,
            Method::DELETE,
            &format!("/api/v1/tokens/{}", read.info.id),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get(&read.token, "/api/v1/sessions").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "unauthorized");

    // Expired: refused too.
    sqlx::query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(write.info.id)
        .execute(&pool)
        .await
        .unwrap();
    let res = app.get(&write.token, "/api/v1/sessions").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A made-up token of the right shape, too.
    let res = app
        .get(&format!("wc_{}", "A".repeat(43)), "/api/v1/sessions")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket authenticated by its first message; waits for `ready`.
async fn socket(app: &TestApp, token: &str) -> Ws {
    let url = format!("ws://{}/api/v1/ws", app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "auth", "token": token}).to_string().into(),
    ))
    .await
    .unwrap();
    match next_frame(&mut ws).await {
        Message::Text(t) => {
            let m: ServerMessage = serde_json::from_str(&t).unwrap();
            assert!(matches!(m, ServerMessage::Ready { .. }), "{t}");
        }
        other => panic!("expected ready, got {other:?}"),
    }
    ws
}

async fn next_frame(ws: &mut Ws) -> Message {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("a frame");
        if !matches!(m, Message::Ping(_) | Message::Pong(_)) {
            return m;
        }
    }
}

/// Waits for the socket to be closed with `code`; other messages are skipped.
async fn closed_with(ws: &mut Ws, code: u16) -> String {
    loop {
        match next_frame(ws).await {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), code, "{}", frame.reason);
                return frame.reason.to_string();
            }
            Message::Close(None) => panic!("closed without a code"),
            _ => continue,
        }
    }
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_disabled_user_is_cut_off_everywhere_at_once(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let admin = app.register("admin@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bob_id = app.user_id("bob@example.com").await;
    let pat = new_token(&app, &bob, &["tasks:write", "sessions:read"]).await;
    let (session, queued) = app.task(&bob, "first", None).await;
    let (_, follow_up) = app.task(&bob, "second", Some(session)).await;
    let mut ws_pat = socket(&app, &pat.token).await;
    let mut ws_login = socket(&app, &bob).await;

    // An admin cannot disable themselves.
    let admin_id = app.user_id("admin@example.com").await;
    let res = app
        .send(
            &admin,
            Method::PATCH,
            &format!("/api/v1/admin/users/{admin_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // A member cannot disable anybody.
    let res = app
        .send(
            &bob,
            Method::PATCH,
            &format!("/api/v1/admin/users/{admin_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app
        .send(
            &admin,
            Method::PATCH,
            &format!("/api/v1/admin/users/{bob_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    let view = json_of(res, StatusCode::OK).await;
    assert_eq!(view["disabled"], true);

    // Both open sockets are closed as unauthorized, promptly.
    let reason = closed_with(&mut ws_pat, CLOSE_UNAUTHORIZED).await;
    assert!(reason.contains("disabled"), "{reason}");
    closed_with(&mut ws_login, CLOSE_UNAUTHORIZED).await;
    // Every credential stops at once; a login is refused with why; the runs are canceled.
    for token in [&bob, &pat.token] {
        let res = app.get(token, "/api/v1/sessions").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(error_code(res).await, "account_disabled");
    }
    let res = login(&app, "bob@example.com", "password-123").await;
    assert_eq!(error_code(res).await, "account_disabled");
    assert_eq!(app.run_status(queued).await, "canceled");
    assert_eq!(app.run_status(follow_up).await, "canceled");
    // A new socket is refused.
    let url = format!("ws://{}/api/v1/ws", app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "auth", "token": pat.token})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    closed_with(&mut ws, CLOSE_UNAUTHORIZED).await;

    // Enabled again: the same tokens work.
    let res = app
        .send(
            &admin,
            Method::PATCH,
            &format!("/api/v1/admin/users/{bob_id}"),
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(json_of(res, StatusCode::OK).await["disabled"], false);
    assert_eq!(
        app.get(&pat.token, "/api/v1/sessions").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&bob, "/api/v1/sessions").await.status(),
        StatusCode::OK
    );

    // Unknown user: 404; bad body: 422.
    let res = app
        .send(
            &admin,
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", Uuid::new_v4()),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .send(
            &admin,
            Method::PATCH,
            &format!("/api/v1/admin/users/{bob_id}"),
            Some(json!({"role": "root"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_revoked_token_closes_its_socket(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let carol = app.register("carol@example.com").await;
    let pat = new_token(&app, &carol, &["sessions:read"]).await;
    let other = new_token(&app, &carol, &["sessions:read"]).await;
    let mut ws = socket(&app, &pat.token).await;
    let mut ws_other = socket(&app, &other.token).await;
    let res = app
        .send(
            &carol,
            Method::DELETE,
            &format!("/api/v1/tokens/{}", pat.info.id),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    closed_with(&mut ws, CLOSE_UNAUTHORIZED).await;
    // The other token's socket stays open: it still answers a ping.
    ws_other.send(Message::Ping(vec![7].into())).await.unwrap();
    match next_frame_or_pong(&mut ws_other).await {
        Message::Pong(p) => assert_eq!(&p[..], &[7]),
        other => panic!("{other:?}"),
    }
    // A token without sessions:read cannot open a socket.
    let write_only = new_token(&app, &carol, &["tasks:write"]).await;
    let url = format!("ws://{}/api/v1/ws", app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "auth", "token": write_only.token})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let reason = closed_with(&mut ws, CLOSE_UNAUTHORIZED).await;
    assert!(reason.contains("sessions:read"), "{reason}");
}

async fn next_frame_or_pong(ws: &mut Ws) -> Message {
    tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a frame within 10 s")
        .expect("open")
        .expect("a frame")
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn changing_the_password_revokes_the_other_tokens(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let dave = app.register("dave@example.com").await;
    let laptop = token_of_login(&app, "dave@example.com", "password-123").await;
    let pat = new_token(&app, &dave, &["sessions:read"]).await;

    // Wrong current password, weak new one: refused, nothing changes.
    let res = app
        .post(
            &dave,
            "/api/v1/auth/password",
            json!({"current_password": "nope-nope", "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .post(
            &dave,
            "/api/v1/auth/password",
            json!({"current_password": "password-123", "new_password": "12345678"}),
        )
        .await;
    assert_eq!(error_code(res).await, "weak_password");
    assert_eq!(
        app.get(&laptop, "/api/v1/sessions").await.status(),
        StatusCode::OK
    );
    // An API token cannot change the password.
    let res = app
        .post(
            &pat.token,
            "/api/v1/auth/password",
            json!({"current_password": "password-123", "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(error_code(res).await, "insufficient_scope");

    let res = app
        .post(
            &dave,
            "/api/v1/auth/password",
            json!({"current_password": "password-123", "new_password": PASSWORD}),
        )
        .await;
    let fresh = json_of(res, StatusCode::OK).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for old in [&dave, &laptop, &pat.token] {
        assert_eq!(
            app.get(old, "/api/v1/sessions").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.get(&fresh, "/api/v1/sessions").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        login(&app, "dave@example.com", "password-123")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "dave@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn token_of_login(app: &TestApp, email: &str, password: &str) -> String {
    let v = json_of(login(app, email, password).await, StatusCode::OK).await;
    v["token"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn an_admin_reset_link_works_once(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("PUBLIC_URL", "https://workcell.example.org/")]).await;
    let admin = app.register("admin@example.com").await;
    let erin = app.register("erin@example.com").await;
    let erin_id = app.user_id("erin@example.com").await;
    let res = app
        .post(
            &admin,
            &format!("/api/v1/admin/users/{erin_id}/password-reset"),
            json!({}),
        )
        .await;
    let link = json_of(res, StatusCode::CREATED).await;
    let token = link["token"].as_str().unwrap().to_owned();
    assert_eq!(
        link["url"],
        format!("https://workcell.example.org/login?reset={token}")
    );
    let reset = |password: &str| {
        let body = json!({"token": token, "password": password});
        let req = app
            .client
            .post(app.url("/api/v1/auth/reset-password"))
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(error_code(reset("short").await).await, "weak_password");
    assert_eq!(reset(PASSWORD).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        reset("another long password").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&erin, "/api/v1/sessions").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "erin@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
    let res = app
        .post(
            &admin,
            &format!("/api/v1/admin/users/{}/password-reset", Uuid::new_v4()),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn admins_see_each_users_usage(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let admin = app.register("admin@example.com").await;
    let frank = app.register("frank@example.com").await;
    let (_, r1) = app.task(&frank, "one", None).await;
    let (_, r2) = app.task(&frank, "two", None).await;
    for (run, input, output, cost) in [(r1, 100, 20, 0.25), (r2, 50, 5, 0.5)] {
        sqlx::query("INSERT INTO run_usage VALUES ($1, $2, $3, 0, 0, $4, 1000, 1)")
            .bind(run)
            .bind(input as i64)
            .bind(output as i64)
            .bind(cost)
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE runs SET status = 'failed', finished_at = now() WHERE id = $1")
        .bind(r2)
        .execute(&pool)
        .await
        .unwrap();
    let users: AdminUserList = serde_json::from_value(
        json_of(app.get(&admin, "/api/v1/admin/users").await, StatusCode::OK).await,
    )
    .unwrap();
    let f = users
        .users
        .iter()
        .find(|u| u.email == "frank@example.com")
        .unwrap();
    assert_eq!(f.usage.runs, 2);
    assert_eq!(f.usage.failed_runs, 1);
    assert_eq!(f.usage.input_tokens, 150);
    assert_eq!(f.usage.output_tokens, 25);
    assert!((f.usage.cost_usd - 0.75).abs() < 1e-9);
    let a = users
        .users
        .iter()
        .find(|u| u.email == "admin@example.com")
        .unwrap();
    assert_eq!(a.usage.runs, 0);
    assert_eq!(a.role, protocol::accounts::Role::Admin);

    // Promote, then the new admin sees the admin API; demoted, they do not.
    let frank_id = app.user_id("frank@example.com").await;
    let path = format!("/api/v1/admin/users/{frank_id}");
    let res = app
        .send(&admin, Method::PATCH, &path, Some(json!({"role": "admin"})))
        .await;
    assert_eq!(json_of(res, StatusCode::OK).await["role"], "admin");
    assert_eq!(
        app.get(&frank, "/api/v1/admin/users").await.status(),
        StatusCode::OK
    );
    let res = app
        .send(
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get(&frank, "/api/v1/admin/users").await.status(),
        StatusCode::FORBIDDEN
    );
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn rate_limits_apply_per_token(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[("RATE_LIMIT_PER_MINUTE", "6"), ("RATE_LIMIT_BURST", "3")],
    )
    .await;
    let gina = app.register("gina@example.com").await;
    let a = new_token(&app, &gina, &["sessions:read"]).await;
    let b = new_token(&app, &gina, &["sessions:read"]).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.get(&a.token, "/api/v1/sessions").await.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // The other token of the same user has a bucket of its own.
    assert_eq!(
        app.get(&b.token, "/api/v1/sessions").await.status(),
        StatusCode::OK
    );
}

/// Runs `backend args…` with `stdin` against `pool`; (success, stdout, stderr).
async fn backend(pool: &PgPool, args: &[&str], stdin: &str) -> (bool, String, String) {
    let cmd = common::binary(pool, args, &[("PUBLIC_URL", "https://wc.example.org")]);
    common::run_with_stdin(cmd, stdin).await
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_operator_manages_accounts_from_the_command_line(pool: PgPool) {
    let (ok, out, err) = backend(&pool, &["migrate"], "").await;
    assert!(ok && out.contains("migrations"), "{out}{err}");
    let (ok, out, err) = backend(
        &pool,
        &["user", "create", "--email", "ops@example.com", "--admin"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("created ops@example.com (admin)"), "{out}");
    assert!(!out.contains(PASSWORD) && !err.contains(PASSWORD));

    // The account signs in with the piped password, and is an admin.
    let app = TestApp::spawn_with(pool.clone(), &[("REGISTRATION", "closed")]).await;
    let v = json_of(
        login(&app, "ops@example.com", PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["user"]["role"], "admin");

    // Weak passwords and duplicates: one line, non-zero.
    for (args, stdin) in [
        (
            vec!["user", "create", "--email", "x@example.com"],
            "password\n",
        ),
        (
            vec!["user", "create", "--email", "ops@example.com"],
            "another long password\n",
        ),
        (
            vec!["user", "create", "--email", "not-an-address"],
            "another long password\n",
        ),
        (
            vec!["user", "reset-password", "--email", "nobody@example.com"],
            "",
        ),
        (vec!["user", "frobnicate"], ""),
        (vec!["user", "create"], ""),
    ] {
        let (ok, out, err) = backend(&pool, &args, stdin).await;
        assert!(!ok, "{args:?}: {out}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }

    // A reset link from the command line, used through the API.
    let (ok, out, err) = backend(
        &pool,
        &["user", "reset-password", "--email", "ops@example.com"],
        "",
    )
    .await;
    assert!(ok, "{err}");
    let url = out.trim();
    let token = url
        .strip_prefix("https://wc.example.org/login?reset=")
        .unwrap_or_else(|| panic!("{url}"));
    let res = app
        .client
        .post(app.url("/api/v1/auth/reset-password"))
        .json(&json!({"token": token, "password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        login(&app, "ops@example.com", "a brand new password")
            .await
            .status(),
        StatusCode::OK
    );

    // Disable and list.
    let (ok, _, err) = backend(
        &pool,
        &["user", "create", "--email", "m@example.com"],
        "member password 1\n",
    )
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = backend(&pool, &["user", "disable", "--email", "m@example.com"], "").await;
    assert!(ok, "{err}");
    let (ok, out, err) = backend(&pool, &["user", "list"], "").await;
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("ops@example.com\tadmin\tenabled\t0 runs"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("m@example.com\tmember\tdisabled"),
        "{out}"
    );
    let res = login(&app, "m@example.com", "member password 1").await;
    assert_eq!(error_code(res).await, "account_disabled");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn the_single_user_is_the_operator(pool: PgPool) {
    // The implicit user of single-user mode acts as an admin, but is not an account: never listed.
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_MODE", "single_user")]).await;
    let me = json_of(app.get("", "/api/v1/auth/me").await, StatusCode::OK).await;
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["scopes"].as_array().unwrap().len(), 4);
    let users = json_of(app.get("", "/api/v1/admin/users").await, StatusCode::OK).await;
    assert_eq!(users["users"], json!([]));
    // Accounts and tokens are not a thing in single-user mode.
    let res = app
        .post(
            "",
            "/api/v1/tokens",
            json!({"name": "x", "scopes": ["sessions:read"]}),
        )
        .await;
    assert_eq!(error_code(res).await, "single_user_mode");
}
