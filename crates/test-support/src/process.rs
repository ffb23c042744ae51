//! A service binary (the backend, the manager, ...) as a child process, configured only through
//! the environment it is given, its stdout and stderr in a log file; SIGKILL when dropped.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

/// A running service binary.
pub struct Service {
    pub name: &'static str,
    child: tokio::process::Child,
    log: PathBuf,
}

impl Service {
    /// Starts `bin` with exactly `env` (nothing inherited: pass `PATH` and `HOME` when it needs
    /// them), its output in `logs/<name>.log`.
    pub fn spawn<K, V>(name: &'static str, bin: &Path, env: &[(K, V)], logs: &Path) -> Self
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let log = logs.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("service log file");
        let err = out.try_clone().expect("service log file");
        let child = tokio::process::Command::new(bin)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        Service { name, child, log }
    }

    /// The log file (stdout and stderr).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The last `lines` lines of its log (for failure messages).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until `url` answers 2xx (up to 60 s); panics with the log's tail when the service
    /// exits first or the time is up.
    pub async fn wait_ready(&mut self, url: &str) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(url).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.exited() {
                panic!(
                    "{} exited during start-up ({status}):\n{}",
                    self.name,
                    self.log_tail(40)
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} not ready at {url}:\n{}",
                self.name,
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then waits (SIGKILL after `limit`); returns whether it exited successfully.
    pub async fn terminate(&mut self, limit: Duration) -> bool {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                false
            }
        }
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}
