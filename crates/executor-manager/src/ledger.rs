//! What this manager holds, on disk, under `WORKSPACE_ROOT/managers/<manager>/`:
//!
//! - `runs/<run_id>` (content: the lease epoch), written when a run is claimed and removed once
//!   it was reported ([`Ledger`]);
//! - `slots/<slot>` (content: `{user}/{session}`), the session whose workspace a pool slot holds,
//!   written before the workspace moves into the slot and removed when the slot is disposed of
//!   ([`SlotOwners`]).
//!
//! Why: a container's labels name the run it was created for, but a warm or pooled container
//! serves later runs too, and a child process leaves no label at all. After a crash, a manager
//! restarted under the same `MANAGER_ID` releases every run in its ledger at once (`fail`,
//! retryable) instead of leaving them to lease expiry. Releasing a run that is no longer ours is
//! refused by the backend's lease fence (`409`) and changes nothing.

use std::path::{Path, PathBuf};

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

/// Who each pool slot of this manager serves: `WORKSPACE_ROOT/managers/<manager>/slots/<slot>`.
///
/// Why here and not in the slot: the slot directory is mounted into the executor, and what an
/// executor can reach (in the `process` runtime: everything the manager's user can write) must
/// not decide where a workspace goes on recovery. A forged record in a slot would hand one
/// session's workspace to another; this directory is the manager's alone (never mounted, never
/// handed to the executor's user).
#[derive(Clone, Debug)]
pub struct SlotOwners {
    dir: PathBuf,
}

impl SlotOwners {
    pub fn new(workspace_root: &Path, manager_id: &str) -> Self {
        Self {
            dir: workspace_root
                .join("managers")
                .join(manager_dir_name(manager_id))
                .join("slots"),
        }
    }

    fn path(&self, slot: Uuid) -> PathBuf {
        self.dir.join(slot.simple().to_string())
    }

    /// Records that `slot` holds the workspace of `(user, session)`; written whole (a temporary
    /// file renamed over the record), so a crash never leaves half a record.
    pub async fn record(&self, slot: Uuid, user: Uuid, session: Uuid) -> std::io::Result<()> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let path = self.path(slot);
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, format!("{user}/{session}")).await?;
        tokio::fs::rename(&tmp, &path).await
    }

    /// The `(user, session)` recorded for `slot`; `None` when there is no valid record.
    pub async fn owner(&self, slot: Uuid) -> Option<(Uuid, Uuid)> {
        let text = tokio::fs::read_to_string(self.path(slot)).await.ok()?;
        let (u, s) = text.trim().split_once('/')?;
        Some((u.parse().ok()?, s.parse().ok()?))
    }

    /// Forgets `slot` (once it holds no workspace any more).
    pub async fn remove(&self, slot: Uuid) {
        if let Err(e) = tokio::fs::remove_file(self.path(slot)).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%slot, error = %e, "cannot remove a slot's owner record");
        }
    }

    /// Every slot with a record.
    pub async fn slots(&self) -> Vec<Uuid> {
        let mut out = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(&self.dir).await else {
            return out;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            if let Some(id) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.push(id);
            }
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

    #[tokio::test]
    async fn slot_owners_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let owners = SlotOwners::new(root.path(), "m/1");
        let (slot, user, session) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(owners.owner(slot).await, None);
        owners.record(slot, user, session).await.unwrap();
        assert_eq!(owners.owner(slot).await, Some((user, session)));
        assert_eq!(owners.slots().await, vec![slot]);
        // Under the manager's own directory, apart from the runs.
        assert!(
            root.path()
                .join("managers/m_1/slots")
                .join(slot.simple().to_string())
                .exists()
        );
        owners.remove(slot).await;
        assert_eq!(owners.owner(slot).await, None);
        assert!(owners.slots().await.is_empty());
    }
}
