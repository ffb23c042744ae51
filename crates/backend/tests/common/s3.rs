//! The backend tests' S3 server: test-support's private s3s-fs (fresh credentials, bucket
//! [`BUCKET`]), with an S3 client for it and the object helpers the tests use.

use std::ops::Deref;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;

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

    pub fn client(&self) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(
                &self.access_key,
                &self.secret_key,
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build();
        Client::from_conf(config)
    }

    pub async fn put(&self, key: &str, body: &[u8]) {
        self.client()
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self
            .client()
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
            Err(e) => panic!("get {key}: {e:?}"),
        }
    }

    /// Every key in the bucket, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let out = self
            .client()
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }
}
