//! `/auth/*`: the sign-in screen's settings, register (with an invite unless registration is
//! open), login, logout, me, changing one's password, and setting one with a reset link.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use protocol::accounts::{
    AuthConfig, ChangePasswordRequest, RegisterRequest, ResetPasswordRequest, SignInProvider,
};
use protocol::api::{AuthResponse, Credentials, MeResponse};
use protocol::{ErrorBody, ErrorCode};

use crate::auth::accounts::{self, Admission, MAX_EMAIL_BYTES, UserRow};
use crate::auth::{COOKIE_NAME, Credential, CurrentUser, password};
use crate::config::AuthMode;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(config))
        .routes(routes!(change_password))
        .routes(routes!(reset_password))
}

pub(crate) fn require_password_mode(state: &AppState) -> ApiResult<()> {
    if state.settings.auth_mode == AuthMode::SingleUser {
        return Err(ApiError::conflict(
            ErrorCode::SingleUserMode,
            "accounts are disabled: this server runs in single-user mode",
        ));
    }
    Ok(())
}

pub(crate) fn login_cookie(state: &AppState, token: &str) -> Cookie<'static> {
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

/// A login token for `user`, as the answer's body and the login cookie.
pub(crate) async fn issue(
    state: &AppState,
    jar: CookieJar,
    user: UserRow,
) -> ApiResult<(CookieJar, Json<AuthResponse>)> {
    let (token, expires_at) = state
        .tokens
        .issue(user.id, user.token_generation)
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

/// Creates an account and signs it in.
///
/// Allowed when `REGISTRATION=open`, or with an admin's invite (`invite`); the first account of
/// a server is its admin. The answer carries a login token, also set as the `workcell_token`
/// cookie.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    operation_id = "register",
    tag = "auth",
    security(()),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account, signed in.", body = AuthResponse,
            headers(("set-cookie" = String, description = "`workcell_token`, the login token."))),
        (status = 403, description = "Registration is closed or needs an invite, or the invite is not valid (`registration_closed`).", body = ErrorBody),
        (status = 409, description = "An account has this email (`email_taken`), or the server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
        (status = 422, description = "The email is not valid (`validation_error`) or the password too weak (`weak_password`).", body = ErrorBody),
    ),
)]
#[tracing::instrument(skip_all)]
async fn register(
    State(state): State<AppState>,
    jar: CookieJar,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<impl IntoResponse> {
    require_password_mode(&state)?;
    let email = accounts::normalize_email(&body.email)?;
    password::check_strength(&body.password, &email)?;
    let hash = password::hash(body.password).await?;
    let user = accounts::create(
        &state.pool,
        &email,
        Some(hash),
        Admission::Registration {
            policy: state.settings.registration,
            invite: body.invite.as_deref(),
        },
    )
    .await?;
    let (jar, body) = issue(&state, jar, user).await?;
    Ok((StatusCode::CREATED, jar, body))
}

/// Signs in with an email and password.
///
/// The answer carries a login token (for `Authorization: Bearer`), also set as the
/// `workcell_token` cookie. Repeated failures lock the email and the address out for a while.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "login",
    tag = "auth",
    security(()),
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in.", body = AuthResponse,
            headers(("set-cookie" = String, description = "`workcell_token`, the login token."))),
        (status = 401, description = "Wrong email or password (`unauthorized`).", body = ErrorBody),
        (status = 403, description = "The account is disabled (`account_disabled`).", body = ErrorBody),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
        (status = 429, description = "Too many failed logins (`rate_limited`); see `Retry-After`.", body = ErrorBody,
            headers(("retry-after" = u64, description = "Seconds to wait."))),
    ),
)]
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
    let row: Option<(Option<String>, bool)> = sqlx::query_as(
        "SELECT password_hash, disabled_at IS NOT NULL FROM users WHERE lower(email) = lower($1)",
    )
    .bind(body.email.trim())
    .fetch_optional(&state.pool)
    .await?;
    let stored = row.as_ref().and_then(|r| r.0.clone());
    let ok = password::verify(body.password, stored).await?;
    match row {
        Some((_, disabled)) if ok => {
            if let Some(throttle) = &state.protection.login {
                throttle.succeeded(&body.email);
            }
            if disabled {
                return Err(crate::auth::api_token::disabled_error());
            }
            let user = accounts::find_by_email(&state.pool, &body.email)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("wrong email or password".into()))?;
            issue(&state, jar, user).await
        }
        _ => {
            if let Some(throttle) = &state.protection.login {
                throttle.failed(&body.email, ip);
            }
            Err(ApiError::Unauthorized("wrong email or password".into()))
        }
    }
}

