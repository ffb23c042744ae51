//! Extractors whose rejections answer in the API's JSON error shape, so malformed input of any
//! kind (bad JSON, wrong types, a non-UUID in a path, an oversized body) gets a clear 4xx.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::ErrorCode;

use crate::error::ApiError;

/// `axum::Json` with JSON errors. On the public API a body whose text holds U+0000 is refused
/// with 422 before it is parsed: PostgreSQL stores no NUL in `text` or `jsonb`, so such a value
/// would otherwise fail at the insert, as a 500 (found by the schemathesis run,
/// `tests/schemathesis.rs`). The managers' internal routes take their bodies as they are.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        // Nested routers see their own part of the path: the original says which API this is.
        let internal = req
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or(req.uri().path(), |u| u.0.path())
            .starts_with("/api/v1/internal/");
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::bad_request(ErrorCode::BadBody, r.body_text())
            }
        })?;
        let bytes = if !has_nul_escape(&bytes) {
            bytes
        } else if internal {
            // What an agent printed (a binary file's bytes in a tool's output) is stored with
            // U+FFFD in place of each NUL rather than refused: the run's events must go in.
            Bytes::from(replace_nul_escapes(&bytes))
        } else {
            return Err(ApiError::validation(
                "text in the body must not contain NUL characters (U+0000)",
            ));
        };
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Json(value))
    }
}

/// Whether the request says its body is JSON: `application/json` or `application/…+json`, as
/// `axum::Json` decides.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

/// `json` with every `\u0000` escape replaced by `\ufffd` (the same length), other escapes
/// left whole.
fn replace_nul_escapes(json: &[u8]) -> Vec<u8> {
    let mut out = json.to_vec();
    let mut i = 0;
    while i < out.len() {
        if out[i] == b'\\' {
            if out.get(i + 1) == Some(&b'u')
                && out
                    .get(i + 2..i + 6)
                    .is_some_and(|hex| hex.iter().all(|&b| b == b'0'))
            {
                out[i + 2..i + 6].copy_from_slice(b"fffd");
                i += 6;
                continue;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}

/// Whether a JSON text holds U+0000. JSON can carry it only as the escape `\u0000` inside a
/// string (a raw NUL byte is a syntax error anywhere), so this looks for that escape, skipping
/// every other escape whole (an escaped backslash before `u0000` is not one).
fn has_nul_escape(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u')
                && json
                    .get(i + 2..i + 6)
                    .is_some_and(|hex| hex.iter().all(|&b| b == b'0'))
            {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with JSON errors.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query` with JSON errors.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => ApiError::validation(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::bad_request(ErrorCode::MalformedJson, e.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::bad_request(ErrorCode::BadBody, other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(ErrorCode::InvalidPath, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(ErrorCode::InvalidQuery, r.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not_them() {
        for (json, nul) in [
            (r#"{"a":"x\u0000y"}"#, true),
            (r#"{"a\u0000":1}"#, true),
            (r#"["\\\u0000"]"#, true),
            (r#"{"a":"\\u0000"}"#, false),
            (r#"{"a":"\u00001"}"#, true),
            (r#"{"a":"\u0001\u1000"}"#, false),
            (r#"{"a":"plain"}"#, false),
            (r#"{"a":"\"}"#, false),
        ] {
            assert_eq!(has_nul_escape(json.as_bytes()), nul, "{json}");
        }
    }

    #[test]
    fn nul_escapes_become_replacement_characters() {
        let out = replace_nul_escapes(br#"{"a":"x\u0000y\\u0000","b":"\u0000"}"#);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x\ufffdy\\u0000","b":"\ufffd"}"#
        );
    }

    #[test]
    fn json_content_types_are_recognised_like_axum_does() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            json_content_type(&h)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("Application/JSON"));
        assert!(with("application/problem+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonx"));
        assert!(!json_content_type(&HeaderMap::new()));
    }
}
