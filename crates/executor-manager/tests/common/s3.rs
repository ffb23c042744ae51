//! A real SigV4-checking S3 server for tests: s3s-fs over a temporary directory, bucket `workcell`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

pub const BUCKET: &str = "workcell";

pub struct S3Server {
    child: tokio::process::Child,
    pub endpoint: String,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// The directory s3s-fs serves (objects are files under `root/bucket/key`).
    pub fn root(&self) -> &Path {
        self._root.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

pub async fn s3s_fs() -> S3Server {
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
        .args(["--access-key", "test-access", "--secret-key", "test-secret"])
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start s3s-fs");
    let endpoint = format!("http://127.0.0.1:{port}");
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
        child,
        endpoint,
        _root: root,
    }
}
