//! The WebSocket at `GET /api/v1/ws`: live events and session-list changes.
//!
//! A client authenticates with its login cookie or, within 10 s, a first message
//! `{"type":"auth","token":"..."}` (never a token in the URL). It then subscribes to sessions with
//! the last sequence number it has; the server sends every stored event after it, then live ones,
//! in order, with no gap and no duplicate. A client that cannot keep up is closed with a reason
//! telling it to resume from its last sequence number: events are never skipped.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

use crate::api::SessionView;
use crate::error::ErrorCode;
use crate::event::Event;

/// WebSocket close code: not authenticated (bad, missing or late credentials).
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// WebSocket close code: the client read too slowly; reconnect and resume with `after`.
pub const CLOSE_TOO_SLOW: u16 = 4408;
/// WebSocket close code: the client sent something that is not a valid message.
pub const CLOSE_BAD_MESSAGE: u16 = 4400;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// The login token, as the first message, when no cookie authenticated the connection.
    Auth {
        token: String,
    },
    /// Send the session's events after `after` (0 for all), then live ones.
    Subscribe {
        session_id: Uuid,
        #[serde(default)]
        after: i64,
    },
    Unsubscribe {
        session_id: Uuid,
    },
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Authenticated; subscriptions may follow.
    Ready { user_id: Uuid },
    /// The subscription is active; events after `after` follow.
    Subscribed { session_id: Uuid, after: i64 },
    /// One stored event of a subscribed session.
    Event {
        session_id: Uuid,
        seq: i64,
        event: Event,
    },
    /// A session of the user was created or changed (status, title).
    SessionUpdated { session: SessionView },
    /// A session of the user was deleted.
    SessionDeleted { session_id: Uuid },
    /// A request of the client could not be honoured (the connection stays open).
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<Uuid>,
    },
}
