//! A private S3 server for a test: s3s-fs (real SigV4 checks) on a free loopback port, over a
//! temporary directory, with credentials made up for this server and one bucket, [`BUCKET`].
//! Building an S3 client for it is the caller's business (each crate has its own).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::net::free_port;
use crate::tools::s3s_fs_bin;

/// The one bucket every server has.
pub const BUCKET: &str = "workcell";

/// A running s3s-fs; killed when dropped.
pub struct S3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub port: u16,
    /// Fresh for each server: a test that sends the wrong credentials is refused.
    pub access_key: String,
    pub secret_key: String,
    child: tokio::process::Child,
    root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server and waits until it accepts connections. Panics when s3s-fs is not
    /// installed (see [`crate::tools::s3s_fs_bin`]) or does not come up.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// [`S3Server::start`] listening on `host` (`0.0.0.0`: containers reach it at the gateway
    /// too); `endpoint` stays the loopback address.
    pub async fn start_on(host: &str) -> Self {
        let bin = s3s_fs_bin();
        let root = tempfile::tempdir().expect("s3s-fs directory");
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket directory");
        let port = free_port();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let access_key = format!("test-access-{}", &nonce[..8]);
        let secret_key = format!("test-secret-{nonce}");
        let mut child = tokio::process::Command::new(&bin)
            .args(["--host", host, "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("s3s-fs exited during start-up: {status}");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "s3s-fs did not listen on port {port} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            access_key,
            secret_key,
            child,
            root,
        }
    }

    /// The `S3_*` settings of the backend and the manager for this server.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("S3_ENDPOINT", self.endpoint.clone()),
            ("S3_ACCESS_KEY", self.access_key.clone()),
            ("S3_SECRET_KEY", self.secret_key.clone()),
            ("S3_BUCKET", BUCKET.into()),
        ]
    }

    /// The directory s3s-fs serves: objects are files under `root/<bucket>/<key>`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Every file s3s-fs holds on disk (objects, their metadata and the parts of unfinished
    /// multipart uploads), sorted.
    pub fn files_on_disk(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.root().to_owned()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("read s3s-fs directory") {
                let e = e.expect("directory entry");
                if e.file_type().expect("file type").is_dir() {
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

impl Drop for S3Server {
    fn drop(&mut self) {
        // Gone at once (a test drops the server to see S3 fail), not when the runtime gets to it.
        let _ = self.child.start_kill();
    }
}
