//! Every bucket operation against a real SigV4-checking S3 server: s3s-fs, started by
//! `test_support::s3` (`S3S_FS_BIN`, else `$WORKCELL_TOOLS/bin/s3s-fs` as `scripts/lib.sh`
//! installs it).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use objstore::{Bucket, Error, PART_SIZE, S3Settings, UploadError};
use test_support::s3::{BUCKET, S3Server};

/// A private s3s-fs and the settings of its bucket; stopped when dropped.
struct Server(S3Server);

impl Server {
    async fn start() -> Self {
        Server(S3Server::start().await)
    }

    fn settings(&self) -> S3Settings {
        S3Settings {
            endpoint: self.0.endpoint.clone(),
            public_endpoint: None,
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            access_key: self.0.access_key.clone().into(),
            secret_key: self.0.secret_key.clone().into(),
            force_path_style: true,
        }
    }

    fn bucket(&self) -> Bucket {
        Bucket::new(&self.settings())
    }

    /// Every file s3s-fs holds on disk: objects, their metadata, and the parts of unfinished
    /// multipart uploads.
    fn files_on_disk(&self) -> Vec<std::path::PathBuf> {
        self.0.files_on_disk()
    }
}

/// Deterministic, incompressible-enough bytes.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// `bytes` as a stream of `chunk`-sized pieces.
fn chunks(
    bytes: &[u8],
    chunk: usize,
) -> impl futures::Stream<Item = Result<Bytes, UploadError>> + Unpin + use<> {
    let pieces: Vec<Result<Bytes, UploadError>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(pieces)
}

