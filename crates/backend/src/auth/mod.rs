//! Who is calling: users, passwords, login and API tokens, and the extractors that guard routes.
//!
//! * Public routes take a [`CurrentUser`]: in `single_user` mode it is always the implicit local
//!   user; in `password` mode it comes from the `Authorization: Bearer` header or the login cookie:
//!   a login token (a JWT of an enabled user, not logged out, of the user's current token
//!   generation) or a personal access token (`wc_…`, [`api_token`]). The route's requirement
//!   ([`scope::required`]) is checked against what the credential may do: 403
//!   `insufficient_scope` otherwise.
//! * Internal routes take an [`InternalCaller`]: the `X-Internal-Token` header compared in constant
//!   time with `INTERNAL_API_TOKEN`.
//!
//! Whatever changes what a user's credentials may do (disabling, a revoked token, a password
//! change) calls [`access_changed`], which tells every replica's open WebSockets of that user to
//! check their credential again.

pub mod accounts;
pub mod api_token;
pub mod password;
pub mod scope;
pub mod sign_in;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use protocol::ErrorCode;
use protocol::accounts::{Role, Scope};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use self::scope::{Requirement, Scopes};
use crate::config::AuthMode;
use crate::error::ApiError;
use crate::state::AppState;

/// The cookie that carries the login token (httpOnly, SameSite=Lax).
pub const COOKIE_NAME: &str = "workcell_token";

/// The email of the implicit user of single-user mode.
pub const LOCAL_USER_EMAIL: &str = "local@localhost";

/// The NOTIFY channel of [`access_changed`]; the payload is the user's id.
pub const ACCESS_CHANNEL: &str = "user_access";

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Single-user mode: nobody signs in.
    Local,
    /// A login token (browser cookie or the CLI's password login).
    Login { jti: Uuid, expires: DateTime<Utc> },
    /// A personal access token.
    ApiToken { id: Uuid },
}

/// An authenticated user of the public API.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: Uuid,
    pub role: Role,
    /// What this request's credential may do.
    pub scopes: Scopes,
    pub credential: Credential,
}

impl CurrentUser {
    /// Whether the credential may do what `req` asks (403 `insufficient_scope` otherwise).
    pub fn require(&self, req: Requirement) -> Result<(), ApiError> {
        let ok = match req {
            Requirement::Any => true,
            Requirement::SignIn => !matches!(self.credential, Credential::ApiToken { .. }),
            Requirement::Scope(s) => self.scopes.contains(s),
        };
        if ok {
            return Ok(());
        }
        Err(ApiError::Forbidden {
            code: ErrorCode::InsufficientScope,
            message: match req {
                Requirement::SignIn => {
                    "an API token cannot do this: sign in with a password".to_owned()
                }
                Requirement::Scope(Scope::Admin) => "this needs an admin".to_owned(),
                Requirement::Scope(s) => format!("this needs the `{}` scope", s.as_str()),
                Requirement::Any => String::new(),
            },
        })
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = if state.settings.auth_mode == AuthMode::SingleUser {
            local_user(state)
        } else {
            let token = bearer_token(&parts.headers)
                .or_else(|| cookie_token(&parts.headers))
                .ok_or_else(|| {
                    ApiError::Unauthorized("sign in first: no login token was sent".into())
                })?;
            authenticate(state, &token).await?
        };
        let path = parts.uri.path();
        let path = path.strip_prefix("/api/v1").unwrap_or(path);
        user.require(scope::required(&parts.method, path))?;
        Ok(user)
    }
}

/// The implicit user of single-user mode: the operator, with every scope.
pub fn local_user(state: &AppState) -> CurrentUser {
    CurrentUser {
        id: state.local_user,
        role: Role::Admin,
        scopes: Scopes::of_role(Role::Admin),
        credential: Credential::Local,
    }
}

/// The user a login token or an API token belongs to, and what it may do.
pub async fn authenticate(state: &AppState, token: &str) -> Result<CurrentUser, ApiError> {
    if api_token::is_api_token(token) {
        let owner = api_token::authenticate(&state.pool, token).await?;
        return Ok(CurrentUser {
            id: owner.user_id,
            role: owner.role,
            scopes: owner.scopes,
            credential: Credential::ApiToken { id: owner.token_id },
        });
    }
    let claims = state
        .tokens
        .verify(token)
        .ok_or_else(|| ApiError::Unauthorized("the login token is invalid or expired".into()))?;
    let row: Option<(String, bool, i32, bool)> = sqlx::query_as(
        "SELECT role, disabled_at IS NOT NULL, token_generation,
                EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2)
           FROM users WHERE id = $1",
    )
    .bind(claims.sub)
    .bind(claims.jti)
    .fetch_optional(&state.pool)
    .await?;
    let Some((role, disabled, generation, revoked)) = row else {
        return Err(ApiError::Unauthorized(
            "the login token's user no longer exists".into(),
        ));
    };
    if revoked || generation != claims.generation {
        return Err(ApiError::Unauthorized(
            "the login token was logged out or its password changed; sign in again".into(),
        ));
    }
    if disabled {
        return Err(api_token::disabled_error());
    }
    let role = Role::parse(&role).unwrap_or(Role::Member);
    Ok(CurrentUser {
        id: claims.sub,
        role,
        scopes: Scopes::of_role(role),
        credential: Credential::Login {
            jti: claims.jti,
            expires: DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now),
        },
    })
}

/// Tells every replica that what `user`'s credentials may do changed: their open WebSockets check
/// again (and close if theirs no longer works).
pub async fn access_changed(pool: &sqlx::PgPool, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(ACCESS_CHANNEL)
        .bind(user.to_string())
        .execute(pool)
        .await?;
    Ok(())
}

/// The login token in the cookie, if any.
pub fn cookie_token(headers: &http::HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(COOKIE_NAME)
        .map(|c| c.value().to_owned())
}

/// The token of an `Authorization: Bearer` header, if any.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
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
