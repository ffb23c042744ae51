//! Pooled executors: pre-started, ready to take a new session's first run
//! (`EXECUTOR_POOL_TARGETS`, refilled `EXECUTOR_POOL_REFILL_CONCURRENCY` at a time).
//!
//! A started container cannot get a new bind mount, so each pooled executor mounts its own empty
//! slot directory, `WORKSPACE_ROOT/pool/<manager>/<slot>` (at `/slot` in a container), and its
//! workspace is `<slot>/workspace`, which does not exist yet. When a run takes it, the run's
//! workspace directory is renamed into the slot (same file system: atomic, instant) after the
//! slot's owner `{user}/{session}` is recorded in the manager's own ledger
//! (`WORKSPACE_ROOT/managers/<manager>/slots/<slot>`, [`SlotOwners`]); after the run it is renamed
//! back to `WORKSPACE_ROOT/active/{user}/{session}/workspace`.
//!
//! A pooled executor starts the CLI for a new session's first run ahead (`POST /v1/prestart`,
//! unless `AGENT_PRESTART` is off), in a workspace the manager creates in the slot and hands over
//! to the executor's user; the slot is recorded in the ledger as the pool's own
//! ([`UNASSIGNED`]) first. A new session's workspace (an empty directory) then *adopts* that
//! workspace as it is, with the CLI in it; a session with files replaces it (it goes to the
//! slot's trash first; the executor sees its CLI's directory gone and starts another).
//!
//! Invariants:
//! - a slot serves one session for its whole life: after its first run the executor is either
//!   parked warm for that session only or stopped, and never returns to the pool;
//! - a workspace is never deleted with a slot: disposing of a slot (and start-up recovery, for
//!   slots of an earlier life of this manager) renames a workspace still in it back first (next
//!   to an existing workspace, under `workspace.recovered-<slot>`, rather than over it);
//! - where a workspace goes back to is read from the ledger only, never from a file in the slot
//!   (the executor can reach the slot; a forged owner there must not move a workspace to another
//!   session). A slot holding a workspace without a ledger record is left in place with an
//!   error, never guessed; one recorded as the pool's own holds no session's files (the owner is
//!   recorded before a session's workspace enters) and goes with the slot; the record is removed
//!   only once the slot is gone;
//! - the slot directory belongs to the manager (mode 0755, set explicitly): the executor's user
//!   can write only in the workspace inside it.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use protocol::executor::PrestartRequest;
use protocol::status::PermissionMode;

use crate::ledger::SlotOwners;
use crate::runtime::{ExecutorClient, PoolSpec, Runtime, RuntimeError};
use crate::warm::{Executor, Origin};

/// The profile name of `EXECUTOR_POOL_TARGETS` meaning the executor of `EXECUTOR_IMAGE`
/// (docker) or `EXECUTOR_BIN` (process). The only one so far.
pub const DEFAULT_PROFILE: &str = "default";

const WORKSPACE_DIR: &str = "workspace";

/// Where a replaced workspace goes before it is removed (in the slot, never the session's).
const TRASH_DIR: &str = "trash";

/// The ledger's owner of a slot whose workspace is the pool's own (no user or session is nil).
pub const UNASSIGNED: (Uuid, Uuid) = (Uuid::nil(), Uuid::nil());

/// One pooled executor's directory.
#[derive(Debug)]
pub struct Slot {
    pub id: Uuid,
    pub dir: PathBuf,
    workspace_root: PathBuf,
    owners: SlotOwners,
}

/// `WORKSPACE_ROOT/active/{user}/{session}/workspace`.
fn canonical(workspace_root: &Path, user: Uuid, session: Uuid) -> PathBuf {
    workspace_root
        .join("active")
        .join(user.to_string())
        .join(session.to_string())
        .join(WORKSPACE_DIR)
}

impl Slot {
    /// The workspace's path inside the slot (on the host).
    pub fn workspace(&self) -> PathBuf {
        self.dir.join(WORKSPACE_DIR)
    }