#[tokio::test]
async fn objects_are_put_read_listed_and_deleted() {
    let s3 = Server::start().await;
    let b = s3.bucket();
    b.check().await.unwrap();
    assert_eq!(b.name(), BUCKET);

    b.put("a/one.txt", "text/plain", &b"one"[..]).await.unwrap();
    b.put("a/two.txt", "text/plain", Bytes::from_static(b"two"))
        .await
        .unwrap();
    b.put("b/three", "application/octet-stream", vec![3u8; 10])
        .await
        .unwrap();
    assert_eq!(
        b.get("a/one.txt", 3).await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert!(b.get("a/missing", 10).await.unwrap().is_none());
    let info = b.head("b/three").await.unwrap().unwrap();
    assert_eq!(info.size, 10);
    assert_eq!(
        info.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert!(b.head("b/missing").await.unwrap().is_none());
    assert_eq!(b.list("a/").await.unwrap(), vec!["a/one.txt", "a/two.txt"]);

    b.delete("a/one.txt").await.unwrap();
    assert!(b.get("a/one.txt", 10).await.unwrap().is_none());
    // Deleting what is not there is no error.
    b.delete("a/one.txt").await.unwrap();
    assert_eq!(b.list("").await.unwrap(), vec!["a/two.txt", "b/three"]);
}

#[tokio::test]
async fn reads_are_capped_and_json_is_checked() {
    let s3 = Server::start().await;
    let b = s3.bucket();
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        n: u32,
        s: String,
    }
    let doc = Doc {
        n: 7,
        s: "x".repeat(100),
    };
    b.put_json("d.json", &doc).await.unwrap();
    assert_eq!(
        b.head("d.json")
            .await
            .unwrap()
            .unwrap()
            .content_type
            .as_deref(),
        Some("application/json")
    );
    let back: Doc = b.get_json("d.json", 1024).await.unwrap().unwrap();
    assert_eq!(back, doc);
    assert!(
        b.get_json::<Doc>("nope.json", 1024)
            .await
            .unwrap()
            .is_none()
    );

    // Over the cap: refused, whatever it holds.
    let err = b.get_json::<Doc>("d.json", 50).await.unwrap_err();
    assert!(
        matches!(&err, Error::TooLarge { key, limit: 50 } if key == "d.json"),
        "{err}"
    );
    let err = b.get("d.json", 50).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");

    // Not the expected shape.
    b.put("bad.json", "application/json", &b"{\"n\": \"seven\"}"[..])
        .await
        .unwrap();
    let err = b.get_json::<Doc>("bad.json", 1024).await.unwrap_err();
    assert!(matches!(err, Error::Json { .. }), "{err}");
}

#[tokio::test]
async fn wrong_credentials_and_missing_buckets_are_errors_without_secrets() {
    let s3 = Server::start().await;
    let wrong = Bucket::new(&S3Settings {
        secret_key: "wrong-secret-value".into(),
        ..s3.settings()
    });
    let err = wrong.check().await.unwrap_err();
    assert!(err.to_string().starts_with("S3 HeadBucket failed"), "{err}");
    let err = wrong.put("k", "text/plain", &b"x"[..]).await.unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("S3 PutObject failed"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
    assert!(wrong.get("k", 10).await.is_err());

    let missing = Bucket::new(&S3Settings {
        bucket: "no-such-bucket".into(),
        ..s3.settings()
    });
    assert!(missing.check().await.is_err());

    let closed = Bucket::new(&S3Settings {
        endpoint: "http://127.0.0.1:9".into(),
        ..s3.settings()
    });
    let err = closed.check().await.unwrap_err();
    assert!(err.to_string().starts_with("S3 HeadBucket failed"), "{err}");
}

#[tokio::test]
async fn streamed_uploads_switch_to_parts_and_leave_nothing_when_they_fail() {
    let s3 = Server::start().await;
    let b = s3.bucket();

    // Small: one PutObject.
    let small = data(1000, 1);
    let n = b
        .upload_stream("u/small", "text/csv", chunks(&small, 100), 10_000)
        .await
        .unwrap();
    assert_eq!(n, 1000);
    assert_eq!(
        b.get("u/small", 1000).await.unwrap().as_deref(),
        Some(&small[..])
    );
    assert_eq!(
        b.head("u/small")
            .await
            .unwrap()
            .unwrap()
            .content_type
            .as_deref(),
        Some("text/csv")
    );
    // Empty: an empty object.
    let n = b
        .upload_stream("u/empty", "text/plain", chunks(&[], 1), 10)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(b.head("u/empty").await.unwrap().unwrap().size, 0);

    // Larger than a part, in odd chunks: parts of PART_SIZE and a shorter last one.
    let big = data(2 * PART_SIZE + 12_345, 2);
    let n = b
        .upload_stream(
            "u/big",
            "application/zip",
            chunks(&big, 1_000_003),
            u64::MAX,
        )
        .await
        .unwrap();
    assert_eq!(n, big.len() as u64);
    let back = b.get("u/big", u64::MAX).await.unwrap().unwrap();
    assert!(back[..] == big[..], "the parts came back out of order");

    let before = s3.files_on_disk();
    // Over the limit after a part went up: aborted, nothing of it remains.
    let err = b
        .upload_stream(
            "u/too-big",
            "text/plain",
            chunks(&big, 1 << 20),
            PART_SIZE as u64 + 10,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::TooLarge), "{err}");
    // The source fails after a part went up: the same, and its error is answered.
    let failing = chunks(&big[..PART_SIZE + 100], 1 << 20).chain(futures::stream::iter([Err(
        UploadError::Body("connection reset".into()),
    )]));
    let err = b
        .upload_stream("u/broken", "text/plain", failing, u64::MAX)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UploadError::Body(m) if m == "connection reset"),
        "{err}"
    );
    assert!(b.head("u/too-big").await.unwrap().is_none());
    assert!(b.head("u/broken").await.unwrap().is_none());
    assert_eq!(s3.files_on_disk(), before, "an aborted upload left files");
}

