//! [`S3Settings`]: where the bucket is and the credentials to sign with, as each service reads
//! them from its `S3_*` variables.

use service_config::Secret;

/// The bucket's connection settings. Each service builds one from its own settings
/// (`Settings::s3()` in the backend and in the manager). `Debug` redacts both keys
/// ([`Secret`]).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `S3_ENDPOINT`: the URL this process reaches the store at.
    pub endpoint: String,
    /// `S3_PUBLIC_ENDPOINT`: the URL presigned URLs name, for clients that reach the store at
    /// another address than this process does (browsers). `None`: [`Self::endpoint`].
    pub public_endpoint: Option<String>,
    /// `S3_REGION` (S3-compatible stores accept `us-east-1` or `auto`).
    pub region: String,
    /// `S3_BUCKET`: the one bucket every key lives in.
    pub bucket: String,
    /// `S3_ACCESS_KEY`.
    pub access_key: Secret<String>,
    /// `S3_SECRET_KEY`.
    pub secret_key: Secret<String>,
    /// `S3_FORCE_PATH_STYLE`: `http://host/bucket/key` instead of `http://bucket.host/key`.
    pub force_path_style: bool,
}

impl S3Settings {
    /// The endpoint presigned URLs are signed for: the public one, else the one this process
    /// uses.
    pub fn signing_endpoint(&self) -> &str {
        self.public_endpoint.as_deref().unwrap_or(&self.endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_credential() {
        let s = S3Settings {
            endpoint: "http://s3:9000".into(),
            public_endpoint: Some("https://files.example.com".into()),
            region: "auto".into(),
            bucket: "b".into(),
            access_key: "access-very-secret".into(),
            secret_key: "secret-very-secret".into(),
            force_path_style: true,
        };
        let text = format!("{s:?}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
        assert!(text.contains("http://s3:9000"), "{text}");
        assert_eq!(s.signing_endpoint(), "https://files.example.com");
        let own = S3Settings {
            public_endpoint: None,
            ..s
        };
        assert_eq!(own.signing_endpoint(), "http://s3:9000");
    }
}
