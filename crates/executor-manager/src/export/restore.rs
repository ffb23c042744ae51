//! Restoring a session's workspace from a run's export, on a manager that does not hold it.
//!
//! The export's manifest names every file with its key, size and SHA-256; `agent.json` names the
//! agent's conversation files inside `agent.zip` ([`super::agent`]). The restore:
//!
//! 1. reads the manifest (its key must lie inside the session's prefix, it must be the named run's
//!    and the session's, every file key inside the prefix, every path plain and relative);
//! 2. builds the workspace in a new directory beside the old one, `workspace.restore`: files are
//!    downloaded [`CONCURRENCY`] at a time, streamed to disk chunk by chunk and hashed as they
//!    go; a size or SHA-256 that differs from the manifest fails the restore;
//! 3. puts the agent's conversation files under `.claude_data/projects/` (their bytes read from
//!    `agent.zip` at the recorded offsets, each checked against its SHA-256);
//! 4. only then replaces the old workspace (removed, the new one renamed into its place).
//!
//! Any failure leaves the old workspace as it was and is reported as [`RestoreError`]: the run
//! fails with that message rather than starting from a workspace that is not the session's.
//!
//! Not restored: what the export never holds — `.git` and the other [`super::IGNORED_NAMES`],
//! dot files when `WORKSPACE_IGNORE_DOT_FILES` is on, symbolic links, empty directories and file
//! modes (the manifest has no notion of them).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use objstore::keys::{self, MAX_MANIFEST_BYTES};
use objstore::{Bucket, Download};
use protocol::files::{Manifest, ManifestEntry};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::Exporter;
use super::agent::{AGENT_DATA_DIR, AgentState, CONVERSATIONS_DIR, MAX_AGENT_MANIFEST_BYTES};

/// Files downloaded at once.
pub const CONCURRENCY: usize = 16;

/// The directory a restore builds the workspace in, beside it.
const STAGING: &str = "workspace.restore";

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("the export of run {run} has no {what} (`{key}`)")]
    Missing {
        run: Uuid,
        what: &'static str,
        key: String,
    },
    #[error("the export of run {run} is corrupt: {why}")]
    Corrupt { run: Uuid, why: String },
    #[error("reading the export from the object store: {0}")]
    Store(#[from] objstore::Error),
    #[error("writing the restored workspace: {0}")]
    Io(#[from] std::io::Error),
}

impl RestoreError {
    /// Whether another attempt may succeed (the store or the disk failed), rather than the export
    /// itself being unusable.
    pub fn is_transient(&self) -> bool {
        matches!(self, RestoreError::Store(_) | RestoreError::Io(_))
    }
}

/// What a restore brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    pub files: usize,
    pub bytes: u64,
    pub agent_files: usize,
}

/// Which export to restore.
#[derive(Debug, Clone, Copy)]
pub struct RestoreSource<'a> {
    pub session_id: Uuid,
    pub run_id: Uuid,
    pub manifest_key: &'a str,
    /// The run resumes a conversation: the export must carry the agent's state.
    pub needs_agent_state: bool,
}

impl Exporter {
    /// Replaces `workspace` with the export `source` names; see the module documentation.
    pub async fn restore(
        &self,
        workspace: &Path,
        source: RestoreSource<'_>,
    ) -> Result<Restored, RestoreError> {
        let run = source.run_id;
        let corrupt = |why: String| RestoreError::Corrupt { run, why };
        let prefix = keys::workspace_prefix(source.session_id);
        if !keys::within(&prefix, source.manifest_key) {
            return Err(corrupt(format!(
                "its manifest key `{}` lies outside the session",
                source.manifest_key
            )));
        }
        let manifest: Manifest = match self
            .bucket
            .get_json(source.manifest_key, MAX_MANIFEST_BYTES)
            .await
        {
            Ok(Some(m)) => m,
            Ok(None) => {
                return Err(RestoreError::Missing {
                    run,
                    what: "manifest",
                    key: source.manifest_key.to_owned(),
                });
            }
            Err(objstore::Error::Json { message, .. }) => {
                return Err(corrupt(format!("its manifest is not valid: {message}")));
            }
            Err(e) => return Err(e.into()),
        };
        if manifest.run_id != run || manifest.session_id != source.session_id {
            return Err(corrupt(
                "its manifest belongs to another run or session".into(),
            ));
        }
        for f in &manifest.files {
            if !keys::within(&prefix, &f.key) {
                return Err(corrupt(format!("`{}` lies outside the session", f.key)));
            }
            if !plain_path(&f.path) || is_agent_path(&f.path) {
                return Err(corrupt(format!(
                    "`{}` is not a plain workspace path",
                    f.path
                )));
            }
        }
        let agent_key = keys::agent_manifest_key(source.session_id, run);
        let agent: Option<AgentState> = match self
            .bucket
            .get_json(&agent_key, MAX_AGENT_MANIFEST_BYTES)
            .await
        {
            Ok(a) => a,
            Err(objstore::Error::Json { message, .. }) => {
                return Err(corrupt(format!("its agent state is not valid: {message}")));
            }
            Err(e) => return Err(e.into()),
        };
        if agent.is_none() && source.needs_agent_state {
            return Err(RestoreError::Missing {
                run,
                what: "agent state (the conversation to resume; exported by an older version?)",
                key: agent_key,
            });
        }
        if let Some(a) = &agent {
            if !keys::within(&prefix, &a.archive_key) {
                return Err(corrupt(format!(
                    "`{}` lies outside the session",
                    a.archive_key
                )));
            }
            if let Some(bad) = a.files.iter().find(|f| !plain_path(&f.path)) {
                return Err(corrupt(format!(
                    "agent file `{}` is not a plain path",
                    bad.path
                )));
            }
        }

        let parent = workspace
            .parent()
            .ok_or_else(|| std::io::Error::other("the workspace has no parent directory"))?;
        let staging = parent.join(STAGING);
        remove_dir_if_present(&staging).await?;
        tokio::fs::create_dir_all(&staging).await?;
        let built = self.build(&staging, &manifest, agent.as_ref(), run).await;
        let restored = match built {
            Ok(r) => r,
            Err(e) => {
                let _ = remove_dir_if_present(&staging).await;
                return Err(e);
            }
        };
        remove_dir_if_present(workspace).await?;
        tokio::fs::rename(&staging, workspace).await?;
        Ok(restored)
    }

