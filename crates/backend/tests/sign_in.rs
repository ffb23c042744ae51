//! Signing in through an identity provider: a small OpenID Connect provider and a GitHub
//! stand-in, started by the test itself on loopback with signing keys made at test time, drive
//! the real authorization-code flow through the backend (start → provider → callback) with
//! redirects followed by hand, as a browser would.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{TestApp, json_of};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

const CLIENT_ID: &str = "workcell-test";
const CLIENT_SECRET: &str = "client-secret-of-the-test-provider";
/// Where the browser reaches the UI; the test maps it onto the backend.
const PUBLIC_URL: &str = "http://workcell.test";

/// What the provider says about the next person to sign in, and how it misbehaves.
#[derive(Clone)]
struct Person {
    sub: String,
    email: String,
    email_verified: bool,
    /// Replaces the nonce the backend sent.
    nonce: Option<String>,
    /// Seconds added to the ID token's expiry (negative: already expired).
    exp_in: i64,
    /// Sign with a key the provider does not publish (same key id).
    foreign_key: bool,
    /// Sign with HS256 and the client secret (an algorithm-confusion attempt).
    hmac: bool,
    /// GitHub: the e-mails the API lists.
    github_emails: Vec<Value>,
}

fn person(sub: &str, email: &str) -> Person {
    Person {
        sub: sub.into(),
        email: email.into(),
        email_verified: true,
        nonce: None,
        exp_in: 300,
        foreign_key: false,
        hmac: false,
        github_emails: vec![json!({"email": email, "primary": true, "verified": true})],
    }
}

struct Pending {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Provider {
    issuer: String,
    key: EncodingKey,
    foreign: EncodingKey,
    jwk: Value,
    next: Mutex<Person>,
    codes: Mutex<HashMap<String, Pending>>,
    tokens: Mutex<HashMap<String, Person>>,
}

/// An ES256 key made now: the signing key and its public JWK.
fn es256_key(kid: &str) -> (EncodingKey, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let public = pair.public_key().as_ref();
    assert_eq!(public.len(), 65);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
    });
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// Starts the provider; returns its base URL and its state.
async fn start_provider() -> (String, Arc<Provider>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (key, jwk) = es256_key("k1");
    let (foreign, _) = es256_key("k1");
    let p = Arc::new(Provider {
        issuer: base.clone(),
        key,
        foreign,
        jwk,
        next: Mutex::new(person("nobody", "nobody@example.com")),
        codes: Mutex::new(HashMap::new()),
        tokens: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(github_token))
        .route("/user", get(github_user))
        .route("/user/emails", get(github_emails))
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, p)
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/authorize", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "jwks_uri": format!("{}/jwks", p.issuer),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(json!({"keys": [p.jwk]}))
}

/// Consents at once: back to the client with a code (after checking what a provider checks).
async fn authorize(
    State(p): State<Arc<Provider>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    let code = random();
    p.codes.lock().unwrap().insert(
        code.clone(),
        Pending {
            nonce: q.get("nonce").cloned().unwrap_or_default(),
            challenge: q["code_challenge"].clone(),
            redirect_uri: q["redirect_uri"].clone(),
        },
    );
    Redirect::to(&format!(
        "{}?code={code}&state={}",
        q["redirect_uri"], q["state"]
    ))
    .into_response()
}

