//! `EXECUTOR_RUNTIME=docker`: one container per run, through the Docker Engine API (bollard;
//! the daemon is found through `DOCKER_HOST`, default `unix:///var/run/docker.sock`).
//!
//! The container runs `EXECUTOR_IMAGE` as a non-root user (`EXECUTOR_USER`), with every capability
//! dropped, `no-new-privileges`, memory/CPU/process limits, the run's workspace bind-mounted at
//! `/workspace`, and the executor's port published on `EXECUTOR_PUBLISH_ADDRESS` (default
//! 127.0.0.1) where the manager reaches it as `EXECUTOR_PUBLISHED_HOST`. Containers carry
//! labels (run, session, user, manager id, lease epoch) so a restarted manager can find and remove
//! the ones it left behind.
//!
//! Isolation between tenants: every container gets its own API secret and instance id
//! ([`super::Credentials`]), and runs on `EXECUTOR_NETWORK`, a bridge created at start-up with
//! inter-container traffic off (`com.docker.network.bridge.enable_icc=false`) and a fixed
//! interface name (`wc-` + a hash of the network's name) that the manager's firewall
//! ([`super::firewall`], `EXECUTOR_EGRESS_POLICY`) names. An existing network that allows
//! inter-container traffic is refused.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use uuid::Uuid;

use super::firewall::{self, Guard, Rules};
use super::{
    Credentials, Endpoint, ExecutorHandle, ExitInfo, LaunchSpec, Launched, Orphan, PoolSpec,
    Runtime, RuntimeError,
};
use crate::config::{EgressPolicy, Settings};

pub const LABEL_RUN: &str = "workcell.run_id";
pub const LABEL_SESSION: &str = "workcell.session_id";
pub const LABEL_USER: &str = "workcell.user_id";
pub const LABEL_MANAGER: &str = "workcell.manager_id";
pub const LABEL_EPOCH: &str = "workcell.epoch";
/// On pooled containers: the pool slot (its directory is `WORKSPACE_ROOT/pool/<manager>/<slot>`).
pub const LABEL_POOL_SLOT: &str = "workcell.pool_slot";

/// Seconds a stopped container gets between SIGTERM and SIGKILL.
const STOP_GRACE_SECONDS: i32 = 10;

/// The network option that must be `false` on `EXECUTOR_NETWORK`.
pub const OPTION_ICC: &str = "com.docker.network.bridge.enable_icc";
/// The network option naming its bridge interface.
pub const OPTION_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// On the network the manager created.
pub const LABEL_NETWORK: &str = "workcell.executor_network";

/// The bridge interface name the manager gives `network`: `wc-` + 8 hex digits of its SHA-256
/// (interface names have at most 15 characters).
pub fn bridge_name(network: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(network.as_bytes());
    format!("wc-{}", &hex::encode(digest)[..8])
}

/// Container settings taken from [`Settings`].
#[derive(Debug, Clone)]
pub struct DockerConfig {
    pub image: String,
    pub published_host: String,
    pub container_port: u16,
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    pub pids_limit: i64,
    pub user: String,
    pub manager_id: String,
    pub network: String,
    pub publish_address: String,
    pub egress_policy: EgressPolicy,
    pub egress_deny: Vec<String>,
    pub egress_host_ports: Vec<u16>,
    /// `DOCKER_HOST`; `None`: the local default socket.
    pub docker_host: Option<String>,
}

impl DockerConfig {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            image: s.executor_image.clone().unwrap_or_default(),
            published_host: s.executor_published_host.clone(),
            container_port: s.executor_container_port,
            memory_bytes: i64::try_from(s.executor_memory_mb)
                .unwrap_or(i64::MAX / (1024 * 1024))
                .saturating_mul(1024 * 1024),
            nano_cpus: (s.executor_cpus * 1e9) as i64,
            pids_limit: s.executor_pids_limit,
            user: s.executor_user.clone(),
            manager_id: s.worker_id().to_owned(),
            network: s.executor_network.clone(),
            publish_address: s.executor_publish_address.clone(),
            egress_policy: s.executor_egress_policy,
            egress_deny: s.executor_egress_deny.clone(),
            egress_host_ports: s.executor_egress_host_ports.clone(),
            docker_host: s.docker_host.clone().filter(|h| !h.trim().is_empty()),
        }
    }
}

