//! Who is calling: users, passwords, login tokens, and the extractors that guard routes.
//!
//! * Public routes take a [`CurrentUser`]: in `single_user` mode it is always the implicit local
//!   user; in `password` mode it comes from the `Authorization: Bearer` header or the login cookie,
//!   and must be a valid, unexpired, not-logged-out token of an existing user.
//! * Internal routes take an [`InternalCaller`]: the `X-Internal-Token` header compared in constant
//!   time with `INTERNAL_API_TOKEN`.

pub mod password;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::AuthMode;
use crate::error::ApiError;
use crate::state::AppState;

/// The cookie that carries the login token (httpOnly, SameSite=Lax).
pub const COOKIE_NAME: &str = "workcell_token";

/// The email of the implicit user of single-user mode.
pub const LOCAL_USER_EMAIL: &str = "local@localhost";

/// An authenticated user of the public API.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: Uuid,
    /// The token's id, for logout; `None` in single-user mode.
    pub token_id: Option<Uuid>,
    pub token_expires: Option<chrono::DateTime<chrono::Utc>>,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.settings.auth_mode == AuthMode::SingleUser {
            return Ok(CurrentUser {
                id: state.local_user,
                token_id: None,
                token_expires: None,
            });
        }
        let token = bearer_token(parts)
            .or_else(|| cookie_token(&parts.headers))
            .ok_or_else(|| {
                ApiError::Unauthorized("sign in first: no login token was sent".into())
            })?;
        let (id, claims) = authenticate_token(state, &token).await?;
        Ok(CurrentUser {
            id,
            token_id: Some(claims.jti),
            token_expires: chrono::DateTime::from_timestamp(claims.exp, 0),
        })
    }
}

/// The user a login token belongs to: valid signature, not expired, not logged out, and the user
/// still exists.
pub async fn authenticate_token(
    state: &AppState,
    token: &str,
) -> Result<(Uuid, token::Claims), ApiError> {
    let claims = state
        .tokens
        .verify(token)
        .ok_or_else(|| ApiError::Unauthorized("the login token is invalid or expired".into()))?;
    let valid: Option<bool> = sqlx::query_scalar(
        "SELECT NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2)
           FROM users WHERE id = $1",
    )
    .bind(claims.sub)
    .bind(claims.jti)
    .fetch_optional(&state.pool)
    .await?;
    match valid {
        Some(true) => Ok((claims.sub, claims)),
        _ => Err(ApiError::Unauthorized(
            "the login token was logged out or its user no longer exists".into(),
        )),
    }
}

/// The login token in the cookie, if any.
pub fn cookie_token(headers: &http::HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(COOKIE_NAME)
        .map(|c| c.value().to_owned())
}

fn bearer_token(parts: &Parts) -> Option<String> {
    let value = parts
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// An executor manager holding `INTERNAL_API_TOKEN`.
#[derive(Debug, Clone, Copy)]
pub struct InternalCaller;

impl FromRequestParts<AppState> for InternalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(protocol::internal::INTERNAL_TOKEN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let expected = state.settings.internal_api_token.expose().as_bytes();
        if bool::from(given.ct_eq(expected)) {
            Ok(InternalCaller)
        } else {
            Err(ApiError::Unauthorized(
                "missing or wrong X-Internal-Token".into(),
            ))
        }
    }
}

/// Makes sure the implicit local user exists and returns its id.
pub async fn ensure_local_user(pool: &sqlx::PgPool) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "WITH ins AS (
             INSERT INTO users (id, email) VALUES ($1, $2)
             ON CONFLICT ((lower(email))) DO NOTHING RETURNING id)
         SELECT id FROM ins UNION ALL SELECT id FROM users WHERE lower(email) = lower($2) LIMIT 1",
    )
    .bind(Uuid::new_v4())
    .bind(LOCAL_USER_EMAIL)
    .fetch_one(pool)
    .await
}