    /// Makes the session's workspace the slot's, its owner recorded in the ledger first: moved
    /// in; or, when the slot holds the workspace its executor started a CLI ahead in and the
    /// session's is an empty directory (a new session), that workspace is adopted as it is.
    pub async fn assign(&self, user: Uuid, session: Uuid, workspace: &Path) -> std::io::Result<()> {
        self.owners.record(self.id, user, session).await?;
        let inside = self.workspace();
        if tokio::fs::symlink_metadata(&inside)
            .await
            .is_ok_and(|m| m.is_dir())
        {
            match tokio::fs::remove_dir(workspace).await {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                // The session has files: they replace the pool's workspace.
                Err(_) => {
                    let trash = self.dir.join(TRASH_DIR);
                    tokio::fs::rename(&inside, &trash).await?;
                    if let Err(e) = tokio::fs::remove_dir_all(&trash).await {
                        tracing::warn!(slot = %self.id, error = %e, "cannot remove a pooled executor's unused workspace");
                    }
                }
            }
        }
        tokio::fs::rename(workspace, inside).await
    }

    /// Moves the workspace back to where it lives between runs.
    pub async fn release(&self, workspace: &Path) -> std::io::Result<()> {
        if tokio::fs::try_exists(self.workspace()).await? {
            tokio::fs::rename(self.workspace(), workspace).await?;
        }
        Ok(())
    }

    /// Gives back a workspace still in the slot, then removes the slot directory.
    pub async fn dispose(self) {
        recover(&self.dir, self.id, &self.workspace_root, &self.owners).await;
    }
}

/// Returns the workspace of slot `id` (directory `dir`), if any, to the session the ledger names,
/// then removes `dir` and the ledger record.
async fn recover(dir: &Path, id: Uuid, workspace_root: &Path, owners: &SlotOwners) {
    let inside = dir.join(WORKSPACE_DIR);
    let held = match tokio::fs::symlink_metadata(&inside).await {
        Ok(m) if m.is_dir() => true,
        Ok(_) => {
            // Not a workspace (only an unisolated executor could have put it there): nothing
            // to give back, and never followed.
            tracing::warn!(slot = %dir.display(), "a slot's workspace is not a directory; removing it with the slot");
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            tracing::error!(slot = %dir.display(), error = %e, "cannot look into a pool slot; leaving it in place");
            return;
        }
    };
    let owner = if held { owners.owner(id).await } else { None };
    if held && owner != Some(UNASSIGNED) {
        let Some((user, session)) = owner else {
            tracing::error!(slot = %dir.display(), "a slot holds a workspace but the ledger records no owner; leaving it in place");
            return;
        };
        let target = canonical(workspace_root, user, session);
        // An empty directory (created for a later run) may be replaced; anything else is kept.
        let _ = tokio::fs::remove_dir(&target).await;
        let target = if tokio::fs::try_exists(&target).await.unwrap_or(true) {
            let slot = dir.file_name().unwrap_or_default().to_string_lossy();
            target.with_file_name(format!("{WORKSPACE_DIR}.recovered-{slot}"))
        } else {
            target
        };
        if let Some(parent) = target.parent() {
            let _ = tokio::fs::create_dir_all(parent).await;
        }
        if let Err(e) = tokio::fs::rename(&inside, &target).await {
            tracing::error!(slot = %dir.display(), error = %e, "cannot give a slot's workspace back; leaving it in place");
            return;
        }
        tracing::warn!(%session, to = %target.display(), "gave a workspace back from a pool slot");
    }
    if let Err(e) = tokio::fs::remove_dir_all(dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(slot = %dir.display(), error = %e, "cannot remove a pool slot");
        return;
    }
    owners.remove(id).await;
}

/// Creates a slot directory owned by the manager, mode 0755 whatever the umask: the executor's
/// user may traverse it (to its workspace) but not write in it.
async fn create_slot_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).await
}

