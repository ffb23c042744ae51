//! The backend tests' S3 server: test-support's private s3s-fs (fresh credentials, bucket
//! [`BUCKET`]), reached through `objstore` like the backend itself, with the object helpers the
//! tests use.

use std::ops::Deref;

use objstore::{Bucket, S3Settings};

pub use test_support::s3::BUCKET;

/// A running s3s-fs (see [`test_support::s3::S3Server`]: `endpoint`, `port`, `access_key`,
/// `secret_key`, `vars()`, `files_on_disk()`).
pub struct S3Server(test_support::s3::S3Server);

impl Deref for S3Server {
    type Target = test_support::s3::S3Server;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl S3Server {
    pub async fn start() -> Self {
        S3Server(test_support::s3::S3Server::start().await)
    }

    /// The bucket, as the backend's `Settings::s3()` would describe it.
    pub fn bucket(&self) -> Bucket {
        Bucket::new(&S3Settings {
            endpoint: self.endpoint.clone(),
            public_endpoint: None,
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            access_key: self.access_key.clone().into(),
            secret_key: self.secret_key.clone().into(),
            force_path_style: true,
        })
    }

    pub async fn put(&self, key: &str, body: &[u8]) {
        self.bucket()
            .put(key, "application/octet-stream", body.to_vec())
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.bucket()
            .get(key, u64::MAX)
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e}"))
            .map(|b| b.to_vec())
    }

    /// Every key in the bucket, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys = self.bucket().list("").await.unwrap();
        keys.sort();
        keys
    }
}