pub struct DockerRuntime {
    docker: Docker,
    config: DockerConfig,
    /// The bridge interface of `EXECUTOR_NETWORK`.
    bridge: String,
}

fn launch_err(what: &str, e: DockerError) -> RuntimeError {
    RuntimeError::Launch(format!("{what}: {e}"))
}

impl DockerRuntime {
    /// Connects to `DOCKER_HOST` (the settings') and checks the daemon answers.
    pub async fn connect(config: DockerConfig) -> Result<Self, RuntimeError> {
        let docker = match &config.docker_host {
            Some(host) => Docker::connect_with_host(host),
            None => Docker::connect_with_defaults(),
        }
        .map_err(|e| RuntimeError::Daemon(e.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|e| RuntimeError::Daemon(e.to_string()))?;
        let bridge = ensure_network(&docker, &config.network).await?;
        Ok(Self {
            docker,
            config,
            bridge,
        })
    }

    /// The bridge interface executors' traffic enters the host through.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    pub fn container_name(run_id: Uuid) -> String {
        format!("workcell-run-{run_id}")
    }

    fn create_body(&self, spec: &LaunchSpec, credentials: &Credentials) -> ContainerCreateBody {
        let labels = HashMap::from([
            (LABEL_RUN.to_owned(), spec.run_id.to_string()),
            (LABEL_SESSION.to_owned(), spec.session_id.to_string()),
            (LABEL_USER.to_owned(), spec.user_id.to_string()),
            (LABEL_MANAGER.to_owned(), self.config.manager_id.clone()),
            (LABEL_EPOCH.to_owned(), spec.epoch.to_string()),
        ]);
        let bind = format!("{}:/workspace:rw", spec.workspace.display());
        self.body(
            &spec.env,
            credentials,
            labels,
            bind,
            "/workspace",
            "/workspace",
        )
    }

    /// A pooled container: its slot directory at `/slot`, the workspace (moved in later) at
    /// `/slot/workspace`, labelled with the manager and the slot only.
    fn pool_body(&self, spec: &PoolSpec, credentials: &Credentials) -> ContainerCreateBody {
        let labels = HashMap::from([
            (LABEL_MANAGER.to_owned(), self.config.manager_id.clone()),
            (LABEL_POOL_SLOT.to_owned(), spec.slot_id.to_string()),
        ]);
        let bind = format!("{}:/slot:rw", spec.slot_dir.display());
        self.body(
            &spec.env,
            credentials,
            labels,
            bind,
            "/slot/workspace",
            "/slot",
        )
    }

