//! `GET /api/v1/ws`: the live-updates WebSocket (see [`crate::live`]).

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use protocol::{ErrorBody, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::AuthMode;
use crate::error::{ApiError, ApiResult};
use crate::live::socket::{Authed, check_token};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

/// The most a client may send in one message.
const MAX_MESSAGE: usize = 64 * 1024;
/// Per-connection socket buffers.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 16 * 1024;

/// The live-updates WebSocket.
///
/// A WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`). The messages are JSON text
/// frames: the client sends `ClientMessage` (`auth`, `subscribe` with a session id and the last
/// `seq` it has, `unsubscribe`), the server sends `ServerMessage` (`ready`, `subscribed`, `event`,
/// `session_updated`, `session_deleted`, `error`); see `protocol::live`. The client
/// authenticates with its login cookie or `Authorization` header at the upgrade, or else with a
/// first message `{"type":"auth","token":"…"}` within 10 s (never a token in the URL); the
/// credential needs the `sessions:read` scope. Close codes: 4401 unauthorized, 4400 bad message,
/// 4408 too slow (resume from the last `seq`).
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    operation_id = "live_updates",
    tag = "live",
    security((), ("bearer" = ["sessions:read"]), ("cookie" = ["sessions:read"])),
    responses(
        (status = 101, description = "Switching protocols: the WebSocket is open (`ClientMessage` in, `ServerMessage` out)."),
        (status = 400, description = "Not a WebSocket upgrade (`websocket_required`).", body = ErrorBody),
        (status = 403, description = "The page's `Origin` is not in `CORS_ORIGINS` (`forbidden_origin`).", body = ErrorBody),
    ),
)]
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
