//! What a bucket operation can answer instead of its result.

use std::fmt;

use aws_sdk_s3::error::{DisplayErrorContext, SdkError};

/// A failed bucket operation. Messages name the S3 operation and the store's error code (or why
/// the store was not reached), never the request's signature or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store refused the request, answered with an error, or was not reached.
    #[error("S3 {op} failed: {message}")]
    S3 { op: &'static str, message: String },
    /// The object is larger than the caller's cap; nothing of it was kept.
    #[error("object {key} is larger than {limit} bytes")]
    TooLarge { key: String, limit: u64 },
    /// The object is not the JSON the caller expected (or a value could not be encoded).
    #[error("object {key} is not the expected JSON: {message}")]
    Json { key: String, message: String },
}

/// Why [`crate::Bucket::upload_stream`] stopped. Also the error type of the stream it reads, so
/// that the source can say "too large" or "unreadable" itself.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// More than the limit arrived; nothing was kept.
    #[error("the upload is larger than the limit")]
    TooLarge,
    /// The source of the bytes failed (a malformed request body, a dropped connection, an
    /// unreadable file).
    #[error("{0}")]
    Body(String),
    /// The store failed; nothing was kept.
    #[error(transparent)]
    Store(#[from] Error),
}

/// The longest error message kept from the SDK.
const MAX_MESSAGE: usize = 500;

/// Maps an SDK error of operation `op` to [`Error::S3`]: the error and its sources (the S3
/// error code and message, or the connection error), cut to [`MAX_MESSAGE`] characters.
pub(crate) fn s3<E, R>(op: &'static str) -> impl FnOnce(SdkError<E, R>) -> Error
where
    E: std::error::Error + 'static,
    R: fmt::Debug,
{
    move |e| Error::S3 {
        op,
        message: DisplayErrorContext(&e)
            .to_string()
            .chars()
            .take(MAX_MESSAGE)
            .collect(),
    }
}

/// [`Error::S3`] from a plain message.
pub(crate) fn other(op: &'static str, message: impl fmt::Display) -> Error {
    Error::S3 {
        op,
        message: message.to_string().chars().take(MAX_MESSAGE).collect(),
    }
}