/// The client's credentials (Basic) and the code with its PKCE verifier; the error is the
/// answer to send.
#[allow(clippy::result_large_err)]
fn redeem(
    p: &Provider,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Pending, Response> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if basic.as_deref() != Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}")) {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response());
    }
    let pending = p.codes.lock().unwrap().remove(&form["code"]);
    let Some(pending) = pending else {
        return Err((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response());
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(form["code_verifier"].as_bytes()));
    if challenge != pending.challenge || form["redirect_uri"] != pending.redirect_uri {
        return Err((
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response());
    }
    Ok(pending)
}

async fn token(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    assert_eq!(form["grant_type"], "authorization_code");
    let pending = match redeem(&p, &headers, &form) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = p.next.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": p.issuer, "aud": CLIENT_ID, "sub": who.sub,
        "iat": now, "exp": now + who.exp_in,
        "nonce": who.nonce.clone().unwrap_or(pending.nonce),
        "email": who.email, "email_verified": who.email_verified,
    });
    let id_token = if who.hmac {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
        )
    } else {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        let key = if who.foreign_key { &p.foreign } else { &p.key };
        jsonwebtoken::encode(&header, &claims, key)
    }
    .unwrap();
    Json(json!({"access_token": random(), "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}

async fn github_token(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = redeem(&p, &headers, &form) {
        return r;
    }
    let access = random();
    let who = p.next.lock().unwrap().clone();
    p.tokens.lock().unwrap().insert(access.clone(), who);
    Json(json!({"access_token": access, "token_type": "bearer", "scope": "read:user,user:email"}))
        .into_response()
}

fn github_person(p: &Provider, headers: &HeaderMap) -> Option<Person> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    p.tokens.lock().unwrap().get(token).cloned()
}

async fn github_user(State(p): State<Arc<Provider>>, headers: HeaderMap) -> Response {
    match github_person(&p, &headers) {
        Some(who) => {
            Json(json!({"id": who.sub.parse::<u64>().unwrap(), "login": "octo"})).into_response()
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn github_emails(State(p): State<Arc<Provider>>, headers: HeaderMap) -> Response {
    match github_person(&p, &headers) {
        Some(who) => Json(Value::Array(who.github_emails)).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// A browser: keeps cookies by hand, follows redirects one at a time, and maps `PUBLIC_URL`
/// onto the backend.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

/// Where a sign-in ended: the UI (signed in) or the login page with an error.
#[derive(Debug)]
enum Landing {
    SignedIn,
    Refused(String),
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let url = url.replace(PUBLIC_URL, &self.app.base);
        let mut req = self.client.get(&url);
        if url.starts_with(&self.app.base) && !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header("cookie", header.join("; "));
        }
        let res = req.send().await.unwrap();
        if url.starts_with(&self.app.base) {
            for c in res.headers().get_all("set-cookie") {
                let c = c.to_str().unwrap();
                let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
                let (k, v) = pair.split_once('=').unwrap();
                if v.is_empty() || attrs.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        res
    }

    /// Follows redirects from `path` (on the backend) until it lands on the UI.
    async fn sign_in(&mut self, path: &str) -> Landing {
        let mut url = format!("{}{path}", self.app.base);
        for _ in 0..5 {
            let res = self.get(&url).await;
            assert!(res.status().is_redirection(), "{url}: {}", res.status());
            let to = res.headers()["location"].to_str().unwrap().to_owned();
            if let Some(rest) = to.strip_prefix(&format!("{PUBLIC_URL}/login?error=")) {
                let u = reqwest::Url::parse(&format!("http://x/?e={rest}")).unwrap();
                let msg = u.query_pairs().next().unwrap().1.into_owned();
                return Landing::Refused(msg);
            }
            if to == format!("{PUBLIC_URL}/") {
                return Landing::SignedIn;
            }
            url = to;
        }
        panic!("too many redirects");
    }

    /// Who the login cookie says this is.
    async fn me(&mut self) -> Value {
        let res = self.get(&format!("{}/api/v1/auth/me", self.app.base)).await;
        json_of(res, StatusCode::OK).await
    }
}

fn set(p: &Provider, who: Person) {
    *p.next.lock().unwrap() = who;
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn openid_connect_sign_in_checks_everything_it_is_given(pool: PgPool) {
    let (issuer, idp) = start_provider().await;
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("OIDC_ISSUER", &issuer),
            ("OIDC_CLIENT_ID", CLIENT_ID),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("OIDC_ALLOWED_DOMAINS", "example.com, Example.org"),
            ("OIDC_DISPLAY_NAME", "Test IdP"),
            ("PUBLIC_URL", PUBLIC_URL),
            ("REGISTRATION", "open"),
        ],
    )
    .await;
    let cfg = json_of(app.get("", "/api/v1/auth/config").await, StatusCode::OK).await;
    assert_eq!(
        cfg["providers"],
        json!([{"id": "oidc", "name": "Test IdP", "start_path": "/auth/oidc/start"}])
    );
    let admin = app.register("admin@example.com").await;
    app.register("alice@example.com").await;

    // A new person: an account is made (a member), and the login cookie works.
    set(&idp, person("sub-new", "new@example.org"));
    let mut b = Browser::new(&app);
    assert!(matches!(
        b.sign_in("/api/v1/auth/oidc/start").await,
        Landing::SignedIn
    ));
    let me = b.me().await;
    assert_eq!(me["user"]["email"], "new@example.org");
    assert_eq!(me["user"]["role"], "member");
    assert!(
        !b.cookies.contains_key("workcell_sign_in"),
        "the flow cookie is cleared"
    );
    // Again: the same account, through the linked identity (even if the e-mail changed).
    set(&idp, person("sub-new", "renamed@example.org"));
    let mut b2 = Browser::new(&app);
    assert!(matches!(
        b2.sign_in("/api/v1/auth/oidc/start").await,
        Landing::SignedIn
    ));
    assert_eq!(b2.me().await["user"]["id"], me["user"]["id"]);

    // An existing password account with that verified e-mail is linked, not duplicated.
    set(&idp, person("sub-alice", "ALICE@example.com"));
    let mut b = Browser::new(&app);
    assert!(matches!(
        b.sign_in("/api/v1/auth/oidc/start").await,
        Landing::SignedIn
    ));
    assert_eq!(b.me().await["user"]["email"], "alice@example.com");
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE lower(email) = 'alice@example.com'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(users, 1);

    // Each thing the backend checks, refused with a sentence and no login.
    let cases: Vec<(&str, Person, &str)> = vec![
        (
            "wrong nonce",
            Person {
                nonce: Some("not-the-nonce".into()),
                ..person("s1", "a1@example.com")
            },
            "could not be verified",
        ),
        (
            "expired",
            Person {
                exp_in: -3600,
                ..person("s2", "a2@example.com")
            },
            "could not be verified",
        ),
        (
            "unverified e-mail",
            Person {
                email_verified: false,
                ..person("s3", "a3@example.com")
            },
            "not verified",
        ),
        (
            "domain not allowed",
            person("s4", "mallory@evil.test"),
            "domain",
        ),
        (
            "unpublished key",
            Person {
                foreign_key: true,
                ..person("s5", "a5@example.com")
            },
            "could not be verified",
        ),
        (
            "HS256 with the client secret",
            Person {
                hmac: true,
                ..person("s6", "a6@example.com")
            },
            "could not be verified",
        ),
    ];
    for (what, who, expect) in cases {
        set(&idp, who);
        let mut b = Browser::new(&app);
        match b.sign_in("/api/v1/auth/oidc/start").await {
            Landing::Refused(msg) => assert!(msg.contains(expect), "{what}: {msg}"),
            Landing::SignedIn => panic!("{what}: signed in"),
        }
        assert!(
            !b.cookies.contains_key("workcell_token"),
            "{what}: a login cookie was set"
        );
    }
    let made: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE email LIKE 'a_@example.com' OR email LIKE 'mallory%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(made, 0, "a refused sign-in made an account");

    // A callback whose state is not the cookie's, or without the cookie at all: refused.
    set(&idp, person("s7", "a7@example.com"));
    let mut b = Browser::new(&app);
    let res = b.get(&format!("{}/api/v1/auth/oidc/start", app.base)).await;
    let to_idp = res.headers()["location"].to_str().unwrap().to_owned();
    let res = b.get(&to_idp).await;
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let forged = back.replace("state=", "state=x");
    let res = b.get(&forged).await;
    let loc = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        loc.starts_with(&format!("{PUBLIC_URL}/login?error=")),
        "{loc}"
    );
    let mut stranger = Browser::new(&app);
    let res = stranger.get(&back).await;
    let loc = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.contains("error="), "{loc}");
    // The provider's own refusal (the person said no).
    let mut b = Browser::new(&app);
    b.get(&format!("{}/api/v1/auth/oidc/start", app.base)).await;
    let res = b
        .get(&format!(
            "{}/api/v1/auth/oidc/callback?error=access_denied&state=x",
            app.base
        ))
        .await;
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("canceled")
    );

    // A disabled account cannot sign in this way either.
    let alice_id = app.user_id("alice@example.com").await;
    let res = app
        .send(
            &admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/admin/users/{alice_id}"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    set(&idp, person("sub-alice", "alice@example.com"));
    let mut b = Browser::new(&app);
    match b.sign_in("/api/v1/auth/oidc/start").await {
        Landing::Refused(msg) => assert!(msg.contains("disabled"), "{msg}"),
        Landing::SignedIn => panic!("a disabled account signed in"),
    }

    // Unknown or unconfigured providers are not found.
    let res = app.get("", "/api/v1/auth/github/start").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.get("", "/api/v1/auth/saml/start").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn invite_only_sign_in_needs_the_invite(pool: PgPool) {
    let (issuer, idp) = start_provider().await;
    let app = TestApp::spawn_with(
        pool,
        &[
            ("OIDC_ISSUER", &issuer),
            ("OIDC_CLIENT_ID", CLIENT_ID),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("PUBLIC_URL", PUBLIC_URL),
            ("REGISTRATION", "invite"),
        ],
    )
    .await;
    let admin = app.register("admin@example.com").await;
    set(&idp, person("sub-guest", "guest@anywhere.test"));
    let mut b = Browser::new(&app);
    match b.sign_in("/api/v1/auth/oidc/start").await {
        Landing::Refused(msg) => assert!(msg.contains("invite"), "{msg}"),
        Landing::SignedIn => panic!("signed up without an invite"),
    }
    let res = app.post(&admin, "/api/v1/admin/invites", json!({})).await;
    let invite = json_of(res, StatusCode::CREATED).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut b = Browser::new(&app);
    let landing = b
        .sign_in(&format!("/api/v1/auth/oidc/start?invite={invite}"))
        .await;
    assert!(matches!(landing, Landing::SignedIn), "{landing:?}");
    assert_eq!(b.me().await["user"]["email"], "guest@anywhere.test");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn github_sign_in_uses_the_primary_verified_email(pool: PgPool) {
    let (base, idp) = start_provider().await;
    let app = TestApp::spawn_with(
        pool,
        &[
            ("GITHUB_CLIENT_ID", CLIENT_ID),
            ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
            ("GITHUB_URL", &base),
            ("GITHUB_API_URL", &base),
            ("PUBLIC_URL", PUBLIC_URL),
            ("REGISTRATION", "open"),
        ],
    )
    .await;
    let cfg = json_of(app.get("", "/api/v1/auth/config").await, StatusCode::OK).await;
    assert_eq!(cfg["providers"][0]["id"], "github");

    let mut who = person("4242", "octo@example.com");
    who.github_emails = vec![
        json!({"email": "old@example.com", "primary": false, "verified": true}),
        json!({"email": "octo@example.com", "primary": true, "verified": true}),
    ];
    set(&idp, who);
    let mut b = Browser::new(&app);
    assert!(matches!(
        b.sign_in("/api/v1/auth/github/start").await,
        Landing::SignedIn
    ));
    assert_eq!(b.me().await["user"]["email"], "octo@example.com");

    let mut who = person("4343", "unverified@example.com");
    who.github_emails =
        vec![json!({"email": "unverified@example.com", "primary": true, "verified": false})];
    set(&idp, who);
    let mut b = Browser::new(&app);
    match b.sign_in("/api/v1/auth/github/start").await {
        Landing::Refused(msg) => assert!(msg.contains("verified"), "{msg}"),
        Landing::SignedIn => panic!("signed in with an unverified e-mail"),
    }
}
