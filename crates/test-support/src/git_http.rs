//! A smart-HTTP git server that requires basic auth, for private-repository tests:
//! `fixtures/git_http.py` (python3, standard library only) running `git http-backend` as CGI.
//! A client whose basic-auth password is the server's token (any user name) may fetch; anyone
//! else gets `401` with a `WWW-Authenticate` challenge, so git asks its `GIT_ASKPASS` program,
//! or fails when it has none. The server runs on the host, listening where executors reach it
//! ([`Reach`]); it records each request's method, path and whether its credentials were
//! missing, wrong or right — never the credentials.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::net::Reach;

/// The fixture script.
pub fn server_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/git_http.py")
}

/// What the server saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// `none`, `bad` or `good`.
    pub auth: String,
}

/// A running server; killed when dropped.
pub struct GitHttpServer {
    pub port: u16,
    root: tempfile::TempDir,
    requests: Arc<Mutex<Vec<Request>>>,
    _child: tokio::process::Child,
}

impl GitHttpServer {
    /// Starts a server for `token`, listening where `reach` says, serving repositories from a
    /// fresh directory (add them with [`GitHttpServer::add_repo`]).
    pub async fn start(reach: Reach<'_>, token: &str) -> Self {
        let root = tempfile::tempdir().expect("a directory for the repositories");
        let mut child = tokio::process::Command::new("python3")
            .arg(server_script())
            .arg("--root")
            .arg(root.path())
            .arg("--bind")
            .arg(reach.bind_host())
            .env("GIT_HTTP_PASSWORD", token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 for the git server fixture");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the git server started in time")
            .expect("the git server's output")
            .expect("the git server printed its port");
        let port: u16 = first
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line of the git server: {first}"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut parts = line.splitn(4, ' ');
                if parts.next() != Some("request") {
                    continue;
                }
                let (Some(method), Some(path), Some(auth)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                seen.lock().unwrap().push(Request {
                    method: method.into(),
                    path: path.into(),
                    auth: auth.into(),
                });
            }
        });
        GitHttpServer {
            port,
            root,
            requests,
            _child: child,
        }
    }

    /// `http://<host>:<port>/<name>.git` as `reach` addresses it.
    pub fn url(&self, reach: Reach<'_>, name: &str) -> String {
        format!("{}/{name}.git", reach.url(self.port))
    }

    /// Where the server keeps its repositories.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Adds a bare repository `<name>.git` with one commit on `main` holding `files`
    /// (`(path, content)`).
    pub fn add_repo(&self, name: &str, files: &[(&str, &str)]) {
        let work = tempfile::tempdir().expect("a work tree");
        let git = |dir: &Path, args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .expect("git");
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        git(work.path(), &["init", "-q", "-b", "main"]);
        for (path, content) in files {
            let file = work.path().join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(file, content).unwrap();
        }
        git(work.path(), &["add", "-A"]);
        git(work.path(), &["commit", "-q", "-m", "initial"]);
        let bare = self.root.path().join(format!("{name}.git"));
        git(
            self.root.path(),
            &[
                "clone",
                "-q",
                "--bare",
                &work.path().display().to_string(),
                &bare.display().to_string(),
            ],
        );
    }

    /// The requests so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn clone(url: &str, into: &Path, password: Option<&str>) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = tokio::process::Command::new("git");
        cmd.args(["clone", "-q", url])
            .arg(into)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1");
        if let Some(password) = password {
            let askpass = dir.path().join("askpass.sh");
            std::fs::write(&askpass, "#!/bin/sh\nprintf '%s\\n' \"$FIXTURE_TOKEN\"\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
            cmd.env("GIT_ASKPASS", &askpass)
                .env("FIXTURE_TOKEN", password);
        }
        cmd.output().await.unwrap()
    }

    #[tokio::test]
    async fn clones_with_the_token_only() {
        let server = GitHttpServer::start(Reach::Loopback, "fixture-token-1").await;
        server.add_repo("private", &[("README.md", "hello\n"), ("src/a.txt", "a\n")]);
        let url = server.url(Reach::Loopback, "private");
        let out_dir = tempfile::tempdir().unwrap();

        let none = clone(&url, &out_dir.path().join("none"), None).await;
        assert!(!none.status.success());
        let wrong = clone(&url, &out_dir.path().join("wrong"), Some("nope")).await;
        assert!(!wrong.status.success());
        assert!(
            String::from_utf8_lossy(&wrong.stderr).contains("Authentication failed"),
            "{}",
            String::from_utf8_lossy(&wrong.stderr)
        );
        let good = clone(&url, &out_dir.path().join("good"), Some("fixture-token-1")).await;
        assert!(
            good.status.success(),
            "{}",
            String::from_utf8_lossy(&good.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(out_dir.path().join("good/src/a.txt")).unwrap(),
            "a\n"
        );
        let auths: Vec<String> = server.requests().into_iter().map(|r| r.auth).collect();
        assert!(auths.contains(&"none".to_owned()), "{auths:?}");
        assert!(auths.contains(&"bad".to_owned()), "{auths:?}");
        assert!(auths.contains(&"good".to_owned()), "{auths:?}");
    }
}