    fn body(
        &self,
        env: &std::collections::BTreeMap<String, String>,
        credentials: &Credentials,
        labels: HashMap<String, String>,
        bind: String,
        workspace: &str,
        working_dir: &str,
    ) -> ContainerCreateBody {
        let c = &self.config;
        let port_key = format!("{}/tcp", c.container_port);
        let mut env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        env.push(format!("WORKSPACE_PATH={workspace}"));
        env.push("HOST=0.0.0.0".into());
        env.push(format!("PORT={}", c.container_port));
        env.extend(credentials.env().map(|(k, v)| format!("{k}={v}")));
        let ports = HashMap::from([(
            port_key.clone(),
            Some(vec![PortBinding {
                host_ip: Some(c.publish_address.clone()),
                host_port: Some(String::new()),
            }]),
        )]);
        ContainerCreateBody {
            image: Some(c.image.clone()),
            env: Some(env),
            labels: Some(labels),
            user: Some(c.user.clone()),
            working_dir: Some(working_dir.into()),
            exposed_ports: Some(vec![port_key]),
            host_config: Some(HostConfig {
                binds: Some(vec![bind]),
                port_bindings: Some(ports),
                network_mode: Some(c.network.clone()),
                memory: Some(c.memory_bytes),
                // No swap beyond the memory limit: an over-limit run is OOM-killed, not slowed.
                memory_swap: Some(c.memory_bytes),
                nano_cpus: Some(c.nano_cpus),
                pids_limit: Some(c.pids_limit),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                extra_hosts: Some(vec!["host.docker.internal:host-gateway".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Creates and starts a container named `name`, and finds its published port.
    async fn start(
        &self,
        name: &str,
        body: ContainerCreateBody,
        credentials: Credentials,
    ) -> Result<Launched, RuntimeError> {
        // A container of an earlier attempt under this name on this host.
        self.remove(name).await;
        let opts = CreateContainerOptionsBuilder::new().name(name).build();
        let created = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| launch_err("cannot create the container", e))?;
        let id = created.id;
        if let Err(e) = self.docker.start_container(&id, None).await {
            self.remove(&id).await;
            return Err(launch_err("cannot start the container", e));
        }
        let port = match self.published_port(&id).await {
            Ok(p) => p,
            Err(e) => {
                self.remove(&id).await;
                return Err(e);
            }
        };
        tracing::info!(container = %name, port, "executor container started");
        Ok(Launched {
            endpoint: Endpoint {
                base_url: format!("http://{}:{port}", self.config.published_host),
                credentials,
            },
            handle: Box::new(ContainerHandle {
                docker: self.docker.clone(),
                id,
                exit: None,
            }),
        })
    }

    async fn published_port(&self, id: &str) -> Result<u16, RuntimeError> {
        let key = format!("{}/tcp", self.config.container_port);
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| launch_err("cannot inspect the container", e))?;
        info.network_settings
            .and_then(|n| n.ports)
            .and_then(|mut p| p.remove(&key))
            .flatten()
            .and_then(|b| b.into_iter().find_map(|b| b.host_port))
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| RuntimeError::Launch(format!("the container's {key} is not published")))
    }

    async fn remove(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(opts)).await {
            Ok(()) => {}
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => tracing::warn!(container = id, error = %e, "cannot remove container"),
        }
    }
}

/// Finds or creates `network` and returns its bridge interface. Created: a bridge without IPv6,
/// inter-container traffic off, interface [`bridge_name`]. Existing: refused unless it is a
/// bridge with `enable_icc=false`; its interface is its `bridge.name` option, else Docker's
/// `br-<id prefix>`.
pub async fn ensure_network(docker: &Docker, network: &str) -> Result<String, RuntimeError> {
    let refuse = |why: String| RuntimeError::Network(format!("`{network}` {why}"));
    for attempt in 0..2 {
        match docker.inspect_network(network, None).await {
            Ok(info) => {
                let options = info.options.unwrap_or_default();
                if info.driver.as_deref() != Some("bridge") {
                    return Err(refuse(format!(
                        "is not a bridge network (driver {:?}); remove it or name another",
                        info.driver.unwrap_or_default()
                    )));
                }
                if options.get(OPTION_ICC).map(String::as_str) != Some("false") {
                    return Err(refuse(format!(
                        "lets containers reach each other ({OPTION_ICC} is not false); remove \
                         it (docker network rm {network}) so the manager creates it, or name \
                         another"
                    )));
                }
                return Ok(match options.get(OPTION_BRIDGE_NAME) {
                    Some(name) if !name.is_empty() => name.clone(),
                    _ => {
                        let id = info.id.unwrap_or_default();
                        format!("br-{}", id.get(..12).unwrap_or(&id))
                    }
                });
            }
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) if attempt == 0 => {
                let bridge = bridge_name(network);
                let request = NetworkCreateRequest {
                    name: network.to_owned(),
                    driver: Some("bridge".into()),
                    enable_ipv6: Some(false),
                    options: Some(HashMap::from([
                        (OPTION_ICC.to_owned(), "false".to_owned()),
                        (OPTION_BRIDGE_NAME.to_owned(), bridge.clone()),
                    ])),
                    labels: Some(HashMap::from([(
                        LABEL_NETWORK.to_owned(),
                        "true".to_owned(),
                    )])),
                    ..Default::default()
                };
                match docker.create_network(request).await {
                    Ok(_) => {
                        tracing::info!(network, bridge, "created the executor network");
                    }
                    // Another manager created it meanwhile: inspect it again.
                    Err(DockerError::DockerResponseServerError {
                        status_code: 409, ..
                    }) => {}
                    Err(e) => return Err(refuse(format!("cannot be created: {e}"))),
                }
            }
            Err(e) => return Err(refuse(format!("cannot be inspected: {e}"))),
        }
    }
    Err(refuse("cannot be found or created".into()))
}

/// Makes the workspace writable by the container's user (`uid[:gid]`).
///
/// The manager does this as root over a tree the agent wrote, so it never follows a symbolic
/// link: every entry is changed relative to its parent directory's descriptor
/// (`fchownat(AT_SYMLINK_NOFOLLOW)`: a link is changed itself, never what it points to) and
/// directories are entered with `O_NOFOLLOW`, so an entry swapped for a link while the walk runs
/// is changed or skipped, and the walk never leaves the workspace. One descriptor is open per
/// level of nesting.
pub fn hand_over(workspace: &Path, user: &str) -> std::io::Result<()> {
    use rustix::fs::{Gid, Mode, Uid};
    let mut parts = user.split(':');
    let uid = parts.next().and_then(|u| u.parse::<u32>().ok());
    let gid = parts.next().and_then(|g| g.parse::<u32>().ok());
    let Some(uid) = uid else {
        // A user name: nothing to map on the host side.
        return Ok(());
    };
    let (uid, gid) = (Uid::from_raw(uid), gid.map(Gid::from_raw));
    let root = rustix::fs::openat(rustix::fs::CWD, workspace, HAND_OVER_DIR, Mode::empty())?;
    rustix::fs::fchown(&root, Some(uid), gid)?;
    hand_over_dir(&root, uid, gid, 0)
}

const HAND_OVER_DIR: rustix::fs::OFlags = rustix::fs::OFlags::RDONLY
    .union(rustix::fs::OFlags::DIRECTORY)
    .union(rustix::fs::OFlags::NOFOLLOW)
    .union(rustix::fs::OFlags::CLOEXEC);

/// Deeper than this, the rest is left as it is (and logged): a tree nested so deep is no work.
const HAND_OVER_MAX_DEPTH: usize = 256;

fn hand_over_dir(
    dir: &std::os::fd::OwnedFd,
    uid: rustix::fs::Uid,
    gid: Option<rustix::fs::Gid>,
    depth: usize,
) -> std::io::Result<()> {
    use rustix::fs::{AtFlags, Dir, FileType, Mode};
    use rustix::io::Errno;
    let mut subdirs = Vec::new();
    let mut entries = Dir::read_from(dir)?;
    while let Some(entry) = entries.read() {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        match rustix::fs::chownat(dir, name, Some(uid), gid, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(()) => {}
            // Removed while the walk ran.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
            _ => false,
        };
        if is_dir {
            subdirs.push(name.to_owned());
        }
    }
    drop(entries);
    for name in subdirs {
        if depth + 1 > HAND_OVER_MAX_DEPTH {
            tracing::warn!("workspace nested too deep; its deepest directories keep their owner");
            break;
        }
        match rustix::fs::openat(dir, name.as_c_str(), HAND_OVER_DIR, Mode::empty()) {
            Ok(child) => hand_over_dir(&child, uid, gid, depth + 1)?,
            // Swapped for a link or a file, or removed, while the walk ran: not followed.
            Err(Errno::LOOP | Errno::NOTDIR | Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn isolate(&self, manager_port: u16) -> BoxFuture<'_, Result<Option<Guard>, RuntimeError>> {
        Box::pin(async move {
            if self.config.egress_policy == EgressPolicy::Open {
                tracing::warn!(
                    bridge = %self.bridge,
                    "EXECUTOR_EGRESS_POLICY=open: no firewall; executors reach every port of this \
                     host and link-local addresses (development only)"
                );
                return Ok(None);
            }
            let rules = Rules {
                bridge: self.bridge.clone(),
                deny: self.config.egress_deny.clone(),
                manager_port,
                host_ports: self.config.egress_host_ports.clone(),
            };
            tokio::task::spawn_blocking(move || firewall::install(&rules))
                .await
                .map_err(|e| RuntimeError::Isolation(e.to_string()))?
                .map(Some)
                .map_err(|e| RuntimeError::Isolation(e.to_string()))
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(async move {
            self.docker
                .ping()
                .await
                .map(|_| ())
                .map_err(|e| RuntimeError::Daemon(e.to_string()))
        })
    }

    fn launch<'a>(&'a self, spec: &'a LaunchSpec) -> BoxFuture<'a, Result<Launched, RuntimeError>> {
        Box::pin(async move {
            let workspace = spec.workspace.clone();
            let user = self.config.user.clone();
            tokio::task::spawn_blocking(move || hand_over(&workspace, &user))
                .await
                .map_err(|e| RuntimeError::Launch(e.to_string()))?
                .map_err(|e| {
                    RuntimeError::Launch(format!("cannot hand the workspace over: {e}"))
                })?;
            let name = Self::container_name(spec.run_id);
            let credentials = Credentials::generate();
            let body = self.create_body(spec, &credentials);
            self.start(&name, body, credentials).await
        })
    }

    fn launch_pooled<'a>(
        &'a self,
        spec: &'a PoolSpec,
    ) -> BoxFuture<'a, Result<Launched, RuntimeError>> {
        Box::pin(async move {
            let name = format!("workcell-pool-{}", spec.slot_id.simple());
            let credentials = Credentials::generate();
            let body = self.pool_body(spec, &credentials);
            self.start(&name, body, credentials).await
        })
    }

    fn prepare_workspace<'a>(
        &'a self,
        workspace: &'a Path,
    ) -> BoxFuture<'a, Result<(), RuntimeError>> {
        Box::pin(async move {
            let workspace = workspace.to_path_buf();
            let user = self.config.user.clone();
            tokio::task::spawn_blocking(move || hand_over(&workspace, &user))
                .await
                .map_err(|e| RuntimeError::Launch(e.to_string()))?
                .map_err(|e| RuntimeError::Launch(format!("cannot hand the workspace over: {e}")))
        })
    }

    fn evict_session(&self, session_id: Uuid) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let filters = HashMap::from([("label", vec![format!("{LABEL_SESSION}={session_id}")])]);
            let opts = ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build();
            match self.docker.list_containers(Some(opts)).await {
                Ok(list) => {
                    for id in list.into_iter().filter_map(|c| c.id) {
                        tracing::warn!(container = %id, %session_id, "removing a stale executor of this session");
                        self.remove(&id).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list the session's containers"),
            }
        })
    }

