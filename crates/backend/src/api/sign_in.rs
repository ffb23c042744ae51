//! `/auth/{oidc,github}/start` and `/auth/{oidc,github}/callback`: signing in through an identity
//! provider ([`crate::auth::sign_in`]). Both are browser navigations: they answer with redirects,
//! to the provider, to the UI signed in, or to `/login?error=…`.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use protocol::ErrorBody;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::sign_in::{FLOW_COOKIE, FLOW_TTL, Flow, Provider, Refusal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
}

/// The cookie only travels to the sign-in routes.
const FLOW_PATH: &str = "/api/v1/auth/";

fn provider(state: &AppState, name: &str) -> ApiResult<Provider> {
    super::auth::require_password_mode(state)?;
    Provider::parse(name)
        .filter(|p| p.enabled(&state.settings))
        .ok_or(ApiError::NotFound("sign-in provider"))
}

/// The UI's sign-in page with a message.
fn to_login(state: &AppState, message: &str) -> Redirect {
    let base = format!("{}/login", state.settings.public_url);
    match reqwest::Url::parse(&base) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair("error", message);
            Redirect::to(url.as_str())
        }
        // PUBLIC_URL is validated at start-up; this is not reached.
        Err(_) => Redirect::to("/login"),
    }
}

fn refused(state: &AppState, provider: Provider, r: Refusal) -> Redirect {
    tracing::warn!(provider = provider.as_str(), detail = %r.detail, "sign-in refused");
    crate::metrics::sign_in(provider.as_str(), "refused");
    to_login(state, r.message)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StartQuery {
    /// An admin's invite, when registration needs one (a new account is made at the callback).
    #[serde(default)]
    invite: Option<String>,
}

/// Starts signing in with an identity provider: a browser navigation.
///
/// Redirects to the provider's authorization page with a flow cookie; on trouble, to the UI's
/// `/login?error=…`.
#[utoipa::path(
    get,
    path = "/api/v1/auth/{provider}/start",
    operation_id = "sign_in_start",
    tag = "auth",
    security(()),
    params(
        ("provider" = String, Path, description = "`oidc` or `github`, when configured.", example = "github"),
        StartQuery,
    ),
    responses(
        (status = 303, description = "To the provider (or to `/login?error=…`).",
            headers(("location" = String, description = "Where to go."))),
        (status = 404, description = "No such provider, or it is not configured (`not_found`).", body = ErrorBody),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
    ),
)]
async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<StartQuery>,
    jar: CookieJar,
) -> ApiResult<Response> {
    let provider = provider(&state, &name)?;
    let invite = q.invite.filter(|i| !i.is_empty() && i.len() <= 256);
    let flow = Flow::new(provider, invite);
    let url = match state.sign_in.authorize_url(&state.settings, &flow).await {
        Ok(u) => u,
        Err(r) => return Ok(refused(&state, provider, r).into_response()),
    };
    let cookie = Cookie::build((FLOW_COOKIE, flow.seal(state.settings.secret_key.expose())?))
        .http_only(true)
        // Lax: the provider's redirect back is a top-level GET navigation, which carries it.
        .same_site(SameSite::Lax)
        .secure(state.settings.cookie_secure)
        .path(FLOW_PATH)
        .max_age(time::Duration::seconds(FLOW_TTL.as_secs() as i64))
        .build();
    Ok((jar.add(cookie), Redirect::to(&url)).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    /// The provider's authorization code.
    #[serde(default)]
    code: Option<String>,
    /// The flow's state, checked against the flow cookie.
    #[serde(default)]
    state: Option<String>,
    /// The provider's refusal, if any.
    #[serde(default)]
    error: Option<String>,
}

/// Where the provider sends the browser back: signs in (making the account if the registration
/// policy allows) and redirects to the UI with the login cookie set.
#[utoipa::path(
    get,
    path = "/api/v1/auth/{provider}/callback",
    operation_id = "sign_in_callback",
    tag = "auth",
    security(()),
    params(
        ("provider" = String, Path, description = "`oidc` or `github`, when configured.", example = "github"),
        CallbackQuery,
    ),
    responses(
        (status = 303, description = "To the UI, signed in (`workcell_token` set), or to `/login?error=…`.",
            headers(("location" = String, description = "Where to go."))),
        (status = 404, description = "No such provider, or it is not configured (`not_found`).", body = ErrorBody),
        (status = 409, description = "The server runs in single-user mode (`single_user_mode`).", body = ErrorBody),
    ),
)]
async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<CallbackQuery>,
    jar: CookieJar,
) -> ApiResult<Response> {
    let provider = provider(&state, &name)?;
    let flow = jar_flow(&state, &jar, provider, &q);
    // Whatever happens, the flow is over: its cookie goes.
    let jar = jar.remove(Cookie::build(FLOW_COOKIE).path(FLOW_PATH).build());
    let flow = match flow {
        Ok(f) => f,
        Err(r) => return Ok((jar, refused(&state, provider, r)).into_response()),
    };
    let code = q.code.as_deref().unwrap_or_default();
    let identity = match state.sign_in.identify(&state.settings, &flow, code).await {
        Ok(i) => i,
        Err(r) => return Ok((jar, refused(&state, provider, r)).into_response()),
    };
    let user = match crate::auth::sign_in::account_for(
        &state.pool,
        state.settings.registration,
        &identity,
        flow.invite.as_deref(),
    )
    .await
    {
        Ok(u) => u,
        Err(
            e @ (ApiError::Forbidden { .. } | ApiError::Conflict { .. } | ApiError::Validation(_)),
        ) => {
            tracing::warn!(provider = provider.as_str(), error = %e, "sign-in refused");
            crate::metrics::sign_in(provider.as_str(), "refused");
            return Ok((jar, to_login(&state, &e.to_string())).into_response());
        }
        Err(e) => return Err(e),
    };
    let (token, _) = state
        .tokens
        .issue(user.id, user.token_generation)
        .map_err(|e| ApiError::Internal(format!("token: {e}")))?;
    let jar = jar.add(super::auth::login_cookie(&state, &token));
    tracing::info!(user_id = %user.id, provider = provider.as_str(), "signed in through a provider");
    crate::metrics::sign_in(provider.as_str(), "ok");
    Ok((
        jar,
        Redirect::to(&format!("{}/", state.settings.public_url)),
    )
        .into_response())
}

/// The flow of this callback: its cookie opens, is for this provider, and its state matches.
fn jar_flow(
    state: &AppState,
    jar: &CookieJar,
    provider: Provider,
    q: &CallbackQuery,
) -> Result<Flow, Refusal> {
    let refuse = |message: &'static str, detail: &str| Refusal {
        message,
        detail: detail.to_owned(),
    };
    if let Some(err) = &q.error {
        return Err(Refusal {
            message: "the sign-in was canceled or refused at the provider",
            detail: format!("provider error: {err}"),
        });
    }
    let cookie = jar.get(FLOW_COOKIE).ok_or_else(|| {
        refuse(
            "the sign-in was not started here, or took too long; try again",
            "no flow cookie",
        )
    })?;
    let flow = Flow::open(cookie.value(), state.settings.secret_key.expose())?;
    if flow.provider != provider {
        return Err(refuse(
            "the sign-in was started with another provider; try again",
            "provider mismatch",
        ));
    }
    if !flow.state_matches(q.state.as_deref().unwrap_or_default()) {
        return Err(refuse(
            "the sign-in could not be verified; try again",
            "state mismatch",
        ));
    }
    if q.code.as_deref().is_none_or(str::is_empty) {
        return Err(refuse("the sign-in provider sent no code", "no code"));
    }
    Ok(flow)
}
