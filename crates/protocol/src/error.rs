//! The one error shape every HTTP API of the platform answers with, and the one list of its codes.
//!
//! A client decides what to do from [`ErrorCode`] (and the HTTP status), never from the message,
//! which is for people and may change. Each service maps its own errors to a status and a code in
//! one place (`backend::error`, `executor::api`, the manager's `callback` and `model_proxy`); the
//! variant docs below say who answers which code, and with which status.

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// `{"error":{"code":"...","message":"..."}}`: the body of every 4xx and 5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable, machine-readable `code` and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

/// Every error code a service of the platform answers, on the wire as its snake_case name.
///
/// Adding a variant is compatible: an older peer reads a code it does not know as
/// [`ErrorCode::Unknown`] and goes by the HTTP status. Renaming one is a wire change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // 400: the request itself is malformed.
    /// 400, executor: the body is not JSON, or the path's run id is not a UUID.
    BadRequest,
    /// 400, backend: the body is not valid JSON.
    MalformedJson,
    /// 400, backend: the body could not be read as JSON for another reason (e.g. not UTF-8).
    BadBody,
    /// 400, backend: a path parameter has the wrong form (e.g. an id that is not a UUID).
    InvalidPath,
    /// 400, backend: the query string does not parse.
    InvalidQuery,
    /// 400, backend: a paging cursor that this API did not hand out.
    InvalidCursor,
    /// 400, backend: `GET /ws` without a WebSocket upgrade.
    WebsocketRequired,
    /// 400, backend: an upload that is not a readable `multipart/form-data` body with one `file`
    /// field.
    BadMultipart,
    /// 400, backend: an upload without a file.
    MissingFile,
    /// 400, backend: a task's repository is not an `https://` URL without credentials, or its
    /// branch name is not sane.
    InvalidGit,
    /// 400, backend: a scheduled task's cron expression does not parse or never fires.
    InvalidCron,
    /// 400, backend: a time zone is not an IANA name (a scheduled task's, or `tz` of `/usage`).
    InvalidTimezone,
    /// 400, backend: a scheduled task's name is empty or too long.
    InvalidName,
    /// 400, backend: a scheduled task's prompt is empty or too long.
    InvalidPrompt,
    /// 400, backend: a scheduled task's model name is not acceptable.
    InvalidModel,
    /// 400, manager: a callback body that is not a valid event batch. 422, executor: a task
    /// request that is well-formed JSON but not an acceptable task.
    InvalidRequest,
    /// 422, backend: the request is well-formed but its content is not acceptable (also a
    /// WebSocket `error` message for a bad subscription).
    ValidationError,
    /// 422, manager: a callback whose body names another run than its URL.
    RunMismatch,
    /// 422, backend: an uploaded skill is not an acceptable archive (not a zip or tar.gz, an
    /// entry that is a link, a device, absolute or outside the folder, a name that is not plain,
    /// no `SKILL.md` or front matter without `name` and `description`).
    InvalidArchive,
    /// 422, backend: a task, project or MCP server names a secret (`${NAME}`, a repository's
    /// `token_secret`, a provider's key) that neither the user nor the system has.
    UnknownSecret,
    /// 422, backend: a task or project names a model that is not in the deployment's catalog.
    UnknownModel,
    /// 422, backend: the password is too short, too long or one of the commonly used ones.
    WeakPassword,

    // 401, 403: who is asking.
    /// 401, every service: missing or wrong credentials (login token, internal token, executor
    /// secret, callback token, model proxy token, metrics token).
    Unauthorized,
    /// 403, backend: a WebSocket opened from a page of an origin not in `CORS_ORIGINS`.
    ForbiddenOrigin,
    /// 403, manager's model proxy: the model access policy refused the call.
    ModelAccessDenied,
    /// 403, backend: a write to a system library item (visible to every user, editable by none).
    ReadOnly,
    /// 403, backend: the credential lacks the scope this route needs (an API token's scopes), or
    /// the route is for admins.
    InsufficientScope,
    /// 403, backend: the account is disabled by an admin; its tokens stop working at once.
    AccountDisabled,
    /// 403, backend: registration needs an invite (`REGISTRATION=invite`) or is closed, or the
    /// invite is unknown, used or expired.
    RegistrationClosed,
    /// 403, backend: an OpenID Connect or GitHub sign-in was refused (state, nonce, signature,
    /// expiry, an unverified or not-allowed e-mail).
    SignInRefused,

    // 404, 405: what is asked for.
    /// 404, every service: the resource does not exist, or belongs to another user. Also a
    /// WebSocket `error` message for a subscription to such a session.
    NotFound,
    /// 404, backend: no route has this path. Lets the web UI tell a server without a feature
    /// from a missing resource. (The web server's proxy answers the internal API, which it
    /// refuses, with `not_found`.)
    RouteNotFound,
    /// 405, backend and executor: the route exists but not with this method.
    MethodNotAllowed,

    // 409: the request conflicts with the current state.
    /// 409, backend: the run is no longer leased to this worker at this epoch; nothing was
    /// changed. 410, manager's callback endpoint: the manager no longer holds the run.
    LeaseLost,
    /// 409, backend: the session has a run in progress (deleting it).
    SessionActive,
    /// 409, backend: only a failed run can be retried.
    NotRetryable,
    /// 409, backend: an account with this email exists.
    EmailTaken,
    /// 409, backend: accounts are disabled in single-user mode.
    SingleUserMode,
    /// 409, backend: a queued or running task still needs the attachment (deleting it).
    AttachmentInUse,
    /// 409, backend: the project still has sessions (deleting it without `?cascade=true`).
    ProjectNotEmpty,
    /// 409, backend: the user already has a library item of this kind with this name.
    NameTaken,
    /// 409, executor: a task is running; the executor takes one at a time.
    TaskRunning,
    /// 409, backend and executor: the input request was answered already.
    AlreadyAnswered,
    /// 409, backend: the run is no longer queued (it started, or was canceled).
    NotQueued,
    /// 410, backend: the input request expired, or its run ended, before this answer.
    RequestExpired,
    /// 409, executor: this run id was already executed here.
    DuplicateRun,

    // 413, 415, 429: limits.
    /// 413, backend and executor: the body is larger than the route accepts.
    PayloadTooLarge,
    /// 415, backend and executor: a JSON route called without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 416, backend: a `Range` starting at or past the end of the file (`GET /runs/{id}/content`).
    RangeNotSatisfiable,
    /// 429, backend: a rate limit or the login throttle; the answer carries `Retry-After`.
    RateLimited,

    // 5xx: the service or something behind it failed; worth retrying.
    /// 500, backend: an unexpected failure, logged with its cause (also a WebSocket `error`
    /// message when reading events failed).
    Internal,
    /// 502, the web server's proxy: the backend cannot be reached or `BACKEND_URL` is not set.
    BadGateway,
    /// 502, manager's callback endpoint: the backend could not store the events; retry.
    BackendUnavailable,
    /// 502, manager's model proxy: the model API cannot be reached.
    UpstreamUnreachable,
    /// 503, backend and executor: the service is shutting down.
    ShuttingDown,
    /// 503, backend: the request took longer than the request timeout and was abandoned.
    Timeout,
    /// 503, backend: the database is overloaded or unreachable.
    Unavailable,

    /// Never answered: a code this build does not know (from a newer peer), or an answer without
    /// an error body. Decide by the HTTP status.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code, in declaration order (the tests check it against the enum, through the
    /// TypeScript union ts-rs derives from it).
    pub const ALL: [ErrorCode; 58] = [
        ErrorCode::BadRequest,
        ErrorCode::MalformedJson,
        ErrorCode::BadBody,
        ErrorCode::InvalidPath,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidCursor,
        ErrorCode::WebsocketRequired,
        ErrorCode::BadMultipart,
        ErrorCode::MissingFile,
        ErrorCode::InvalidGit,
        ErrorCode::InvalidCron,
        ErrorCode::InvalidTimezone,
        ErrorCode::InvalidName,
        ErrorCode::InvalidPrompt,
        ErrorCode::InvalidModel,
        ErrorCode::InvalidRequest,
        ErrorCode::ValidationError,
        ErrorCode::RunMismatch,
        ErrorCode::InvalidArchive,
        ErrorCode::UnknownSecret,
        ErrorCode::UnknownModel,
        ErrorCode::WeakPassword,
        ErrorCode::Unauthorized,
        ErrorCode::ForbiddenOrigin,
        ErrorCode::ModelAccessDenied,
        ErrorCode::ReadOnly,
        ErrorCode::InsufficientScope,
        ErrorCode::AccountDisabled,
        ErrorCode::RegistrationClosed,
        ErrorCode::SignInRefused,
        ErrorCode::NotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::LeaseLost,
        ErrorCode::SessionActive,
        ErrorCode::NotRetryable,
        ErrorCode::EmailTaken,
        ErrorCode::SingleUserMode,
        ErrorCode::AttachmentInUse,
        ErrorCode::ProjectNotEmpty,
        ErrorCode::NameTaken,
        ErrorCode::TaskRunning,
        ErrorCode::AlreadyAnswered,
        ErrorCode::NotQueued,
        ErrorCode::RequestExpired,
        ErrorCode::DuplicateRun,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::BadGateway,
        ErrorCode::BackendUnavailable,
        ErrorCode::UpstreamUnreachable,
        ErrorCode::ShuttingDown,
        ErrorCode::Timeout,
        ErrorCode::Unavailable,
        ErrorCode::Unknown,
    ];

    /// The wire name (what serde writes).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::BadBody => "bad_body",
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::WebsocketRequired => "websocket_required",
            ErrorCode::BadMultipart => "bad_multipart",
            ErrorCode::MissingFile => "missing_file",
            ErrorCode::InvalidGit => "invalid_git",
            ErrorCode::InvalidCron => "invalid_cron",
            ErrorCode::InvalidTimezone => "invalid_timezone",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidPrompt => "invalid_prompt",
            ErrorCode::InvalidModel => "invalid_model",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::ValidationError => "validation_error",
            ErrorCode::RunMismatch => "run_mismatch",
            ErrorCode::InvalidArchive => "invalid_archive",
            ErrorCode::UnknownSecret => "unknown_secret",
            ErrorCode::UnknownModel => "unknown_model",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ForbiddenOrigin => "forbidden_origin",
            ErrorCode::ModelAccessDenied => "model_access_denied",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::SignInRefused => "sign_in_refused",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::LeaseLost => "lease_lost",
            ErrorCode::SessionActive => "session_active",
            ErrorCode::NotRetryable => "not_retryable",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::SingleUserMode => "single_user_mode",
            ErrorCode::AttachmentInUse => "attachment_in_use",
            ErrorCode::ProjectNotEmpty => "project_not_empty",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::AlreadyAnswered => "already_answered",
            ErrorCode::NotQueued => "not_queued",
            ErrorCode::RequestExpired => "request_expired",
            ErrorCode::TaskRunning => "task_running",
            ErrorCode::DuplicateRun => "duplicate_run",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::BadGateway => "bad_gateway",
            ErrorCode::BackendUnavailable => "backend_unavailable",
            ErrorCode::UpstreamUnreachable => "upstream_unreachable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every code the services answered while codes were free strings (backend `ApiError` and
    /// its literals, the WebSocket's `error` messages, the executor's API, the manager's callback
    /// endpoint and model proxy, `/metrics`, the web server's proxy), and the client-side
    /// `unknown` the manager used for an answer without an error body.
    const LITERALS_BEFORE_THE_ENUM: [(ErrorCode, &str); 42] = [
        (ErrorCode::BadRequest, "bad_request"),
        (ErrorCode::MalformedJson, "malformed_json"),
        (ErrorCode::BadBody, "bad_body"),
        (ErrorCode::InvalidPath, "invalid_path"),
        (ErrorCode::InvalidQuery, "invalid_query"),
        (ErrorCode::InvalidCursor, "invalid_cursor"),
        (ErrorCode::WebsocketRequired, "websocket_required"),
        (ErrorCode::BadMultipart, "bad_multipart"),
        (ErrorCode::MissingFile, "missing_file"),
        (ErrorCode::InvalidGit, "invalid_git"),
        (ErrorCode::InvalidCron, "invalid_cron"),
        (ErrorCode::InvalidTimezone, "invalid_timezone"),
        (ErrorCode::InvalidName, "invalid_name"),
        (ErrorCode::InvalidPrompt, "invalid_prompt"),
        (ErrorCode::InvalidModel, "invalid_model"),
        (ErrorCode::InvalidRequest, "invalid_request"),
        (ErrorCode::ValidationError, "validation_error"),
        (ErrorCode::RunMismatch, "run_mismatch"),
        (ErrorCode::Unauthorized, "unauthorized"),
        (ErrorCode::ForbiddenOrigin, "forbidden_origin"),
        (ErrorCode::ModelAccessDenied, "model_access_denied"),
        (ErrorCode::NotFound, "not_found"),
        (ErrorCode::MethodNotAllowed, "method_not_allowed"),
        (ErrorCode::LeaseLost, "lease_lost"),
        (ErrorCode::SessionActive, "session_active"),
        (ErrorCode::NotRetryable, "not_retryable"),
        (ErrorCode::EmailTaken, "email_taken"),
        (ErrorCode::SingleUserMode, "single_user_mode"),
        (ErrorCode::AttachmentInUse, "attachment_in_use"),
        (ErrorCode::TaskRunning, "task_running"),
        (ErrorCode::DuplicateRun, "duplicate_run"),
        (ErrorCode::PayloadTooLarge, "payload_too_large"),
        (ErrorCode::UnsupportedMediaType, "unsupported_media_type"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::Internal, "internal"),
        (ErrorCode::BadGateway, "bad_gateway"),
        (ErrorCode::BackendUnavailable, "backend_unavailable"),
        (ErrorCode::UpstreamUnreachable, "upstream_unreachable"),
        (ErrorCode::ShuttingDown, "shutting_down"),
        (ErrorCode::Timeout, "timeout"),
        (ErrorCode::Unavailable, "unavailable"),
        (ErrorCode::Unknown, "unknown"),
    ];

    /// Codes added with the enum or after it (none of them replaces an answer's code but the 404
    /// of an unknown route, which was `not_found`).
    const ADDED: [&str; 16] = [
        "route_not_found",
        "invalid_archive",
        "read_only",
        "name_taken",
        "already_answered",
        "not_queued",
        "request_expired",
        "unknown_secret",
        "unknown_model",
        "project_not_empty",
        "weak_password",
        "insufficient_scope",
        "account_disabled",
        "registration_closed",
        "sign_in_refused",
        "range_not_satisfiable",
    ];

    #[test]
    fn every_code_that_existed_keeps_its_wire_name() {
        for (code, literal) in LITERALS_BEFORE_THE_ENUM {
            let json = serde_json::to_string(&code).expect("serialise");
            assert_eq!(json, format!("\"{literal}\""), "{code:?}");
            let back: ErrorCode = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, code, "{literal}");
        }
    }

    #[test]
    fn every_code_is_one_that_existed_or_a_deliberate_addition() {
        let existed: BTreeSet<&str> = LITERALS_BEFORE_THE_ENUM.iter().map(|(_, s)| *s).collect();
        let added: BTreeSet<&str> = ADDED.into_iter().collect();
        let now: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(now, &existed | &added);
    }

    #[test]
    fn as_str_and_display_are_the_wire_name() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).expect("serialise");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(code.to_string(), code.as_str());
        }
    }

    /// `ALL` names every variant once: ts-rs derives the TypeScript union from the enum itself.
    #[test]
    fn all_lists_every_variant_once() {
        let decl = <ErrorCode as TS>::decl();
        let union: BTreeSet<&str> = decl.split('"').skip(1).step_by(2).collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        let listed: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(listed.len(), all.len(), "a code is listed twice in ALL");
        assert_eq!(listed, union, "ALL and the enum disagree: {decl}");
    }

    /// A manager or browser older than the peer that answers reads a new code as `Unknown`
    /// instead of failing on the whole body.
    #[test]
    fn a_code_from_a_newer_peer_reads_as_unknown() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"error":{"code":"quota_exceeded_next_year","message":"try later"}}"#,
        )
        .expect("an unknown code still parses");
        assert_eq!(body, ErrorBody::new(ErrorCode::Unknown, "try later"));

        let msg: crate::live::ServerMessage =
            serde_json::from_str(r#"{"type":"error","code":"something_new","message":"m"}"#)
                .expect("an unknown code in a WebSocket error still parses");
        assert!(matches!(
            msg,
            crate::live::ServerMessage::Error {
                code: ErrorCode::Unknown,
                ..
            }
        ));

        // Not a string at all is still an error: only the set of names is open.
        assert!(serde_json::from_str::<ErrorCode>("42").is_err());
    }

    #[test]
    fn the_body_keeps_its_shape() {
        let body = ErrorBody::new(ErrorCode::LeaseLost, "the run moved on");
        assert_eq!(
            serde_json::to_value(&body).expect("serialise"),
            serde_json::json!({"error": {"code": "lease_lost", "message": "the run moved on"}})
        );
    }
}
