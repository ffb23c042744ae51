//! Running `git` for the executor's own bookkeeping.
//!
//! Every call gets an explicit environment (no system or global configuration, no terminal
//! prompts, `safe.directory=*` because the workspace may belong to the agent's user) and its
//! stderr kept for the error message. Secrets reach git only through the environment of the one
//! process that needs them (see [`Askpass`]).

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use super::WorkspaceError;

/// Arguments put before every git command.
const BASE_ARGS: &[&str] = &[
    "-c",
    "safe.directory=*",
    "-c",
    "core.quotepath=off",
    "-c",
    "credential.helper=",
    "-c",
    "gc.auto=0",
];

/// A git runner rooted at one directory.
#[derive(Debug, Clone)]
pub struct Git {
    cwd: PathBuf,
    path_var: OsString,
}

impl Git {
    pub fn new(cwd: impl Into<PathBuf>) -> Self {
        Self {
            cwd: cwd.into(),
            path_var: std::env::var_os("PATH")
                .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        }
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    fn command(&self, args: &[&str], index: Option<&Path>) -> Command {
        let mut cmd = Command::new("git");
        cmd.args(BASE_ARGS)
            .args(args)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", &self.path_var)
            .env("HOME", &self.cwd)
            .env("LANG", "C")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(index) = index {
            cmd.env("GIT_INDEX_FILE", index);
        }
        cmd
    }

    /// Runs `git args…`; its stdout on success.
    pub async fn run(&self, args: &[&str]) -> Result<Vec<u8>, WorkspaceError> {
        self.output(self.command(args, None), args).await
    }

    /// Runs `git args…` against another index file (the user's index stays untouched).
    pub async fn run_with_index(
        &self,
        args: &[&str],
        index: &Path,
    ) -> Result<Vec<u8>, WorkspaceError> {
        self.output(self.command(args, Some(index)), args).await
    }

    /// Runs `git args…` with a token offered through `askpass`.
    pub async fn run_with_token(
        &self,
        args: &[&str],
        askpass: &Askpass,
        token: &str,
    ) -> Result<Vec<u8>, WorkspaceError> {
        let mut cmd = self.command(args, None);
        cmd.env("GIT_ASKPASS", askpass.path())
            .env(Askpass::TOKEN_VAR, token);
        self.output(cmd, args).await.map_err(|e| e.redact(token))
    }

    async fn output(&self, mut cmd: Command, args: &[&str]) -> Result<Vec<u8>, WorkspaceError> {
        let command = format!("git {}", args.first().copied().unwrap_or_default());
        let out = cmd.output().await.map_err(|source| WorkspaceError::Io {
            context: format!("could not run {command}"),
            source,
        })?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let message = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" | ");
            Err(WorkspaceError::Git {
                command,
                message: if message.is_empty() {
                    format!("exited with {}", out.status)
                } else {
                    message
                },
            })
        }
    }
}

/// A throw-away `GIT_ASKPASS` program. It holds no secret: it prints the token from the
/// environment of the git process that runs it, so the token is never written anywhere.
pub struct Askpass {
    dir: tempfile::TempDir,
}

impl Askpass {
    /// The variable the token travels in, set on the one git process that needs it.
    pub const TOKEN_VAR: &'static str = "EXECUTOR_GIT_TOKEN";

    const SCRIPT: &'static str = "#!/bin/sh\n\
        case \"$1\" in\n\
        [Uu]sername*) printf '%s\\n' \"${EXECUTOR_GIT_USERNAME:-x-access-token}\" ;;\n\
        *) printf '%s\\n' \"$EXECUTOR_GIT_TOKEN\" ;;\n\
        esac\n";

    pub async fn create() -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("executor-askpass")
            .tempdir()?;
        let path = dir.path().join("askpass.sh");
        {
            let mut file = std::fs::File::create(&path)?;
            file.write_all(Self::SCRIPT.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        // A process forked elsewhere while the file was open for writing keeps it "busy" until
        // it execs; wait until the script really runs so git never meets ETXTBSY.
        const TEXT_FILE_BUSY: i32 = 26;
        let mut attempts = 0;
        loop {
            match Command::new(&path)
                .arg("probe")
                .env_clear()
                .stdout(Stdio::null())
                .status()
                .await
            {
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Self { dir })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("askpass.sh")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn askpass_answers_from_the_environment_only() {
        let askpass = Askpass::create().await.unwrap();
        let script = std::fs::read_to_string(askpass.path()).unwrap();
        assert!(!script.contains("tok-123"));
        let run = |prompt: &'static str| {
            let path = askpass.path();
            async move {
                let out = Command::new(path)
                    .arg(prompt)
                    .env_clear()
                    .env(Askpass::TOKEN_VAR, "tok-123")
                    .output()
                    .await
                    .unwrap();
                String::from_utf8(out.stdout).unwrap()
            }
        };
        assert_eq!(
            run("Username for 'https://example.com': ").await,
            "x-access-token\n"
        );
        assert_eq!(
            run("Password for 'https://x-access-token@example.com': ").await,
            "tok-123\n"
        );
    }
}