/// Signs out: the login token stops working and the cookie is removed.
///
/// With an API token nothing is revoked (revoke tokens with `DELETE /api/v1/tokens/{id}`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logout",
    tag = "auth",
    responses((status = 204, description = "Signed out.")),
)]
async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    user: CurrentUser,
) -> ApiResult<impl IntoResponse> {
    if let Credential::Login { jti, expires: exp } = user.credential {
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

/// Who the credential belongs to, the server's auth mode, and what the credential may do.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    operation_id = "me",
    tag = "auth",
    responses((status = 200, description = "The caller.", body = MeResponse)),
)]
async fn me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Json<MeResponse>> {
    let row = accounts::get(&state.pool, user.id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the user no longer exists".into()))?;
    let mut view: protocol::api::UserView = row.into();
    // Single-user mode's implicit user is the operator.
    view.role = user.role;
    Ok(Json(MeResponse {
        user: view,
        auth_mode: state.settings.auth_mode.as_str().to_owned(),
        scopes: user.scopes.to_vec(),
    }))
}

/// What the sign-in screen offers; needs no credentials.
#[utoipa::path(
    get,
    path = "/api/v1/auth/config",
    operation_id = "auth_config",
    tag = "auth",
    security(()),
    responses((status = 200, description = "The auth mode, the registration policy, whether no account exists yet, and the identity providers.", body = AuthConfig)),
)]
async fn config(State(state): State<AppState>) -> ApiResult<Json<AuthConfig>> {
    let s = &state.settings;
    let mut providers = Vec::new();
    if s.oidc_issuer.is_some() {
        providers.push(SignInProvider {
            id: "oidc".into(),
            name: s.oidc_display_name.clone(),
            start_path: "/auth/oidc/start".into(),
        });
    }
    if s.github_client_id.is_some() {
        providers.push(SignInProvider {
            id: "github".into(),
            name: "GitHub".into(),
            start_path: "/auth/github/start".into(),
        });
    }
    let first_account =
        s.auth_mode == AuthMode::Password && accounts::none_yet(&state.pool).await?;
    Ok(Json(AuthConfig {
        auth_mode: s.auth_mode.as_str().to_owned(),
        registration: s.registration,
        first_account,
        providers,
    }))
}

/// Changes the caller's password; every other login and API token of the account stops working,
/// and this answer carries a fresh login (body and cookie).
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    operation_id = "change_password",
    tag = "auth",
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Changed; a fresh login.", body = AuthResponse,
            headers(("set-cookie" = String, description = "`workcell_token`, the new login token."))),
        (status = 401, description = "The current password is wrong (`unauthorized`).", body = ErrorBody),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
        (status = 422, description = "The new password is too weak (`weak_password`).", body = ErrorBody),
    ),
)]
async fn change_password(
    State(state): State<AppState>,
    jar: CookieJar,
    user: CurrentUser,
    Json(body): Json<ChangePasswordRequest>,
) -> ApiResult<impl IntoResponse> {
    require_password_mode(&state)?;
    let row = accounts::change_password(
        &state.pool,
        user.id,
        body.current_password,
        body.new_password,
    )
    .await?;
    issue(&state, jar, row).await
}

/// Sets a password with a one-time reset link's token (made by an admin).
#[utoipa::path(
    post,
    path = "/api/v1/auth/reset-password",
    operation_id = "reset_password",
    tag = "auth",
    security(()),
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is set; every login and token of the account stops working."),
        (status = 403, description = "The link is not valid, was used or has expired (`unauthorized`).", body = ErrorBody),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
        (status = 422, description = "The password is too weak (`weak_password`).", body = ErrorBody),
    ),
)]
async fn reset_password(
    State(state): State<AppState>,
    Json(body): Json<ResetPasswordRequest>,
) -> ApiResult<StatusCode> {
    require_password_mode(&state)?;
    accounts::use_reset(&state.pool, body.token.trim(), body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