/// What the pool needs from the manager's settings.
pub struct PoolConfig {
    /// `WORKSPACE_ROOT/pool/<manager>`.
    pub dir: PathBuf,
    pub workspace_root: PathBuf,
    pub target: usize,
    pub concurrency: usize,
    pub env: BTreeMap<String, String>,
    pub ready_timeout: Duration,
    /// Pause after a failed start.
    pub retry_pause: Duration,
}

/// The pooled executors of one profile.
pub struct Pool {
    config: PoolConfig,
    owners: SlotOwners,
    runtime: Arc<dyn Runtime>,
    executor: ExecutorClient,
    ready: Mutex<VecDeque<Executor>>,
    starting: AtomicUsize,
    wake: Notify,
    stop: CancellationToken,
}

/// A directory name for `manager_id` (which may hold any character).
pub fn manager_dir_name(manager_id: &str) -> String {
    let name = manager_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned();
    if name.is_empty() {
        "manager".to_owned()
    } else {
        name
    }
}

impl Pool {
    pub fn new(config: PoolConfig, runtime: Arc<dyn Runtime>) -> Arc<Self> {
        // `config.dir` is `WORKSPACE_ROOT/pool/<manager>`: the same `<manager>` names the ledger.
        let manager = config
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Arc::new(Self {
            owners: SlotOwners::new(&config.workspace_root, &manager),
            config,
            runtime,
            executor: ExecutorClient::new(),
            ready: Mutex::new(VecDeque::new()),
            starting: AtomicUsize::new(0),
            wake: Notify::new(),
            stop: CancellationToken::new(),
        })
    }

