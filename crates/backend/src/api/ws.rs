//! `GET /api/v1/ws`: the live-updates WebSocket (see [`crate::live`]).

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use protocol::ErrorCode;

use crate::config::AuthMode;
use crate::error::{ApiError, ApiResult};
use crate::live::socket::{Authed, check_token};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

/// The most a client may send in one message.
const MAX_MESSAGE: usize = 64 * 1024;
/// Per-connection socket buffers.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 16 * 1024;

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    // Before anything else: a page of another site must not open a socket in the user's name
    // (cross-site WebSocket hijacking; the cookie, or single-user mode, would authenticate it).
    if !state.protection.websocket_origin_allowed(&headers) {
        return Err(ApiError::Forbidden {
            code: ErrorCode::ForbiddenOrigin,
            message: "this origin may not open the WebSocket: list it in CORS_ORIGINS".into(),
        });
    }
    let ws = ws.map_err(|e| ApiError::bad_request(ErrorCode::WebsocketRequired, e.to_string()))?;
    // An `Authorization` header or a cookie authenticates at once; otherwise the first message
    // must. A bad one is not fatal here: the client may still send a valid token.
    let authed = if state.settings.auth_mode == AuthMode::SingleUser {
        Some(Authed {
            user: state.local_user,
            token: None,
        })
    } else {
        match crate::auth::bearer_token(&headers).or_else(|| crate::auth::cookie_token(&headers)) {
            Some(token) => check_token(&state, &token).await.ok().map(|user| Authed {
                user,
                token: Some(token),
            }),
            None => None,
        }
    };
    Ok(ws
        .max_message_size(MAX_MESSAGE)
        // Small buffers: most connections are idle, and tungstenite's 128 KiB defaults would cost
        // a quarter of a megabyte each.
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| crate::live::socket::serve(socket, state, authed)))
}
