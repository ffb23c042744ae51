//! [`Bucket`]: the S3 client built from [`S3Settings`], and the plain object operations (put, get,
//! head, delete, list, delete a prefix, JSON in and out).

use std::fmt;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use bytes::{Bytes, BytesMut};

use crate::S3Settings;
use crate::error::{self, Error};

/// The configured bucket. Cheap to clone (the clients share their connection pool).
#[derive(Clone)]
pub struct Bucket {
    /// For `S3_ENDPOINT`: every request this process sends.
    pub(crate) client: Client,
    /// For the public endpoint: only signs URLs (signing does no I/O).
    pub(crate) signer: Client,
    pub(crate) name: String,
    endpoint: String,
    signing_endpoint: String,
}

impl fmt::Debug for Bucket {
    /// Where, never with what credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bucket")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("signing_endpoint", &self.signing_endpoint)
            .finish_non_exhaustive()
    }
}

/// An object being read ([`Bucket::download`]).
pub struct Download {
    /// Its length, as the store declared it.
    pub size: Option<u64>,
    body: ByteStream,
}

impl Download {
    /// The next chunk of the body; `None` at its end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.body
            .try_next()
            .await
            .map_err(|e| error::other("GetObject body", e))
    }
}

/// What [`Bucket::head`] learns of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

/// The one S3 client configuration: explicit credentials (no environment, profile or instance
/// metadata lookup), the given region and addressing style.
fn client(s: &S3Settings, endpoint: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s.region.clone()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            s.access_key.expose(),
            s.secret_key.expose(),
            None,
            None,
            "workcell-settings",
        ))
        .force_path_style(s.force_path_style)
        // S3-compatible stores (R2, RustFS, s3s) differ in their support of the newer default
        // checksums; send them only where the API requires them.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    Client::from_conf(config)
}

impl Bucket {
    /// The bucket of `settings`. Does no I/O; [`Bucket::check`] tells whether it is reachable.
    pub fn new(settings: &S3Settings) -> Self {
        Self {
            client: client(settings, &settings.endpoint),
            signer: client(settings, settings.signing_endpoint()),
            name: settings.bucket.clone(),
            endpoint: settings.endpoint.clone(),
            signing_endpoint: settings.signing_endpoint().to_owned(),
        }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the bucket exists and these credentials may use it (`HeadBucket`), for readiness.
    pub async fn check(&self) -> Result<(), Error> {
        self.client
            .head_bucket()
            .bucket(&self.name)
            .send()
            .await
            .map_err(error::s3("HeadBucket"))?;
        Ok(())
    }

    /// Writes `body` as `key` in one request.
    pub async fn put(
        &self,
        key: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .map_err(error::s3("PutObject"))?;
        Ok(())
    }

    /// Writes `value` as pretty-printed JSON (`application/json`).
    pub async fn put_json<T: serde::Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), Error> {
        let body = serde_json::to_vec_pretty(value).map_err(|e| Error::Json {
            key: key.to_owned(),
            message: e.to_string(),
        })?;
        self.put(key, "application/json", body).await
    }

    /// Reads `key` whole, refusing objects over `max_bytes` (by their declared length, and again
    /// while reading). `None` when it does not exist.
    pub async fn get(&self, key: &str, max_bytes: u64) -> Result<Option<Bytes>, Error> {
        let res = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await;
        let out = match res {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(error::s3("GetObject")(e)),
        };
        let too_large = || Error::TooLarge {
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
        let mut buf = BytesMut::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| error::other("GetObject body", e))?
        {
            if (buf.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Some(buf.freeze()))
    }

    /// Opens `key` for reading in chunks, without holding it whole; `None` when it does not
    /// exist.
    pub async fn download(&self, key: &str) -> Result<Option<Download>, Error> {
        self.open(key, None).await
    }

    /// Opens bytes `start..=end` of `key` (`end` included; to its end when `None`) for reading in
    /// chunks; `None` when it does not exist. The caller keeps `start` below the object's size
    /// (the store answers an error otherwise).
    pub async fn download_range(
        &self,
        key: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Option<Download>, Error> {
        let range = match end {
            Some(end) => format!("bytes={start}-{end}"),
            None => format!("bytes={start}-"),
        };
        self.open(key, Some(range)).await
    }

    /// GetObject, whole or with an HTTP `Range`.
    async fn open(&self, key: &str, range: Option<String>) -> Result<Option<Download>, Error> {
        match self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(o) => Ok(Some(Download {
                size: o.content_length().and_then(|n| u64::try_from(n).ok()),
                body: o.body,
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(error::s3("GetObject")(e)),
        }
    }

    /// Reads `key` as JSON, refusing objects over `max_bytes`. `None` when it does not exist.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        max_bytes: u64,
    ) -> Result<Option<T>, Error> {
        let Some(bytes) = self.get(key, max_bytes).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Json {
                key: key.to_owned(),
                message: e.to_string(),
            })
    }

    /// The size and content type of `key`; `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, Error> {
        match self
            .client
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(ObjectInfo {
                size: o
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                content_type: o.content_type().map(str::to_owned),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(error::s3("HeadObject")(e)),
        }
    }

    /// Deletes `key` (S3 answers success when there was nothing to delete).
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(error::s3("DeleteObject"))?;
        Ok(())
    }

    /// Every key under `prefix`, in the store's (lexicographic) order; follows pagination.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let (page, next) = self.list_page(prefix, token.take()).await?;
            keys.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => return Ok(keys),
            }
        }
    }

    /// One listing page (up to 1,000 keys) under `prefix` from `token`, and the token of the next
    /// page if there is one.
    async fn list_page(
        &self,
        prefix: &str,
        token: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), Error> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(error::s3("ListObjectsV2"))?;
        let keys = page
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        let next = match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => Some(t.to_owned()),
            _ => None,
        };
        Ok((keys, next))
    }

    /// Deletes every object whose key starts with `prefix`: one listing page (up to 1,000 keys)
    /// at a time, each deleted in one `DeleteObjects` request. Returns how many were deleted.
    /// Stops at the first key the store did not delete, so a caller that keeps its own record
    /// until this succeeds never orphans an object.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, Error> {
        let mut deleted = 0;
        let mut token = None;
        loop {
            let (page, next) = self.list_page(prefix, token.take()).await?;
            let objects = page
                .into_iter()
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| error::other("DeleteObjects", e))?;
            if !objects.is_empty() {
                let count = objects.len() as u64;
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| error::other("DeleteObjects", e))?;
                let out = self
                    .client
                    .delete_objects()
                    .bucket(&self.name)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(error::s3("DeleteObjects"))?;
                if let Some(failed) = out.errors().first() {
                    return Err(error::other(
                        "DeleteObjects",
                        format!(
                            "{} of {count} keys not deleted; {}: {} {}",
                            out.errors().len(),
                            failed.key().unwrap_or("?"),
                            failed.code().unwrap_or("?"),
                            failed.message().unwrap_or_default(),
                        ),
                    ));
                }
                deleted += count;
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(deleted),
            }
        }
    }
}
