//! The retention job's [`ObjectStore`] on the configured S3 bucket (`S3_*`): list a prefix, delete
//! what it holds. Kept apart from the file routes' storage so the job depends only on "delete a
//! prefix"; both read the same settings.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use futures::future::BoxFuture;

use crate::config::Settings;
use crate::retention::ObjectStore;

/// Deletes objects in `S3_BUCKET`.
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn from_settings(s: &Settings) -> Self {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(s.s3_region.clone()))
            .endpoint_url(&s.s3_endpoint)
            .credentials_provider(Credentials::new(
                s.s3_access_key.expose(),
                s.s3_secret_key.expose(),
                None,
                None,
                "workcell-settings",
            ))
            .force_path_style(s.s3_force_path_style)
            // S3-compatible stores differ in their support of the newer default checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Self {
            client: Client::from_conf(config),
            bucket: s.s3_bucket.clone(),
        }
    }

    async fn delete_all(&self, prefix: &str) -> Result<u64, String> {
        let mut deleted = 0;
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| format!("listing {prefix}: {}", describe(&e)))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| format!("deleting {key}: {}", describe(&e)))?;
                deleted += 1;
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(deleted),
            }
        }
    }
}

/// An S3 error without request details (no signatures, no credentials).
fn describe<E: std::fmt::Debug>(e: &aws_sdk_s3::error::SdkError<E>) -> String {
    match e {
        aws_sdk_s3::error::SdkError::ServiceError(s) => {
            format!("{:?}", s.err()).chars().take(300).collect()
        }
        other => format!("{other}"),
    }
}

impl ObjectStore for S3ObjectStore {
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64, String>> {
        Box::pin(self.delete_all(prefix))
    }
}