    fn reconcile<'a>(
        &'a self,
        keep: &'a [Uuid],
    ) -> BoxFuture<'a, Result<Vec<Orphan>, RuntimeError>> {
        Box::pin(async move {
            let filters = HashMap::from([(
                "label",
                vec![format!("{LABEL_MANAGER}={}", self.config.manager_id)],
            )]);
            let opts = ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build();
            let list = self
                .docker
                .list_containers(Some(opts))
                .await
                .map_err(|e| launch_err("cannot list containers", e))?;
            let mut orphans = Vec::new();
            for c in list {
                let labels = c.labels.unwrap_or_default();
                let run_id = labels.get(LABEL_RUN).and_then(|r| r.parse::<Uuid>().ok());
                if run_id.is_some_and(|r| keep.contains(&r)) {
                    continue;
                }
                let Some(id) = c.id else { continue };
                tracing::warn!(container = %id, run_id = ?run_id, "removing a container left by an earlier run of this manager");
                self.remove(&id).await;
                if let (Some(run_id), Some(epoch)) = (
                    run_id,
                    labels.get(LABEL_EPOCH).and_then(|e| e.parse::<i64>().ok()),
                ) {
                    orphans.push(Orphan { run_id, epoch });
                }
            }
            Ok(orphans)
        })
    }
}