#[tokio::test]
async fn multipart_uploads_copy_ranges_of_other_objects() {
    let s3 = Server::start().await;
    let b = s3.bucket();
    let old = data(3 * PART_SIZE, 3);
    b.put("m/old", "application/zip", old.clone())
        .await
        .unwrap();

    // New object: a new first part, then 2 parts' worth copied from the old one.
    let head = data(PART_SIZE, 4);
    let mut m = b.start_multipart("m/new", "application/zip").await.unwrap();
    m.upload_part(Bytes::from(head.clone())).await.unwrap();
    m.copy_part("m/old", PART_SIZE as u64, 3 * PART_SIZE as u64)
        .await
        .unwrap();
    m.complete().await.unwrap();
    let got = b.get("m/new", u64::MAX).await.unwrap().unwrap();
    assert_eq!(got.len(), 3 * PART_SIZE);
    assert!(got[..PART_SIZE] == head[..]);
    assert!(got[PART_SIZE..] == old[PART_SIZE..]);

    // A copy from a missing object fails; the upload is then aborted and leaves nothing.
    let before = s3.files_on_disk();
    let mut m = b.start_multipart("m/none", "text/plain").await.unwrap();
    let err = m.copy_part("m/missing", 0, 10).await.unwrap_err();
    assert!(
        err.to_string().starts_with("S3 UploadPartCopy failed"),
        "{err}"
    );
    assert!(m.copy_part("m/old", 5, 5).await.is_err(), "an empty range");
    m.abort().await;
    assert!(b.head("m/none").await.unwrap().is_none());
    assert_eq!(s3.files_on_disk(), before);
}

#[tokio::test]
async fn delete_prefix_pages_through_everything_under_it_and_nothing_else() {
    let s3 = Server::start().await;
    let b = s3.bucket();
    // More than one listing page (1,000 keys), nested, next to look-alike prefixes.
    let keys: Vec<String> = (0..1_005)
        .map(|i| format!("workspaces/s1/runs/r{}/files/f{i}", i % 7))
        .chain([
            "workspaces/s10/x".into(),
            "workspaces/s2/latest.json".into(),
        ])
        .collect();
    futures::stream::iter(keys.iter())
        .map(|k| b.put(k, "text/plain", &b"x"[..]))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<()>, Error>>()
        .unwrap();
    assert_eq!(b.list("workspaces/s1/").await.unwrap().len(), 1_005);

    assert_eq!(b.delete_prefix("workspaces/s1/").await.unwrap(), 1_005);
    assert!(b.list("workspaces/s1/").await.unwrap().is_empty());
    assert_eq!(
        b.list("workspaces/").await.unwrap(),
        vec!["workspaces/s10/x", "workspaces/s2/latest.json"]
    );
    // Nothing left: nothing to do.
    assert_eq!(b.delete_prefix("workspaces/s1/").await.unwrap(), 0);
}

#[tokio::test]
async fn presigned_urls_work_for_whoever_holds_them() {
    let s3 = Server::start().await;
    let b = s3.bucket();
    let http = reqwest::Client::new();
    let now = SystemTime::now();

    let put = b
        .presign_put("p/up.txt", now, Duration::from_secs(60), "text/plain")
        .await
        .unwrap();
    let res = http
        .put(&put)
        .header("content-type", "text/plain")
        .body("uploaded")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        b.get("p/up.txt", 100).await.unwrap().as_deref(),
        Some(&b"uploaded"[..])
    );

    let get = b
        .presign_get("p/up.txt", now, Duration::from_secs(60), Some("up.txt"))
        .await
        .unwrap();
    let res = http.get(&get).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.text().await.unwrap(), "uploaded");
    // The signature covers the key: another key with the same query is refused.
    let other = get.replacen("p/up.txt", "p/other.txt", 1);
    let res = http.get(&other).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // And it ends: a URL whose window is over is refused.
    let stale = b
        .presign_get(
            "p/up.txt",
            now - Duration::from_secs(120),
            Duration::from_secs(60),
            None,
        )
        .await
        .unwrap();
    let res = http.get(&stale).send().await.unwrap();
    assert_eq!(res.status(), 403);
}
