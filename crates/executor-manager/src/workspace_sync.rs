//! Which copy of a session's workspace a run starts from, when a session's runs may land on any
//! manager. The object store is the source of truth between runs; the copy on this host is used
//! only when it is known to be the session's latest.
//!
//! Each session directory holds `.workspace-run` (next to `workspace/`, out of the executor's
//! reach), written by this manager only: `{"run_id", "state"}` — `running` from the moment a run
//! is about to change the workspace, `done` once its end state is final here (after its export).
//! The claim says which run the session's workspace should reflect
//! (`ClaimedRun.workspace_source`: the session's latest started run, and its export's manifest
//! when the export is ready). Then ([`plan`]):
//!
//! | on this host | the claim's source | the run starts from |
//! |---|---|---|
//! | — | none (first run) | the local directory (empty) |
//! | anything | any, object storage off | the local directory (one host) |
//! | `done` of the source run | any | the local directory: no restore |
//! | anything else (older, `running`, nothing) | exported | a restore from that export |
//! | no marker, a workspace, and this manager ran the source | not exported | the local directory (a workspace from before markers existed) |
//! | anything else | not exported | nothing: the run fails, saying where the workspace is |
//!
//! A run that ends without its end state being final here (its lease was lost, it fenced itself
//! off, the manager died) leaves `running`, so the session's next run on this host starts from
//! the last export rather than from a half-changed directory.

use std::path::Path;

use protocol::internal::WorkspaceSource;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The marker's file name in the session directory.
pub const MARKER: &str = ".workspace-run";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkState {
    Running,
    Done,
}

/// What `.workspace-run` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub run_id: Uuid,
    pub state: MarkState,
}

/// How a run gets its workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The directory on this host is the session's latest (or the session has no earlier run).
    Local,
    /// Rebuild it from this export first.
    Restore { run_id: Uuid, manifest_key: String },
    /// The latest state is on another host and was not exported: the run cannot start.
    Unavailable { reason: String },
}

/// The decision in the module documentation's table.
pub fn plan(
    source: Option<&WorkspaceSource>,
    mark: Option<Mark>,
    workspace_exists: bool,
    store_configured: bool,
    worker_id: &str,
) -> Plan {
    let Some(source) = source else {
        return Plan::Local;
    };
    if !store_configured {
        return Plan::Local;
    }
    if mark
        == Some(Mark {
            run_id: source.run_id,
            state: MarkState::Done,
        })
    {
        return Plan::Local;
    }
    if let Some(key) = &source.manifest_key {
        return Plan::Restore {
            run_id: source.run_id,
            manifest_key: key.clone(),
        };
    }
    if mark.is_none() && workspace_exists && source.worker_id.as_deref() == Some(worker_id) {
        return Plan::Local;
    }
    let held = match &source.worker_id {
        Some(w) if w == worker_id => "this manager, which no longer holds it".to_owned(),
        Some(w) => format!("manager `{w}`"),
        None => "another manager".to_owned(),
    };
    Plan::Unavailable {
        reason: format!(
            "the session's workspace as run {} left it was not exported (its export failed or \
             object storage was off) and is only on {held}; it cannot be restored here",
            source.run_id
        ),
    }
}

/// Reads the marker of `session_dir`; a missing or unreadable one is `None`.
pub async fn read(session_dir: &Path) -> Option<Mark> {
    let bytes = tokio::fs::read(session_dir.join(MARKER)).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes the marker (a temporary file renamed over the old one).
pub async fn write(session_dir: &Path, mark: Mark) -> std::io::Result<()> {
    let tmp = session_dir.join(format!("{MARKER}.tmp"));
    let body = serde_json::to_vec(&mark).map_err(std::io::Error::other)?;
    tokio::fs::write(&tmp, body).await?;
    tokio::fs::rename(&tmp, session_dir.join(MARKER)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn source(run: u128, worker: &str, exported: bool) -> WorkspaceSource {
        WorkspaceSource {
            run_id: id(run),
            worker_id: Some(worker.into()),
            manifest_key: exported.then(|| format!("workspaces/s/runs/{run}/manifest.json")),
        }
    }

    fn mark(run: u128, state: MarkState) -> Option<Mark> {
        Some(Mark {
            run_id: id(run),
            state,
        })
    }

    #[test]
    fn a_first_run_or_a_single_host_uses_the_local_directory() {
        assert_eq!(plan(None, None, false, true, "a"), Plan::Local);
        let s = source(1, "b", true);
        assert_eq!(plan(Some(&s), None, false, false, "a"), Plan::Local);
    }

    #[test]
    fn the_host_holding_the_latest_state_restores_nothing() {
        let s = source(2, "a", true);
        assert_eq!(
            plan(Some(&s), mark(2, MarkState::Done), true, true, "a"),
            Plan::Local
        );
        // Even when the export failed: the latest state is here.
        let s = source(2, "a", false);
        assert_eq!(
            plan(Some(&s), mark(2, MarkState::Done), true, true, "a"),
            Plan::Local
        );
    }

    #[test]
    fn an_older_copy_a_half_run_or_none_is_restored_from_the_export() {
        let s = source(3, "b", true);
        let restore = Plan::Restore {
            run_id: id(3),
            manifest_key: "workspaces/s/runs/3/manifest.json".into(),
        };
        for m in [
            mark(2, MarkState::Done),
            mark(3, MarkState::Running),
            mark(4, MarkState::Running),
            None,
        ] {
            assert_eq!(plan(Some(&s), m, true, true, "a"), restore, "{m:?}");
        }
    }

    #[test]
    fn an_unexported_state_elsewhere_fails_the_run_with_where_it_is() {
        let s = source(3, "b", false);
        match plan(Some(&s), mark(2, MarkState::Done), true, true, "a") {
            Plan::Unavailable { reason } => {
                assert!(reason.contains("manager `b`"), "{reason}");
                assert!(reason.contains(&id(3).to_string()), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // A workspace from before markers, run here: kept.
        let s = source(3, "a", false);
        assert_eq!(plan(Some(&s), None, true, true, "a"), Plan::Local);
        // The same without a workspace: nothing to start from.
        assert!(matches!(
            plan(Some(&s), None, false, true, "a"),
            Plan::Unavailable { .. }
        ));
    }

    #[tokio::test]
    async fn the_marker_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).await, None);
        let m = Mark {
            run_id: id(7),
            state: MarkState::Running,
        };
        write(dir.path(), m).await.unwrap();
        assert_eq!(read(dir.path()).await, Some(m));
        tokio::fs::write(dir.path().join(MARKER), b"junk")
            .await
            .unwrap();
        assert_eq!(read(dir.path()).await, None);
    }
}