struct ContainerHandle {
    docker: Docker,
    id: String,
    exit: Option<ExitInfo>,
}

impl ContainerHandle {
    /// Why the container stopped, from its state.
    async fn exit_reason(&self, fallback_code: Option<i64>) -> ExitInfo {
        match self.docker.inspect_container(&self.id, None).await {
            Ok(info) => {
                let state = info.state.unwrap_or_default();
                let reason = if state.oom_killed == Some(true) {
                    "out of memory: the executor container was OOM-killed".to_owned()
                } else {
                    let code = state.exit_code.or(fallback_code).unwrap_or(-1);
                    match state.error.filter(|e| !e.is_empty()) {
                        Some(err) => {
                            format!("the executor container exited with status {code}: {err}")
                        }
                        None => format!("the executor container exited with status {code}"),
                    }
                };
                ExitInfo { reason }
            }
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => ExitInfo {
                reason: "the executor container vanished".into(),
            },
            Err(e) => ExitInfo {
                reason: format!("the executor container could not be inspected: {e}"),
            },
        }
    }
}

impl ExecutorHandle for ContainerHandle {
    fn exited(&mut self) -> BoxFuture<'_, ExitInfo> {
        Box::pin(async move {
            if let Some(e) = &self.exit {
                return e.clone();
            }
            let mut stream = self.docker.wait_container(&self.id, None);
            let info = match stream.next().await {
                Some(Ok(r)) => self.exit_reason(Some(r.status_code)).await,
                Some(Err(DockerError::DockerContainerWaitError { code, .. })) => {
                    self.exit_reason(Some(code)).await
                }
                Some(Err(DockerError::DockerResponseServerError {
                    status_code: 404, ..
                })) => ExitInfo {
                    reason: "the executor container vanished".into(),
                },
                Some(Err(_)) | None => {
                    // The wait itself broke (daemon restart, connection); look at the state.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    self.exit_reason(None).await
                }
            };
            self.exit = Some(info.clone());
            info
        })
    }

    fn diagnose(&mut self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            let info = self.docker.inspect_container(&self.id, None).await.ok()?;
            (info.state?.oom_killed == Some(true))
                .then(|| "out of memory: the executor container hit its memory limit".to_owned())
        })
    }

    fn kill(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let opts = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
            match self.docker.kill_container(&self.id, Some(opts)).await {
                Ok(()) => {}
                // Gone already, or not running: nothing left to kill.
                Err(DockerError::DockerResponseServerError {
                    status_code: 404 | 409,
                    ..
                }) => {}
                Err(e) => tracing::warn!(container = %self.id, error = %e, "cannot kill container"),
            }
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let opts = StopContainerOptionsBuilder::new()
                .t(STOP_GRACE_SECONDS)
                .build();
            let _ = self.docker.stop_container(&self.id, Some(opts)).await;
            let opts = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            if let Err(e) = self.docker.remove_container(&self.id, Some(opts)).await
                && !matches!(
                    e,
                    DockerError::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }
                )
            {
                tracing::warn!(container = %self.id, error = %e, "cannot remove container");
            }
        })
    }

    /// `docker pause`: the cgroup freezer stops every process in the container at once.
    fn freeze(&mut self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(async move {
            self.docker
                .pause_container(&self.id)
                .await
                .map_err(|e| RuntimeError::Freeze(e.to_string()))
        })
    }

    fn thaw(&mut self) -> BoxFuture<'_, Result<(), RuntimeError>> {
        Box::pin(async move {
            self.docker
                .unpause_container(&self.id)
                .await
                .map_err(|e| RuntimeError::Freeze(e.to_string()))
        })
    }
}

