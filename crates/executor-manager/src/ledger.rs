//! The runs this manager holds, on disk: `WORKSPACE_ROOT/managers/<manager>/runs/<run_id>`
//! (content: the lease epoch), written when a run is claimed and removed once it was reported.
//!
//! Why: a container's labels name the run it was created for, but a warm or pooled container
//! serves later runs too, and a child process leaves no label at all. After a crash, a manager
//! restarted under the same `MANAGER_ID` releases every run in its ledger at once (`fail`,
//! retryable) instead of leaving them to lease expiry. Releasing a run that is no longer ours is
//! refused by the backend's lease fence (`409`) and changes nothing.

use std::path::PathBuf;

use uuid::Uuid;

use crate::pool::manager_dir_name;

/// The ledger directory of one manager.
#[derive(Clone, Debug)]
pub struct Ledger {
    dir: PathBuf,
}

/// A recorded run; removes its entry when dropped (after the run was reported).
pub struct Entry {
    path: PathBuf,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Ledger {
    pub fn new(workspace_root: &std::path::Path, manager_id: &str) -> Self {
        Self {
            dir: workspace_root
                .join("managers")
                .join(manager_dir_name(manager_id))
                .join("runs"),
        }
    }

    /// Records a held run. A failure is logged: the run then falls back to lease expiry.
    pub async fn record(&self, run_id: Uuid, epoch: i64) -> Entry {
        let path = self.dir.join(run_id.to_string());
        let written = async {
            tokio::fs::create_dir_all(&self.dir).await?;
            tokio::fs::write(&path, epoch.to_string()).await
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(%run_id, error = %e, "cannot record the run in the ledger");
        }
        Entry { path }
    }

    /// The runs an earlier life left recorded, removed from the ledger as they are returned.
    pub async fn take_all(&self) -> Vec<(Uuid, i64)> {
        let mut out = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return out;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let path = entry.path();
            let run = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Uuid>().ok());
            let epoch = tokio::fs::read_to_string(&path)
                .await
                .ok()
                .and_then(|e| e.trim().parse::<i64>().ok());
            if let (Some(run), Some(epoch)) = (run, epoch) {
                out.push((run, epoch));
            }
            let _ = tokio::fs::remove_file(&path).await;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recorded_until_dropped_and_taken_once() {
        let root = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(root.path(), "m/1");
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let ea = ledger.record(a, 3).await;
        let eb = ledger.record(b, 7).await;
        drop(eb);
        std::mem::forget(ea); // as after a crash: never removed
        assert_eq!(ledger.take_all().await, vec![(a, 3)]);
        assert!(ledger.take_all().await.is_empty());
    }
}
