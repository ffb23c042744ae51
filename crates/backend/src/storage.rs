//! The backend's S3 bucket: presigned GET URLs for browsers, reads of export manifests, and
//! streamed uploads of attachments.
//!
//! Two clients over the same credentials: one for `S3_ENDPOINT` (what the backend itself talks
//! to) and one for `S3_PUBLIC_ENDPOINT` (used only to sign URLs, so they name a host browsers can
//! reach; signing does no I/O). Neither is ever handed a key from a request: callers take keys
//! from the database (`run_exports`, `attachments`) or build them from ids the database gave.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use crate::config::Settings;
use crate::error::ApiError;

/// Uploads larger than this go up in parts of this size (S3 wants at least 5 MiB per part but the
/// last); one part is all an upload ever holds in memory.
pub const UPLOAD_PART_SIZE: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("S3 {op} failed: {message}")]
    S3 { op: &'static str, message: String },
    #[error("object {key} is larger than {limit} bytes")]
    TooLarge { key: String, limit: u64 },
    #[error("object {key} is not the expected JSON: {message}")]
    Json { key: String, message: String },
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

fn s3_err<E: fmt::Debug>(op: &'static str) -> impl FnOnce(E) -> StorageError {
    move |e| StorageError::S3 {
        op,
        // The SDK's Display is terse ("service error"); Debug names the S3 error code.
        message: format!("{e:?}").chars().take(500).collect(),
    }
}

/// Why a streamed upload stopped.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// More than the limit arrived; nothing was kept.
    #[error("the upload is larger than the limit")]
    TooLarge,
    /// The client's body was unreadable (malformed multipart, connection dropped).
    #[error("{0}")]
    Body(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A presigned URL and when it stops working.
#[derive(Debug, Clone)]
pub struct Presigned {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// The bucket, as the backend uses it. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    signer: Client,
    bucket: String,
    endpoint: String,
    public_endpoint: String,
    expires: Duration,
}

impl fmt::Debug for Storage {
    /// Credentials stay out: only where and how long.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Storage")
            .field("endpoint", &self.endpoint)
            .field("public_endpoint", &self.public_endpoint)
            .field("bucket", &self.bucket)
            .field("presign_expires", &self.expires)
            .finish_non_exhaustive()
    }
}

fn client(settings: &Settings, endpoint: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.s3_region.clone()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            settings.s3_access_key.expose(),
            settings.s3_secret_key.expose(),
            None,
            None,
            "workcell-settings",
        ))
        .force_path_style(settings.s3_force_path_style)
        // S3-compatible stores (R2, RustFS, s3s) differ in their support of the newer default
        // checksums; send them only where the API requires them.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    Client::from_conf(config)
}

impl Storage {
    pub fn new(settings: &Settings) -> Self {
        Self {
            client: client(settings, &settings.s3_endpoint),
            signer: client(settings, settings.s3_public_endpoint()),
            bucket: settings.s3_bucket.clone(),
            endpoint: settings.s3_endpoint.clone(),
            public_endpoint: settings.s3_public_endpoint().to_owned(),
            expires: Duration::from_secs(settings.s3_presign_expires),
        }
    }

    /// The client for `S3_ENDPOINT` (tests inspect the bucket through it).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// When URLs signed now stop working.
    pub fn expiry_from(&self, now: SystemTime) -> DateTime<Utc> {
        DateTime::<Utc>::from(now + self.expires)
    }

    /// A presigned GET of `key` for `S3_PUBLIC_ENDPOINT`, valid `S3_PRESIGN_EXPIRES` from `now`,
    /// that makes the store answer `Content-Disposition: attachment; filename=...` with
    /// `download_name`. Objects are written by agents: an HTML file opened from such a URL would
    /// otherwise render, scripts and all, in the store's origin; as an attachment it is saved
    /// instead. (`fetch` from the page still reads the bytes.) The parameter is signed with the
    /// rest, so it cannot be removed from the URL. Pass one `now` for a whole listing so every
    /// URL shares the `expires_at` shown.
    pub async fn presign_download(
        &self,
        key: &str,
        download_name: &str,
        now: SystemTime,
    ) -> Result<String, StorageError> {
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(self.expires)
            .build()
            .map_err(s3_err("presign"))?;
        let req = self
            .signer
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(attachment(download_name))
            .presigned(config)
            .await
            .map_err(s3_err("presign GetObject"))?;
        Ok(req.uri().to_owned())
    }