#[cfg(test)]
mod hand_over_tests {
    use super::hand_over;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn hands_over_the_tree_and_never_follows_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "x").unwrap();
        let ws = tmp.path().join("workspace");
        std::fs::create_dir_all(ws.join("a/b")).unwrap();
        std::fs::write(ws.join("a/b/f.txt"), "y").unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("link-to-dir")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), ws.join("a/link-to-file")).unwrap();
        let before = std::fs::metadata(outside.join("secret")).unwrap();
        let (uid, gid) = (before.uid() + 4242, before.gid() + 4242);
        hand_over(&ws, &format!("{uid}:{gid}")).unwrap();
        for p in ["", "a", "a/b", "a/b/f.txt"] {
            let m = std::fs::symlink_metadata(ws.join(p)).unwrap();
            assert_eq!((m.uid(), m.gid()), (uid, gid), "{p}");
        }
        // The links themselves change hands; what they point to does not.
        let link = std::fs::symlink_metadata(ws.join("link-to-dir")).unwrap();
        assert_eq!(link.uid(), uid);
        for p in [outside.clone(), outside.join("secret")] {
            let m = std::fs::metadata(&p).unwrap();
            assert_eq!(
                (m.uid(), m.gid()),
                (before.uid(), before.gid()),
                "{}",
                p.display()
            );
        }
        // A workspace that is itself a link is refused.
        let linked = tmp.path().join("linked-workspace");
        std::os::unix::fs::symlink(&outside, &linked).unwrap();
        assert!(hand_over(&linked, &format!("{uid}:{gid}")).is_err());
        assert_eq!(std::fs::metadata(&outside).unwrap().uid(), before.uid());
    }
}
