//! `EXECUTOR_RUNTIME=process`: the executor binary as a child process on this host.
//!
//! No isolation at all: the agent runs with this manager's user, file system and network (it
//! reaches every port of this host and every other executor; `EXECUTOR_EGRESS_POLICY` does not
//! apply). The API secret still keeps one executor's API closed to another's agent, as far as
//! that agent cannot read the executor's environment. For development and tests only; a warning
//! says so at start-up (an error-level one with `ENVIRONMENT=production`) and at every launch.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::process::{Child, Command};

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    Credentials, Endpoint, ExecutorHandle, ExitInfo, LaunchSpec, Launched, PoolSpec, Runtime,
    RuntimeError,
};

/// Variables of the manager's own environment the executor process inherits; nothing else does
/// (in particular not `INTERNAL_API_TOKEN` or the S3 keys).
const PASSTHROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// How long a stopped executor gets between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub struct ProcessRuntime {
    executor_bin: String,
}

impl ProcessRuntime {
    pub fn new(executor_bin: impl Into<String>) -> Self {
        tracing::warn!(
            "EXECUTOR_RUNTIME=process: executors run as plain child processes on this host, \
             NOT isolated (same user, files and network as the manager); use for development only"
        );
        Self {
            executor_bin: executor_bin.into(),
        }
    }
}

/// A free loopback port (bound then released; the executor binds it right after).
fn free_port() -> Result<u16, RuntimeError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| RuntimeError::Launch(format!("no free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| RuntimeError::Launch(format!("no free port: {e}")))
}

impl Runtime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    fn launch<'a>(&'a self, spec: &'a LaunchSpec) -> BoxFuture<'a, Result<Launched, RuntimeError>> {
        Box::pin(async move {
            let launched = self.spawn(&spec.env, &spec.workspace, &spec.workspace)?;
            tracing::warn!(run_id = %spec.run_id, executor = %launched.endpoint.base_url, "executor started as an unisolated child process");
            Ok(launched)
        })
    }

    fn launch_pooled<'a>(
        &'a self,
        spec: &'a PoolSpec,
    ) -> BoxFuture<'a, Result<Launched, RuntimeError>> {
        Box::pin(async move {
            let launched =
                self.spawn(&spec.env, &spec.slot_dir.join("workspace"), &spec.slot_dir)?;
            tracing::warn!(slot = %spec.slot_id, executor = %launched.endpoint.base_url, "pooled executor started as an unisolated child process");
            Ok(launched)
        })
    }
}

impl ProcessRuntime {
    /// Starts the executor with `env`, its workspace at `workspace`, in directory `cwd`.
    fn spawn(
        &self,
        env: &BTreeMap<String, String>,
        workspace: &Path,
        cwd: &Path,
    ) -> Result<Launched, RuntimeError> {
        let port = free_port()?;
        let credentials = Credentials::generate();
        let mut cmd = Command::new(&self.executor_bin);
        cmd.env_clear();
        for var in PASSTHROUGH {
            if let Ok(v) = std::env::var(var) {
                cmd.env(var, v);
            }
        }
        cmd.envs(env)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("WORKSPACE_PATH", workspace)
            .envs(credentials.env())
            .current_dir(cwd)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C meant for the manager does not hit executors.
            .process_group(0);
        let child = cmd.spawn().map_err(|e| {
            RuntimeError::Launch(format!("cannot start `{}`: {e}", self.executor_bin))
        })?;
        Ok(Launched {
            endpoint: Endpoint {
                base_url: format!("http://127.0.0.1:{port}"),
                credentials,
            },
            handle: Box::new(ProcessHandle { child, exit: None }),
        })
    }
}

struct ProcessHandle {
    child: Child,
    exit: Option<ExitInfo>,
}

fn describe(status: std::io::Result<ExitStatus>) -> ExitInfo {
    use std::os::unix::process::ExitStatusExt;
    let reason = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("the executor exited with status {code}"),
            (None, Some(sig)) => format!("the executor was killed by signal {sig}"),
            _ => "the executor exited".to_owned(),
        },
        Err(e) => format!("the executor could not be watched: {e}"),
    };
    ExitInfo { reason }
}

impl ExecutorHandle for ProcessHandle {
    fn exited(&mut self) -> BoxFuture<'_, ExitInfo> {
        Box::pin(async move {
            if let Some(e) = &self.exit {
                return e.clone();
            }
            let info = describe(self.child.wait().await);
            self.exit = Some(info.clone());
            info
        })
    }

    fn kill(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.exit.is_none() {
                let _ = self.child.kill().await;
                self.exit = Some(describe(self.child.wait().await));
            }
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.exit.is_some() {
                return;
            }
            if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            match tokio::time::timeout(STOP_GRACE, self.child.wait()).await {
                Ok(status) => self.exit = Some(describe(status)),
                Err(_) => {
                    let _ = self.child.kill().await;
                    self.exit = Some(describe(self.child.wait().await));
                }
            }
        })
    }

    /// SIGSTOP to the executor's process group (it leads its own, see `spawn`): the CLI and
    /// what the agent started stop with it, unless they left the group (`setsid`); those go on,
    /// which the export's walk copes with.
    fn freeze(&mut self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let result = self.signal_group(nix::sys::signal::Signal::SIGSTOP);
        Box::pin(async move { result })
    }

    fn thaw(&mut self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let result = self.signal_group(nix::sys::signal::Signal::SIGCONT);
        Box::pin(async move { result })
    }
}

impl ProcessHandle {
    fn signal_group(&self, signal: nix::sys::signal::Signal) -> Result<(), RuntimeError> {
        let pid = self
            .child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .filter(|_| self.exit.is_none())
            .ok_or_else(|| RuntimeError::Freeze("the executor has exited".into()))?;
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), signal)
            .map_err(|e| RuntimeError::Freeze(format!("{signal}: {e}")))
    }
}