    fn ready(&self) -> std::sync::MutexGuard<'_, VecDeque<Executor>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pooled executors ready now.
    pub fn len(&self) -> usize {
        self.ready().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A ready executor (the pool then refills).
    pub fn take(&self) -> Option<Executor> {
        let taken = self.ready().pop_front();
        if taken.is_some() {
            self.wake.notify_one();
        }
        taken
    }

    /// At start-up, before the first start: slots of an earlier life of this manager give their
    /// workspaces back (to the owners in the ledger) and are removed (their containers go with
    /// the runtime's reconciliation); records of slots that are gone are dropped.
    pub async fn recover(&self) {
        if let Ok(mut entries) = tokio::fs::read_dir(&self.config.dir).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                let path = entry.path();
                let Some(id) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<Uuid>().ok())
                else {
                    tracing::error!(path = %path.display(), "not a pool slot; leaving it in place");
                    continue;
                };
                tracing::warn!(slot = %path.display(), "removing a pool slot left by an earlier run of this manager");
                recover(&path, id, &self.config.workspace_root, &self.owners).await;
            }
        }
        for id in self.owners.slots().await {
            if !tokio::fs::try_exists(self.config.dir.join(id.simple().to_string()))
                .await
                .unwrap_or(true)
            {
                self.owners.remove(id).await;
            }
        }
    }

    /// Keeps the pool at its target until [`Pool::drain`].
    pub async fn refill(self: Arc<Self>) {
        loop {
            if self.stop.is_cancelled() {
                return;
            }
            loop {
                let starting = self.starting.load(Ordering::SeqCst);
                if self.len() + starting >= self.config.target
                    || starting >= self.config.concurrency
                {
                    break;
                }
                self.starting.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(self.clone().start_one());
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = self.stop.cancelled() => return,
            }
        }
    }

    async fn start_one(self: Arc<Self>) {
        let slot_id = Uuid::new_v4();
        let slot = Slot {
            id: slot_id,
            dir: self.config.dir.join(slot_id.simple().to_string()),
            workspace_root: self.config.workspace_root.clone(),
            owners: self.owners.clone(),
        };
        match self.launch(&slot).await {
            Ok(executor) if !self.stop.is_cancelled() => {
                tracing::info!(slot = %slot_id, executor = %executor.endpoint.base_url, "pooled executor ready");
                self.ready().push_back(executor);
            }
            Ok(executor) => executor.stop().await,
            Err(e) => {
                tracing::warn!(slot = %slot_id, error = %e, "could not start a pooled executor");
                tokio::select! {
                    _ = tokio::time::sleep(self.config.retry_pause) => {}
                    _ = self.stop.cancelled() => {}
                }
            }
        }
        self.starting.fetch_sub(1, Ordering::SeqCst);
        self.wake.notify_one();
    }

    async fn launch(&self, slot: &Slot) -> Result<Executor, String> {
        if let Err(e) = create_slot_dir(&slot.dir).await {
            return Err(format!("cannot create {}: {e}", slot.dir.display()));
        }
        let spec = PoolSpec {
            slot_id: slot.id,
            slot_dir: slot.dir.clone(),
            env: self.config.env.clone(),
        };
        let slot = Slot {
            id: slot.id,
            dir: slot.dir.clone(),
            workspace_root: slot.workspace_root.clone(),
            owners: slot.owners.clone(),
        };
        let slot_id = slot.id;
        if let Err(e) = self.pool_workspace(&slot).await {
            let path = slot.workspace();
            slot.dispose().await;
            return Err(format!("cannot create {}: {e}", path.display()));
        }
        let launched = match self.runtime.launch_pooled(&spec).await {
            Ok(l) => l,
            Err(e) => {
                slot.dispose().await;
                return Err(e.to_string());
            }
        };
        let mut executor = Executor {
            endpoint: launched.endpoint,
            handle: launched.handle,
            slot: Some(slot),
            origin: Origin::Pooled,
            model_token: None,
        };
        if let Err(e) = self
            .executor
            .wait_ready(
                &executor.endpoint,
                executor.handle.as_mut(),
                self.config.ready_timeout,
            )
            .await
        {
            executor.stop().await;
            return Err(e.to_string());
        }
        // The CLI for a new session's first run, started ahead with the default model and
        // permission mode (a run wanting others has them applied late) and this executor's model
        // proxy token (bound to a run only when one takes the executor).
        let token = crate::model_proxy::new_token();
        let req = PrestartRequest {
            model: None,
            permission_mode: PermissionMode::default(),
            env: crate::run::task_env(&token),
        };
        match self.executor.prestart(&executor.endpoint, &req).await {
            Ok(()) => executor.model_token = Some(token),
            // The executor's `AGENT_PRESTART` is off.
            Err(RuntimeError::Refused { status: 422, .. }) => {
                tracing::debug!(slot = %slot_id, "a pooled executor starts no CLI ahead");
            }
            Err(e) => {
                tracing::warn!(slot = %slot_id, error = %e, "a pooled executor started no CLI ahead; its run starts one");
            }
        }
        Ok(executor)
    }

    /// The slot's workspace for the CLI started ahead: recorded as the pool's own, created, and
    /// handed over to the executor's user.
    async fn pool_workspace(&self, slot: &Slot) -> std::io::Result<()> {
        let (user, session) = UNASSIGNED;
        self.owners.record(slot.id, user, session).await?;
        tokio::fs::create_dir(slot.workspace()).await?;
        self.runtime
            .prepare_workspace(&slot.workspace())
            .await
            .map_err(std::io::Error::other)
    }

    /// Stops refilling, waits for starts in flight, and stops every pooled executor.
    pub async fn drain(&self) {
        self.stop.cancel();
        while self.starting.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let all: Vec<Executor> = self.ready().drain(..).collect();
        if !all.is_empty() {
            tracing::info!(count = all.len(), "stopping pooled executors");
        }
        futures::future::join_all(all.into_iter().map(Executor::stop)).await;
    }

    /// Stops refilling without waiting (the manager is going away without a drain).
    pub fn abandon(&self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[tokio::test]
    async fn slot_round_trip_and_recovery_never_lose_a_workspace() {
        let root = tempfile::tempdir().unwrap();
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let ws = canonical(root.path(), user, session);
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(ws.join("a.txt"), "A").unwrap();
        let owners = SlotOwners::new(root.path(), "m");
        let slot = |id: Uuid| slot_at(root.path(), &owners, id);
        let s = slot(Uuid::new_v4());
        std::fs::create_dir_all(&s.dir).unwrap();
        s.assign(user, session, &ws).await.unwrap();
        assert!(!ws.exists());
        assert_eq!(
            std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(),
            "A"
        );
        s.release(&ws).await.unwrap();
        assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "A");
        s.dispose().await;

        // A slot disposed with the workspace still in it (a failed run) gives it back.
        let s = slot(Uuid::new_v4());
        std::fs::create_dir_all(&s.dir).unwrap();
        s.assign(user, session, &ws).await.unwrap();
        let dir = s.dir.clone();
        s.dispose().await;
        assert!(!dir.exists());
        assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "A");

        // Start-up recovery; an existing non-empty workspace is not overwritten.
        let s = slot(Uuid::new_v4());
        std::fs::create_dir_all(&s.dir).unwrap();
        s.assign(user, session, &ws).await.unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(ws.join("b.txt"), "B").unwrap();
        let pool = Pool::new(
            PoolConfig {
                dir: root.path().join("pool/m"),
                workspace_root: root.path().to_path_buf(),
                target: 0,
                concurrency: 1,
                env: BTreeMap::new(),
                ready_timeout: Duration::from_secs(1),
                retry_pause: Duration::from_secs(1),
            },
            Arc::new(crate::runtime::process::ProcessRuntime::new("/bin/false")),
        );
        pool.recover().await;
        assert!(!s.dir.exists());
        assert_eq!(std::fs::read_to_string(ws.join("b.txt")).unwrap(), "B");
        let recovered = ws.with_file_name(format!("workspace.recovered-{}", s.id.simple()));
        assert_eq!(
            std::fs::read_to_string(recovered.join("a.txt")).unwrap(),
            "A"
        );
        // Every record went with its slot.
        assert!(owners.slots().await.is_empty());
    }

    /// Slot `id` of manager `m` under `root`.
    fn slot_at(root: &Path, owners: &SlotOwners, id: Uuid) -> Slot {
        Slot {
            id,
            dir: root.join("pool/m").join(id.simple().to_string()),
            workspace_root: root.to_path_buf(),
            owners: owners.clone(),
        }
    }

    #[tokio::test]
    async fn a_new_session_adopts_the_pools_workspace_and_one_with_files_replaces_it() {
        let root = tempfile::tempdir().unwrap();
        let owners = SlotOwners::new(root.path(), "m");
        let pooled = || {
            let id = Uuid::new_v4();
            let s = slot_at(root.path(), &owners, id);
            std::fs::create_dir_all(s.workspace().join(".claude_data")).unwrap();
            std::fs::write(s.workspace().join(format!(".claude_data/{id}")), "ahead").unwrap();
            s
        };
        let (user, session) = (Uuid::new_v4(), Uuid::new_v4());
        let ws = canonical(root.path(), user, session);

        // A new session (its workspace an empty directory): the CLI's workspace is adopted as it
        // is (same directory), and goes to the session after the run.
        std::fs::create_dir_all(&ws).unwrap();
        let s = pooled();
        let before = std::fs::metadata(s.workspace()).unwrap().ino();
        s.assign(user, session, &ws).await.unwrap();
        assert!(!ws.exists());
        assert_eq!(std::fs::metadata(s.workspace()).unwrap().ino(), before);
        assert_eq!(owners.owner(s.id).await, Some((user, session)));
        std::fs::write(s.workspace().join("made.txt"), "M").unwrap();
        s.release(&ws).await.unwrap();
        assert_eq!(std::fs::read_to_string(ws.join("made.txt")).unwrap(), "M");
        s.dispose().await;

        // A session with files: they replace the pool's workspace, whose files are gone.
        let s = pooled();
        s.assign(user, session, &ws).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(s.workspace().join("made.txt")).unwrap(),
            "M"
        );
        assert!(
            !s.workspace()
                .join(format!(".claude_data/{}", s.id))
                .exists()
        );
        assert!(!s.dir.join(TRASH_DIR).exists());
        s.release(&ws).await.unwrap();
        s.dispose().await;

        // The pool's own workspace goes with its slot, recorded as unassigned; a workspace with no
        // record at all stays (it could be a session's).
        let s = pooled();
        let (u, n) = UNASSIGNED;
        owners.record(s.id, u, n).await.unwrap();
        let dir = s.dir.clone();
        s.dispose().await;
        assert!(!dir.exists());
        assert!(owners.slots().await.is_empty());
        let s = pooled();
        let dir = s.dir.clone();
        s.dispose().await;
        assert!(dir.join(WORKSPACE_DIR).exists());
        assert_eq!(std::fs::read_to_string(ws.join("made.txt")).unwrap(), "M");
    }

    fn pool_at(root: &Path) -> Arc<Pool> {
        Pool::new(
            PoolConfig {
                dir: root.join("pool/m"),
                workspace_root: root.to_path_buf(),
                target: 0,
                concurrency: 1,
                env: BTreeMap::new(),
                ready_timeout: Duration::from_secs(1),
                retry_pause: Duration::from_secs(1),
            },
            Arc::new(crate::runtime::process::ProcessRuntime::new("/bin/false")),
        )
    }

    #[tokio::test]
    async fn recovery_trusts_the_ledger_never_a_file_in_the_slot() {
        let root = tempfile::tempdir().unwrap();
        let owners = SlotOwners::new(root.path(), "m");
        let (user, a, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let ws_a = canonical(root.path(), user, a);
        std::fs::create_dir_all(&ws_a).unwrap();
        std::fs::write(ws_a.join("a.txt"), "A").unwrap();
        let id = Uuid::new_v4();
        let s = slot_at(root.path(), &owners, id);
        create_slot_dir(&s.dir).await.unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&s.dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        s.assign(user, a, &ws_a).await.unwrap();
        // What an executor with access to the slot might forge (the old `owner` file).
        std::fs::write(s.dir.join("owner"), format!("{user}/{b}")).unwrap();
        let dir = s.dir.clone();
        drop(s); // as after a crash: never disposed of
        pool_at(root.path()).recover().await;
        assert!(!dir.exists());
        assert_eq!(std::fs::read_to_string(ws_a.join("a.txt")).unwrap(), "A");
        assert!(
            !canonical(root.path(), user, b).exists(),
            "went to the forged owner"
        );
        assert_eq!(owners.owner(id).await, None);

        // A slot with a workspace and no record: left in place, never guessed.
        let id = Uuid::new_v4();
        let dir = root.path().join("pool/m").join(id.simple().to_string());
        std::fs::create_dir_all(dir.join("workspace")).unwrap();
        std::fs::write(dir.join("workspace/x"), "X").unwrap();
        std::fs::write(dir.join("owner"), format!("{user}/{b}")).unwrap();
        pool_at(root.path()).recover().await;
        assert_eq!(
            std::fs::read_to_string(dir.join("workspace/x")).unwrap(),
            "X"
        );
        assert!(!canonical(root.path(), user, b).exists());

        // A record whose slot is gone is dropped.
        let gone = Uuid::new_v4();
        owners.record(gone, user, a).await.unwrap();
        pool_at(root.path()).recover().await;
        assert_eq!(owners.owner(gone).await, None);
    }

    #[test]
    fn manager_dir_names_are_plain() {
        assert_eq!(manager_dir_name("host-1a2b"), "host-1a2b");
        assert_eq!(manager_dir_name("../x/y"), "_x_y");
        assert_eq!(manager_dir_name(".."), "manager");
        assert!(!manager_dir_name("../../etc").contains('/'));
    }
}
