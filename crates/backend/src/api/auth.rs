//! `/auth/*`: register, login, logout, me.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::api::{AuthResponse, Credentials, MeResponse, UserView};
use uuid::Uuid;

use crate::auth::{COOKIE_NAME, CurrentUser, password};
use crate::config::AuthMode;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        UserView {
            id: u.id,
            email: u.email,
            created_at: u.created_at,
        }
    }
}

/// The longest address accepted (RFC 5321's path limit less the brackets). Also what keeps the
/// login throttle's keys small: a longer one is refused before any throttle state exists.
const MAX_EMAIL_BYTES: usize = 254;

fn normalize_email(email: &str) -> ApiResult<String> {
    let email = email.trim();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_owned())
    } else {
        Err(ApiError::validation("email is not a valid address"))
    }
}

fn require_password_mode(state: &AppState) -> ApiResult<()> {
    if state.settings.auth_mode == AuthMode::SingleUser {
        return Err(ApiError::conflict(
            ErrorCode::SingleUserMode,
            "accounts are disabled: this server runs in single-user mode",
        ));
    }
    Ok(())
}

fn login_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, token.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.cookie_secure)
        .path("/")
        .max_age(time_from(state.tokens.ttl()))
        .build()
}

fn time_from(d: chrono::Duration) -> time::Duration {
    time::Duration::seconds(d.num_seconds())
}

async fn issue(
    state: &AppState,
    jar: CookieJar,
    user: UserRow,
) -> ApiResult<(CookieJar, Json<AuthResponse>)> {
    let (token, expires_at) = state
        .tokens
        .issue(user.id)
        .map_err(|e| ApiError::Internal(format!("token: {e}")))?;
    let jar = jar.add(login_cookie(state, &token));
    Ok((
        jar,
        Json(AuthResponse {
            token,
            expires_at,
            user: user.into(),
        }),
    ))
}

#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    jar: CookieJar,
    Json(body): Json<Credentials>,
) -> ApiResult<impl IntoResponse> {
    require_password_mode(&state)?;
    let email = normalize_email(&body.email)?;
    let len = body.password.chars().count();
    if !(password::MIN_LEN..=password::MAX_LEN).contains(&len) {
        return Err(ApiError::validation(format!(
            "password must be {} to {} characters",
            password::MIN_LEN,
            password::MAX_LEN
        )));
    }
    let hash = password::hash(body.password).await?;
    let user: Option<UserRow> = sqlx::query_as(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT ((lower(email))) DO NOTHING
         RETURNING id, email, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(&email)
    .bind(hash)
    .fetch_optional(&state.pool)
    .await?;
    let user = user.ok_or_else(|| {
        ApiError::conflict(
            ErrorCode::EmailTaken,
            "an account with this email already exists",
        )
    })?;
    tracing::info!(user_id = %user.id, "user registered");
    let (jar, body) = issue(&state, jar, user).await?;
    Ok((StatusCode::CREATED, jar, body))
}

#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    jar: CookieJar,
    Json(body): Json<Credentials>,
) -> ApiResult<impl IntoResponse> {
    require_password_mode(&state)?;
    if body.email.trim().len() > MAX_EMAIL_BYTES {
        return Err(ApiError::validation(format!(
            "email is longer than {MAX_EMAIL_BYTES} bytes"
        )));
    }
    // Password guessing: a locked-out email or address is refused before any hashing.
    let ip = state.protection.client_ip(&headers, Some(peer));
    if let Some(throttle) = &state.protection.login
        && let Err(wait) = throttle.check(&body.email, ip)
    {
        telemetry::metrics::rate_limited("login");
        return Err(ApiError::TooManyRequests {
            message: "too many failed logins; try again later".into(),
            retry_after_seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
        });
    }
    let row: Option<(Uuid, String, DateTime<Utc>, Option<String>)> = sqlx::query_as(
        "SELECT id, email, created_at, password_hash FROM users WHERE lower(email) = lower($1)",
    )
    .bind(body.email.trim())
    .fetch_optional(&state.pool)
    .await?;
    let stored = row.as_ref().and_then(|r| r.3.clone());
    let ok = password::verify(body.password, stored).await?;
    match row {
        Some((id, email, created_at, _)) if ok => {
            if let Some(throttle) = &state.protection.login {
                throttle.succeeded(&body.email);
            }
            issue(
                &state,
                jar,
                UserRow {
                    id,
                    email,
                    created_at,
                },
            )
            .await
        }
        _ => {
            if let Some(throttle) = &state.protection.login {
                throttle.failed(&body.email, ip);
            }
            Err(ApiError::Unauthorized("wrong email or password".into()))
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    user: CurrentUser,
) -> ApiResult<impl IntoResponse> {
    if let (Some(jti), Some(exp)) = (user.token_id, user.token_expires) {
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(jti)
        .bind(exp)
        .execute(&state.pool)
        .await?;
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < now()")
            .execute(&state.pool)
            .await?;
    }
    let jar = jar.remove(Cookie::build(COOKIE_NAME).path("/").build());
    Ok((StatusCode::NO_CONTENT, jar))
}

async fn me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<MeResponse>> {
    let row: Option<UserRow> =
        sqlx::query_as("SELECT id, email, created_at FROM users WHERE id = $1")
            .bind(user.id)
            .fetch_optional(&state.pool)
            .await?;
    let row = row.ok_or_else(|| ApiError::Unauthorized("the user no longer exists".into()))?;
    Ok(Json(MeResponse {
        user: row.into(),
        auth_mode: state.settings.auth_mode.as_str().to_owned(),
    }))
}
