//! The backend's error type, mapped to HTTP answers in exactly one place ([`IntoResponse`]).
//!
//! Every answer that is not a success has the body `{"error":{"code","message"}}`; `code` is stable
//! and machine-readable. Server-side failures are logged with their cause and answered with a
//! generic message, so internals (SQL, paths) never reach a client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorCode, error::ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is syntactically wrong (malformed JSON, bad query string, bad path).
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    /// The request is well-formed but its content is not acceptable.
    #[error("{0}")]
    Validation(String),
    /// Like [`ApiError::Validation`] (422), with a code of its own (e.g. `invalid_archive`).
    #[error("{message}")]
    Unprocessable { code: ErrorCode, message: String },
    #[error("{0}")]
    Unauthorized(String),
    /// Refused whoever asks (not a question of credentials), e.g. a WebSocket from a foreign page.
    #[error("{message}")]
    Forbidden { code: ErrorCode, message: String },
    /// Also the answer for another user's resources: their existence is not revealed.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No route has this path (the router's fallback): `route_not_found`, so a client can tell a
    /// server without a feature from a missing resource.
    #[error("route not found")]
    NoRoute,
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// 410: what the request acts on existed but is over (an input request that expired).
    #[error("{message}")]
    Gone { code: ErrorCode, message: String },
    #[error("request body is larger than this route accepts")]
    PayloadTooLarge,
    /// 413 with a message saying which limit (e.g. the unpacked size of an archive).
    #[error("{0}")]
    TooLarge(String),
    #[error("expected a request body with content type application/json")]
    UnsupportedMediaType,
    /// 416: a `Range` that starts at or past the end of a file of `size` bytes.
    #[error("the range starts past the end of the file ({size} bytes)")]
    RangeNotSatisfiable { size: u64 },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the service is shutting down")]
    ShuttingDown,
    /// A rate limit or login throttle; answered with `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_seconds: u64,
    },
    #[error("the request took too long and was abandoned")]
    Timeout,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A bucket failure is the server's (logged with its cause, answered as a generic 500).
impl From<objstore::Error> for ApiError {
    fn from(e: objstore::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl ApiError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::Validation(message.into())
    }

    /// The `{code, message}` this error answers with, for answers that carry one error per
    /// item (`POST /internal/runs/completions`); a server error's message is not disclosed.
    pub fn detail(&self) -> ErrorDetail {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            "internal server error".to_owned()
        } else {
            self.to_string()
        };
        ErrorDetail { code, message }
    }

    fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
            ApiError::Validation(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationError)
            }
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, *code),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, ErrorCode::RouteNotFound),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            ApiError::Gone { code, .. } => (StatusCode::GONE, *code),
            ApiError::PayloadTooLarge | ApiError::TooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            }
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            ),
            ApiError::RangeNotSatisfiable { .. } => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::RangeNotSatisfiable,
            ),
            ApiError::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed)
            }
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ShuttingDown),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
            }
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Timeout),
            ApiError::Database(sqlx::Error::PoolTimedOut) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable)
            }
            ApiError::Database(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => self.to_string(),
                _ => "internal server error".to_owned(),
            }
        } else {
            self.to_string()
        };
        let message = if matches!(self, ApiError::Database(sqlx::Error::PoolTimedOut)) {
            "the database is overloaded or unreachable; try again".to_owned()
        } else {
            message
        };
        let mut res = (status, axum::Json(ErrorBody::new(code, message))).into_response();
        if let ApiError::RangeNotSatisfiable { size } = self
            && let Ok(v) = http::HeaderValue::from_str(&format!("bytes */{size}"))
        {
            res.headers_mut().insert(http::header::CONTENT_RANGE, v);
        }
        if let ApiError::TooManyRequests {
            retry_after_seconds,
            ..
        } = self
        {
            res.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(retry_after_seconds),
            );
        }
        res
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