    /// Reads `key` as JSON, refusing objects over `max_bytes`. `None` when it does not exist.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<T>, StorageError> {
        let res = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let out = match res {
            Ok(o) => o,
            Err(e) => {
                let service = e.into_service_error();
                if service.is_no_such_key() {
                    return Ok(None);
                }
                return Err(s3_err("GetObject")(service));
            }
        };
        let too_large = || StorageError::TooLarge {
            key: key.to_owned(),
            limit: max_bytes,
        };
        if out
            .content_length()
            .is_some_and(|n| u64::try_from(n).unwrap_or(u64::MAX) > max_bytes)
        {
            return Err(too_large());
        }
        let mut body = out.body;
        let mut buf = Vec::new();
        while let Some(chunk) = body.try_next().await.map_err(s3_err("GetObject body"))? {
            if (buf.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&buf)
            .map(Some)
            .map_err(|e| StorageError::Json {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_err("DeleteObject"))?;
        Ok(())
    }

    /// Streams `body` into `key`, counting: once more than `limit` bytes arrived it stops, aborts
    /// the multipart upload if one was started, and answers [`UploadError::TooLarge`]; nothing is
    /// left in the bucket. At most [`UPLOAD_PART_SIZE`] is held in memory. Returns the size.
    pub async fn upload_stream<S>(
        &self,
        key: &str,
        content_type: &str,
        mut body: S,
        limit: u64,
    ) -> Result<u64, UploadError>
    where
        S: Stream<Item = Result<Bytes, UploadError>> + Unpin,
    {
        let mut buf = BytesMut::new();
        let mut total: u64 = 0;
        let mut multipart: Option<Multipart> = None;
        let result: Result<(), UploadError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                total += chunk.len() as u64;
                if total > limit {
                    return Err(UploadError::TooLarge);
                }
                buf.extend_from_slice(&chunk);
                while buf.len() >= UPLOAD_PART_SIZE {
                    let part = buf.split_to(UPLOAD_PART_SIZE).freeze();
                    if multipart.is_none() {
                        multipart = Some(self.create_multipart(key, content_type).await?);
                    }
                    if let Some(m) = multipart.as_mut() {
                        self.upload_part(key, m, part).await?;
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            if let Some(m) = multipart {
                self.abort(key, &m.upload_id).await;
            }
            return Err(e);
        }
        match multipart {
            None => {
                self.client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .content_type(content_type)
                    .body(ByteStream::from(buf.freeze()))
                    .send()
                    .await
                    .map_err(s3_err("PutObject"))?;
            }
            Some(mut m) => {
                let finish = async {
                    if !buf.is_empty() {
                        self.upload_part(key, &mut m, buf.freeze()).await?;
                    }
                    self.client
                        .complete_multipart_upload()
                        .bucket(&self.bucket)
                        .key(key)
                        .upload_id(&m.upload_id)
                        .multipart_upload(
                            CompletedMultipartUpload::builder()
                                .set_parts(Some(m.parts.clone()))
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(s3_err("CompleteMultipartUpload"))?;
                    Ok::<_, StorageError>(())
                }
                .await;
                if let Err(e) = finish {
                    self.abort(key, &m.upload_id).await;
                    return Err(e.into());
                }
            }
        }
        Ok(total)
    }

    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Multipart, StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(s3_err("CreateMultipartUpload"))?;
        let upload_id = created
            .upload_id()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| StorageError::S3 {
                op: "CreateMultipartUpload",
                message: "no upload id in the answer".into(),
            })?
            .to_owned();
        Ok(Multipart {
            upload_id,
            parts: Vec::new(),
        })
    }

    async fn upload_part(
        &self,
        key: &str,
        m: &mut Multipart,
        data: Bytes,
    ) -> Result<(), StorageError> {
        let number = i32::try_from(m.parts.len() + 1).unwrap_or(i32::MAX);
        let part = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(&m.upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(s3_err("UploadPart"))?;
        m.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }

    /// Aborts a multipart upload; a failure is logged (the store's lifecycle rules reclaim
    /// abandoned uploads) and does not change the caller's answer.
    async fn abort(&self, key: &str, upload_id: &str) {
        if let Err(e) = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            tracing::warn!(error = ?e, "aborting a multipart upload failed");
        }
    }
}

/// `attachment; filename="..."` for `name` (RFC 6266): an ASCII stand-in in `filename` (quotes,
/// backslashes, control and non-ASCII characters replaced by `_`) and, when that changed
/// anything, the exact name in `filename*` (RFC 5987: UTF-8, percent-encoded).
pub fn attachment(name: &str) -> String {
    let name = if name.is_empty() { "download" } else { name };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if fallback == name {
        return format!("attachment; filename=\"{name}\"");
    }
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        // RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// A multipart upload in progress.
struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

#[cfg(test)]
mod tests {
    use super::attachment;

    #[test]
    fn content_disposition_is_an_attachment_with_an_encoded_name() {
        assert_eq!(
            attachment("page.html"),
            r#"attachment; filename="page.html""#
        );
        assert_eq!(attachment(""), r#"attachment; filename="download""#);
        assert_eq!(
            attachment("résumé v2.pdf"),
            r#"attachment; filename="r_sum_ v2.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20v2.pdf"#
        );
        assert_eq!(
            attachment("a\"b\\c\nd;.txt"),
            r#"attachment; filename="a_b_c_d;.txt"; filename*=UTF-8''a%22b%5Cc%0Ad%3B.txt"#
        );
    }
}
