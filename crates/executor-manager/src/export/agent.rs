//! The agent's own state in a run's export: the Claude Code CLI's conversation files
//! (`.claude_data/projects/` in the workspace), so that a session's next run can `--resume` on
//! another host. Never part of what the user sees: the workspace manifest leaves `.claude_data`
//! out, and these objects are read back only by a manager restoring the workspace
//! ([`super::restore`]).
//!
//! ```text
//! P/runs/{run_id}/agent.zip    the files, read like the workspace (no link followed, each file
//!                              read once from one handle), stored
//! P/runs/{run_id}/agent.json   AgentState: where each file's bytes lie in agent.zip, its SHA-256
//! ```
//!
//! `agent.json` is written for every export, with no file when the agent left no conversation,
//! so a restore tells "nothing to resume" from "exported by a version that did not keep it".

use std::path::Path;
use std::sync::Arc;

use objstore::keys;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ExportError, ExportTarget, Exporter, join_err, scan, zip};

/// The agent's configuration directory in the workspace (the executor's `AGENT_DATA_DIR`).
pub const AGENT_DATA_DIR: &str = ".claude_data";
/// Its part that `--resume` needs: one directory per working directory, one JSON Lines file per
/// conversation (and a directory beside it for its subagents).
pub const CONVERSATIONS_DIR: &str = "projects";

/// The largest `agent.json` read back.
pub const MAX_AGENT_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// `agent.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    pub run_id: Uuid,
    pub archive_key: String,
    /// Paths relative to `.claude_data/projects/`.
    pub files: Vec<AgentFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFile {
    pub path: String,
    pub sha256: String,
    /// Where its bytes start in `agent.zip`.
    pub data: u64,
    pub size: u64,
}

impl Exporter {
    /// Uploads the agent's conversation files of `workspace` for `target`'s run; returns the
    /// bytes uploaded.
    pub(super) async fn export_agent_state(
        &self,
        workspace: &Path,
        target: ExportTarget,
    ) -> Result<u64, ExportError> {
        let root = workspace.to_owned();
        let snapshot = tokio::task::spawn_blocking(move || {
            scan::snapshot_below(
                &root,
                &[AGENT_DATA_DIR, CONVERSATIONS_DIR],
                zip::Limits::STANDARD,
            )
        })
        .await
        .map_err(join_err)??;
        let archive_key = keys::agent_archive_key(target.session_id, target.run_id);
        let mut state = AgentState {
            run_id: target.run_id,
            archive_key: archive_key.clone(),
            files: Vec::new(),
        };
        let mut uploaded = 0;
        if let Some(snapshot) = snapshot
            && !snapshot.files.is_empty()
        {
            state.files = snapshot
                .files
                .iter()
                .map(|f| AgentFile {
                    path: f.path.clone(),
                    sha256: f.sha256.clone(),
                    data: f.data,
                    size: f.size,
                })
                .collect();
            let archive = Arc::new(snapshot.archive);
            self.upload_range(
                &archive,
                0,
                snapshot.archive_size,
                &archive_key,
                "application/zip",
            )
            .await?;
            uploaded = snapshot.archive_size;
        }
        self.bucket
            .put_json(
                &keys::agent_manifest_key(target.session_id, target.run_id),
                &state,
            )
            .await?;
        Ok(uploaded)
    }
}