    async fn build(
        &self,
        staging: &Path,
        manifest: &Manifest,
        agent: Option<&AgentState>,
        run: Uuid,
    ) -> Result<Restored, RestoreError> {
        // Each download is its own task (hashing spreads over the cores), at most
        // [`CONCURRENCY`] at once; on the first error the set is dropped, which aborts the rest.
        let mut pending = manifest.files.iter().cloned();
        let mut tasks = tokio::task::JoinSet::new();
        let mut bytes = 0u64;
        loop {
            while tasks.len() < CONCURRENCY {
                let Some(f) = pending.next() else { break };
                let bucket = self.bucket.clone();
                let staging = staging.to_owned();
                tasks.spawn(async move { fetch_file(&bucket, &staging, &f, run).await });
            }
            let Some(done) = tasks.join_next().await else {
                break;
            };
            bytes += done.map_err(|e| RestoreError::Io(std::io::Error::other(e.to_string())))??;
        }
        let mut agent_files = 0;
        if let Some(agent) = agent
            && !agent.files.is_empty()
        {
            let dir = staging.join(AGENT_DATA_DIR).join(CONVERSATIONS_DIR);
            agent_files = self.unpack_agent_state(&dir, agent, run).await?;
        }
        Ok(Restored {
            files: manifest.files.len(),
            bytes,
            agent_files,
        })
    }

    /// Downloads `agent.zip` to a temporary file and writes each recorded file out of it.
    async fn unpack_agent_state(
        &self,
        dir: &Path,
        agent: &AgentState,
        run: Uuid,
    ) -> Result<usize, RestoreError> {
        let Some(mut download) = self.bucket.download(&agent.archive_key).await? else {
            return Err(RestoreError::Missing {
                run,
                what: "agent archive",
                key: agent.archive_key.clone(),
            });
        };
        let temp = tempfile::tempfile()?;
        let mut out = tokio::fs::File::from_std(temp);
        while let Some(chunk) = download.next_chunk().await? {
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        let archive = Arc::new(out.into_std().await);
        let files = agent.files.clone();
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || -> Result<usize, RestoreError> {
            use std::os::unix::fs::FileExt;
            for f in &files {
                let len = usize::try_from(f.size).map_err(|_| RestoreError::Corrupt {
                    run,
                    why: format!("agent file `{}` is too large", f.path),
                })?;
                let mut buf = vec![0u8; len];
                archive
                    .read_exact_at(&mut buf, f.data)
                    .map_err(|e| RestoreError::Corrupt {
                        run,
                        why: format!("agent file `{}` lies outside agent.zip: {e}", f.path),
                    })?;
                if hex::encode(Sha256::digest(&buf)) != f.sha256 {
                    return Err(RestoreError::Corrupt {
                        run,
                        why: format!("agent file `{}` does not match its SHA-256", f.path),
                    });
                }
                let path = dir.join(&f.path);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p)?;
                }
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .and_then(|mut file| std::io::Write::write_all(&mut file, &buf))?;
            }
            Ok(files.len())
        })
        .await
        .map_err(|e| RestoreError::Io(std::io::Error::other(e.to_string())))?
    }
}

/// Downloads one file of the manifest into `staging`, hashing it on the way; returns its size.
async fn fetch_file(
    bucket: &Bucket,
    staging: &Path,
    f: &ManifestEntry,
    run: Uuid,
) -> Result<u64, RestoreError> {
    let Some(mut download): Option<Download> = bucket.download(&f.key).await? else {
        return Err(RestoreError::Missing {
            run,
            what: "file object",
            key: f.key.clone(),
        });
    };
    let path: PathBuf = staging.join(&f.path);
    if let Some(p) = path.parent() {
        tokio::fs::create_dir_all(p).await?;
    }
    let mut out = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = download.next_chunk().await? {
        size += chunk.len() as u64;
        if size > f.size {
            break;
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    if size != f.size || hex::encode(hasher.finalize()) != f.sha256 {
        return Err(RestoreError::Corrupt {
            run,
            why: format!(
                "`{}` does not match the manifest ({size} bytes read, {} expected, or another SHA-256)",
                f.path, f.size
            ),
        });
    }
    Ok(size)
}

/// A relative path of plain segments: no empty, `.` or `..` segment, no leading `/`, no NUL.
fn plain_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Whether a workspace path would land in the agent's directory (never part of a manifest).
fn is_agent_path(path: &str) -> bool {
    path.split('/').next() == Some(AGENT_DATA_DIR)
}

async fn remove_dir_if_present(dir: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_dir_all(dir).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_restored() {
        assert!(plain_path("a.txt"));
        assert!(plain_path("src/lib/x.rs"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\0b",
        ] {
            assert!(!plain_path(bad), "{bad:?}");
        }
        assert!(is_agent_path(".claude_data/projects/x.jsonl"));
        assert!(!is_agent_path("src/.claude_data"));
    }
}
