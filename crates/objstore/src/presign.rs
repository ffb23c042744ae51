//! Presigned URLs: a GET or a PUT of one key that whoever holds the URL may send, until it
//! expires, without credentials of their own. Signed for the public endpoint
//! ([`crate::S3Settings::public_endpoint`]) so that browsers (or executors) can reach the host.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;

use crate::Bucket;
use crate::error::{self, Error};

impl Bucket {
    /// A GET URL of `key`, valid for `expires` from `start`.
    ///
    /// With `download_name`, the store answers `Content-Disposition: attachment` with that file
    /// name ([`attachment_disposition`]). Objects are written by agents: an HTML file opened
    /// from such a URL would otherwise render, scripts and all, in the store's origin; as an
    /// attachment it is saved instead. (`fetch` from a page still reads the bytes.) The
    /// parameter is signed with the rest, so it cannot be removed from the URL. Pass one `start`
    /// for a whole listing so every URL shares one expiry.
    pub async fn presign_get(
        &self,
        key: &str,
        start: SystemTime,
        expires: Duration,
        download_name: Option<&str>,
    ) -> Result<String, Error> {
        let req = self
            .signer
            .get_object()
            .bucket(&self.name)
            .key(key)
            .set_response_content_disposition(download_name.map(attachment_disposition))
            .presigned(config(start, expires)?)
            .await
            .map_err(error::s3("presign GetObject"))?;
        Ok(req.uri().to_owned())
    }

    /// A PUT URL of `key`, valid for `expires` from `start`. The content type is signed: the
    /// upload must send `Content-Type: {content_type}`.
    pub async fn presign_put(
        &self,
        key: &str,
        start: SystemTime,
        expires: Duration,
        content_type: &str,
    ) -> Result<String, Error> {
        let req = self
            .signer
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .presigned(config(start, expires)?)
            .await
            .map_err(error::s3("presign PutObject"))?;
        Ok(req.uri().to_owned())
    }
}

fn config(start: SystemTime, expires: Duration) -> Result<PresigningConfig, Error> {
    PresigningConfig::builder()
        .start_time(start)
        .expires_in(expires)
        .build()
        .map_err(|e| error::other("presign", e))
}

/// `attachment; filename="..."` for `name` (RFC 6266): an ASCII stand-in in `filename` (quotes,
/// backslashes, control and non-ASCII characters replaced by `_`) and, when that changed
/// anything, the exact name in `filename*` (RFC 5987: UTF-8, percent-encoded).
pub fn attachment_disposition(name: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::S3Settings;

    #[test]
    fn content_disposition_is_an_attachment_with_an_encoded_name() {
        assert_eq!(
            attachment_disposition("page.html"),
            r#"attachment; filename="page.html""#
        );
        assert_eq!(
            attachment_disposition(""),
            r#"attachment; filename="download""#
        );
        assert_eq!(
            attachment_disposition("résumé v2.pdf"),
            r#"attachment; filename="r_sum_ v2.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20v2.pdf"#
        );
        assert_eq!(
            attachment_disposition("a\"b\\c\nd;.txt"),
            r#"attachment; filename="a_b_c_d;.txt"; filename*=UTF-8''a%22b%5Cc%0Ad%3B.txt"#
        );
    }

    fn bucket(public: Option<&str>) -> Bucket {
        Bucket::new(&S3Settings {
            endpoint: "http://127.0.0.1:9".into(),
            public_endpoint: public.map(str::to_owned),
            region: "us-east-1".into(),
            bucket: "b".into(),
            access_key: "ak".into(),
            secret_key: "very-secret-key".into(),
            force_path_style: true,
        })
    }

    /// Signing does no I/O: these run without a store (port 9 is closed).
    #[tokio::test]
    async fn urls_name_the_public_endpoint_and_sign_the_disposition() {
        let start = SystemTime::now();
        let url = bucket(Some("https://files.example.com"))
            .presign_get("k/a.html", start, Duration::from_secs(300), Some("a.html"))
            .await
            .unwrap();
        assert!(
            url.starts_with("https://files.example.com/b/k/a.html?"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=300"), "{url}");
        assert!(
            url.contains("response-content-disposition=attachment%3B%20filename%3D%22a.html%22"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(!url.contains("very-secret-key"), "{url}");

        let url = bucket(None)
            .presign_get("k/a", start, Duration::from_secs(600), None)
            .await
            .unwrap();
        assert!(url.starts_with("http://127.0.0.1:9/b/k/a?"), "{url}");
        assert!(!url.contains("response-content-disposition"), "{url}");

        let url = bucket(None)
            .presign_put("k/up", start, Duration::from_secs(60), "text/plain")
            .await
            .unwrap();
        assert!(url.starts_with("http://127.0.0.1:9/b/k/up?"), "{url}");
        assert!(
            url.contains("X-Amz-SignedHeaders=content-type%3Bhost"),
            "{url}"
        );

        // S3 refuses expiries over a week; so does the signer, before any URL exists.
        let err = bucket(None)
            .presign_get("k", start, Duration::from_secs(8 * 24 * 3600), None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("presign"), "{err}");
    }
}
