//! Multipart uploads: [`Multipart`], one upload driven part by part (uploaded bytes or ranges
//! copied from another object), and [`Bucket::upload_stream`], the streamed upload both services
//! use, which holds at most one part in memory and leaves nothing behind when it fails.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

use crate::Bucket;
use crate::error::{self, Error, UploadError};

/// The size of every part but the last, and the size from which [`Bucket::upload_stream`] uses
/// a multipart upload. S3 wants at least 5 MiB per part but the last.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// The most parts one upload may have (S3's limit).
pub const MAX_PARTS: usize = 10_000;

/// A multipart upload in progress. End it with [`Multipart::complete`] (which aborts it if
/// completing fails) or [`Multipart::abort`]; one that is dropped stays in the store until its
/// lifecycle rules reclaim it.
#[must_use = "a multipart upload must be completed or aborted"]
pub struct Multipart<'a> {
    bucket: &'a Bucket,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
}

impl Bucket {
    /// Starts a multipart upload of `key`.
    pub async fn start_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> Result<Multipart<'_>, Error> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(error::s3("CreateMultipartUpload"))?;
        let upload_id = created
            .upload_id()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| error::other("CreateMultipartUpload", "no upload id in the answer"))?
            .to_owned();
        Ok(Multipart {
            bucket: self,
            key: key.to_owned(),
            upload_id,
            parts: Vec::new(),
        })
    }

    /// Streams `body` into `key`, counting: once more than `limit` bytes arrived it stops, aborts
    /// the multipart upload if one was started, and answers [`UploadError::TooLarge`]; nothing is
    /// left in the bucket. Under [`PART_SIZE`] in all, one `PutObject`; else parts of
    /// [`PART_SIZE`]. At most about one part is held in memory. An error from `body` stops the
    /// upload the same way and is answered as it came. Returns the size.
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
        let mut multipart: Option<Multipart<'_>> = None;
        let read: Result<(), UploadError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                total += chunk.len() as u64;
                if total > limit {
                    return Err(UploadError::TooLarge);
                }
                buf.extend_from_slice(&chunk);
                while buf.len() >= PART_SIZE {
                    let part = buf.split_to(PART_SIZE).freeze();
                    let m = match multipart.as_mut() {
                        Some(m) => m,
                        None => multipart.insert(self.start_multipart(key, content_type).await?),
                    };
                    m.upload_part(part).await?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = read {
            if let Some(m) = multipart {
                m.abort().await;
            }
            return Err(e);
        }
        match multipart {
            None => self.put(key, content_type, buf.freeze()).await?,
            Some(mut m) => {
                if !buf.is_empty()
                    && let Err(e) = m.upload_part(buf.freeze()).await
                {
                    m.abort().await;
                    return Err(e.into());
                }
                m.complete().await?;
            }
        }
        Ok(total)
    }
}

impl Multipart<'_> {
    /// The next part's number (1-based), or an error past [`MAX_PARTS`].
    fn next_number(&self) -> Result<i32, Error> {
        if self.parts.len() >= MAX_PARTS {
            return Err(error::other(
                "UploadPart",
                format!("more than {MAX_PARTS} parts"),
            ));
        }
        i32::try_from(self.parts.len() + 1).map_err(|e| error::other("UploadPart", e))
    }

    /// Uploads `data` as the next part.
    pub async fn upload_part(&mut self, data: Bytes) -> Result<(), Error> {
        let number = self.next_number()?;
        let out = self
            .bucket
            .client
            .upload_part()
            .bucket(&self.bucket.name)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(error::s3("UploadPart"))?;
        self.push(number, out.e_tag());
        Ok(())
    }

    /// Makes bytes `start..end` of the object `source_key` (same bucket) the next part, copied
    /// inside the store (`UploadPartCopy`).
    pub async fn copy_part(&mut self, source_key: &str, start: u64, end: u64) -> Result<(), Error> {
        if end <= start {
            return Err(error::other(
                "UploadPartCopy",
                format!("empty range {start}..{end}"),
            ));
        }
        let number = self.next_number()?;
        let out = self
            .bucket
            .client
            .upload_part_copy()
            .bucket(&self.bucket.name)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .copy_source(format!("{}/{source_key}", self.bucket.name))
            .copy_source_range(format!("bytes={start}-{}", end - 1))
            .send()
            .await
            .map_err(error::s3("UploadPartCopy"))?;
        self.push(number, out.copy_part_result().and_then(|r| r.e_tag()));
        Ok(())
    }

    fn push(&mut self, number: i32, e_tag: Option<&str>) {
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(e_tag.map(str::to_owned))
                .build(),
        );
    }

    /// Completes the upload: the object appears with every part in order. On failure the upload
    /// is aborted (nothing is left) and the error answered.
    pub async fn complete(self) -> Result<(), Error> {
        let res = self
            .bucket
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket.name)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = error::s3("CompleteMultipartUpload")(e);
                self.abort().await;
                Err(e)
            }
        }
    }

    /// Aborts the upload, discarding its parts. A failure is logged (the store's lifecycle rules
    /// reclaim abandoned uploads) and does not change the caller's answer.
    pub async fn abort(self) {
        if let Err(e) = self
            .bucket
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket.name)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await
        {
            tracing::warn!(
                key = %self.key,
                error = %error::s3("AbortMultipartUpload")(e),
                "aborting a multipart upload failed"
            );
        }
    }
}
