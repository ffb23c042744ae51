//! A real SigV4-checking S3 server for tests: s3s-fs (`S3S_FS_BIN`, default
//! `/root/.cache/workcell-tools/bin/s3s-fs`) over a temporary directory, bucket `workcell`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;

pub const BUCKET: &str = "workcell";
pub const ACCESS_KEY: &str = "test-access";
pub const SECRET_KEY: &str = "test-secret";

pub struct S3Server {
    _child: tokio::process::Child,
    pub port: u16,
    pub endpoint: String,
    root: tempfile::TempDir,
}

impl S3Server {
    pub async fn start() -> Self {
        let bin = std::env::var("S3S_FS_BIN")
            .unwrap_or_else(|_| "/root/.cache/workcell-tools/bin/s3s-fs".into());
        assert!(
            Path::new(&bin).exists(),
            "s3s-fs not found at {bin}: cargo install s3s-fs --version 0.14.1 --features binary --root /root/.cache/workcell-tools"
        );
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start s3s-fs");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        S3Server {
            _child: child,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            root,
        }
    }

    /// The backend's S3 settings for this server.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("S3_ENDPOINT", self.endpoint.clone()),
            ("S3_ACCESS_KEY", ACCESS_KEY.into()),
            ("S3_SECRET_KEY", SECRET_KEY.into()),
            ("S3_BUCKET", BUCKET.into()),
        ]
    }

    pub fn client(&self) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
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

    /// Every file s3s-fs holds on disk (objects, and parts of unfinished multipart uploads).
    pub fn files_on_disk(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.path().to_owned()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out.sort();
        out
    }
}
