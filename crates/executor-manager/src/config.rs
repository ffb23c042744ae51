//! The executor manager's settings: every "Executor Manager" variable of the configuration guide
//! with its documented default, plus the few this implementation adds (runtime, port, limits).
//! Loaded once at start-up; a missing or invalid variable stops the process with one line naming it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use service_config::check::{
    self, AtLeast, AtMost, Range, ensure, http_base_url, http_url, ip_address, positive_number,
    verify,
};
use service_config::default::{Int, yes};
use service_config::{Environment, Required, Secret, SecretCheck, SettingsError};
use telemetry::LogSettings;

use crate::schedule::ScheduleConfig;

/// Variables without which the manager does not start.
pub const REQUIRED: &[Required] = &[
    ("BACKEND_URL", "backend URL, e.g. http://backend:8000"),
    (
        "INTERNAL_API_TOKEN",
        "must match the backend's INTERNAL_API_TOKEN",
    ),
    (
        "CALLBACK_BASE_URL",
        "this manager's URL as executors reach it, e.g. http://host.docker.internal:8001",
    ),
    (
        "WORKSPACE_ROOT",
        "host directory holding the run workspaces",
    ),
];

/// How executors are launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeKind {
    /// One container per run (bollard).
    Docker,
    /// One child process per run on the host: no isolation, for development and tests.
    Process,
}

/// What executors may reach (`EXECUTOR_EGRESS_POLICY`, docker runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EgressPolicy {
    /// The manager's firewall (see `runtime::firewall`): no other executor, no host port but
    /// the manager's (and `EXECUTOR_EGRESS_HOST_PORTS`), nothing in `EXECUTOR_EGRESS_DENY`.
    Restricted,
    /// No rules: executors reach the host's ports and link-local addresses. Development only.
    Open,
}

impl RuntimeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Docker => "docker",
            RuntimeKind::Process => "process",
        }
    }
}

/// Everything the manager reads from its environment. Secrets are [`Secret`]s: `Debug` redacts them.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Trailing slashes are dropped (paths are appended).
    #[serde(deserialize_with = "http_base_url")]
    pub backend_url: String,
    pub internal_api_token: Secret<String>,
    #[serde(deserialize_with = "http_base_url")]
    pub callback_base_url: String,
    /// An absolute host path: it is bind-mounted into executor containers.
    #[serde(deserialize_with = "host_path")]
    pub workspace_root: PathBuf,

    /// Required with the docker runtime.
    #[serde(default)]
    pub executor_image: Option<String>,
    #[serde(default = "loopback")]
    pub executor_published_host: String,

    /// All four or none (none: workspace export is off).
    #[serde(default, deserialize_with = "http_url")]
    pub s3_endpoint: Option<String>,
    /// `S3_EXECUTOR_ENDPOINT`: the store as executors reach it; the attachments and skill files
    /// handed to them are presigned for it (unset: `S3_ENDPOINT`). Under compose the manager
    /// reaches the store on 127.0.0.1, which means nothing inside a container.
    #[serde(default, deserialize_with = "http_url")]
    pub s3_executor_endpoint: Option<String>,
    #[serde(default)]
    pub s3_access_key: Option<Secret<String>>,
    #[serde(default)]
    pub s3_secret_key: Option<Secret<String>>,
    #[serde(default)]
    pub s3_bucket: Option<String>,
    #[serde(default = "default_s3_region")]
    pub s3_region: String,
    #[serde(default = "yes")]
    pub s3_force_path_style: bool,

    #[serde(default)]
    pub anthropic_auth_token: Option<Secret<String>>,
    /// Sent by the model proxy as `x-api-key` (an Anthropic API key); `ANTHROPIC_AUTH_TOKEN` goes
    /// as `Authorization: Bearer`. Neither ever reaches an executor.
    #[serde(default)]
    pub anthropic_api_key: Option<Secret<String>>,
    #[serde(default = "default_anthropic_base_url")]
    #[serde(deserialize_with = "http_base_url")]
    pub anthropic_base_url: String,
    #[serde(default = "default_model")]
    pub default_model: String,

    #[serde(default = "yes")]
    pub task_pull_enabled: bool,
    #[serde(default = "Int::<5>::get", deserialize_with = "AtLeast::<1>::de")]
    pub max_concurrent_tasks: usize,
    #[serde(default = "Int::<2>::get", deserialize_with = "AtLeast::<1>::de")]
    pub task_pull_interval_seconds: u64,
    #[serde(default = "Int::<180>::get", deserialize_with = "Range::<5, 3600>::de")]
    pub task_claim_lease_seconds: u32,
    #[serde(default)]
    pub schedule_config_path: Option<PathBuf>,
    /// `SCHEDULE_CONFIG_PATH`'s content, read and validated at start-up.
    #[serde(skip)]
    pub schedule: Arc<ScheduleConfig>,

    #[serde(default)]
    pub workspace_cleanup_enabled: bool,
    #[serde(default = "Int::<24>::get", deserialize_with = "AtLeast::<1>::de")]
    pub workspace_cleanup_interval_hours: u64,
    #[serde(default = "Int::<24>::get", deserialize_with = "AtLeast::<1>::de")]
    pub workspace_max_age_hours: u64,
    #[serde(default = "yes")]
    pub workspace_archive_enabled: bool,
    #[serde(default = "Int::<7>::get")]
    pub workspace_archive_days: u64,
    #[serde(default = "yes")]
    pub workspace_ignore_dot_files: bool,

    /// The logging variables, loaded on their own (see `service_config`: no `flatten`).
    #[serde(skip)]
    pub log: LogSettings,

    // ---- added by this implementation ----
    /// `docker` (default) or `process`.
    #[serde(default = "default_runtime")]
    pub executor_runtime: RuntimeKind,
    #[serde(default = "default_host")]
    pub host: String,
    #[serde(default = "Int::<8001>::get")]
    pub port: u16,
    /// The executor binary for the process runtime (path or name in `PATH`).
    #[serde(default = "default_executor_bin")]
    pub executor_bin: String,
    /// The Claude Code CLI the executor drives (process runtime: passed through as `CLAUDE_BIN`).
    #[serde(default)]
    pub claude_bin: Option<String>,
    /// Extra ignore rules for every executor's `.git/info/exclude` (comma- or
    /// newline-separated), passed through as `WORKSPACE_GIT_IGNORE`.
    #[serde(default)]
    pub workspace_git_ignore: Option<String>,
    /// This worker's id on the queue (1 to 200 characters); default: hostname + random suffix.
    #[serde(default, deserialize_with = "manager_id")]
    pub manager_id: Option<String>,
    /// Container memory limit in MiB.
    #[serde(default = "Int::<2048>::get", deserialize_with = "AtLeast::<64>::de")]
    pub executor_memory_mb: u64,
    /// Container CPU limit (fractional CPUs).
    #[serde(default = "default_cpus", deserialize_with = "positive_number")]
    pub executor_cpus: f64,
    /// Container process limit.
    #[serde(default = "Int::<512>::get", deserialize_with = "AtLeast::<16>::de")]
    pub executor_pids_limit: i64,
    /// The container's user (`uid:gid`); the workspace is handed to it. Never root.
    #[serde(default = "default_executor_user", deserialize_with = "non_root_user")]
    pub executor_user: String,
    /// The port the executor listens on inside its container.
    #[serde(default = "Int::<8000>::get")]
    pub executor_container_port: u16,
    /// How long a launched executor may take to answer `/health`.
    #[serde(default = "Int::<60>::get")]
    pub executor_ready_timeout_seconds: u64,
    /// How long the claim long poll waits (at most 60, the backend's bound).
    #[serde(default = "Int::<30>::get", deserialize_with = "AtMost::<60>::de")]
    pub task_claim_wait_seconds: u32,
    /// On SIGTERM: how long active runs may take to finish before they are stopped and re-queued.
    #[serde(default = "Int::<300>::get")]
    pub shutdown_timeout_seconds: u64,
    /// When set, `GET /metrics` wants `Authorization: Bearer <METRICS_TOKEN>`.
    #[serde(default)]
    pub metrics_token: Option<Secret<String>>,

    // ---- warm and pooled executors (see `warm` and `pool`) ----
    /// How long a session's executor stays up after a run, for the session's next run; 0 = off.
    #[serde(default = "Int::<300>::get")]
    pub executor_warm_idle_seconds: u64,
    /// `EXECUTOR_POOL_TARGETS`: pre-started executors, `name:count,...` (`default` =
    /// `EXECUTOR_IMAGE`), parsed: profiles unique, only counts > 0 kept; unset = none.
    #[serde(default, deserialize_with = "pool_targets")]
    pub executor_pool_targets: Vec<(String, usize)>,
    /// How many pooled executors start at once while the pool refills.
    #[serde(default = "Int::<2>::get", deserialize_with = "AtLeast::<1>::de")]
    pub executor_pool_refill_concurrency: usize,
    /// `development` (default) or `production`; production refuses placeholder and short secrets.
    #[serde(default)]
    pub environment: Environment,

    // ---- isolation between executors (docker runtime; see `runtime::docker`, `runtime::firewall`) ----
    /// `DOCKER_HOST`: the Docker daemon of the docker runtime (`unix://…`, `tcp://…`); unset:
    /// the local default socket. Read into the settings (rather than by the Docker client from
    /// the process environment) so that each manager of a process names its own daemon.
    #[serde(default)]
    pub docker_host: Option<String>,
    /// `DELETED_SESSIONS_POLL_SECONDS`: how often the backend's feed of deleted sessions is read
    /// (their workspaces on this host are removed); 1 to 3600.
    #[serde(default = "default_deleted_poll")]
    #[serde(deserialize_with = "Range::<1, 3600>::de")]
    pub deleted_sessions_poll_seconds: u64,
    /// The Docker network executors run on; created at start if missing (a bridge with
    /// inter-container traffic off). An existing network that allows it is refused.
    #[serde(default = "default_executor_network")]
    #[serde(deserialize_with = "docker_network")]
    pub executor_network: String,
    /// The host address executor ports are published on. Anything but loopback exposes every
    /// executor's API (behind its secret) to whoever reaches that address.
    #[serde(default = "loopback", deserialize_with = "ip_address")]
    pub executor_publish_address: String,
    /// `restricted` (default) or `open`.
    #[serde(default = "default_egress_policy")]
    pub executor_egress_policy: EgressPolicy,
    /// `EXECUTOR_EGRESS_DENY`: IPv4 ranges executors may not reach, restricted policy; comma-
    /// separated CIDRs, normalised (`a.b.c.d/n`; a bare address is /32).
    #[serde(default = "default_egress_deny", deserialize_with = "egress_deny")]
    pub executor_egress_deny: Vec<String>,
    /// `EXECUTOR_EGRESS_HOST_PORTS`: host TCP ports (comma-separated) executors may reach besides
    /// the manager's own, restricted policy (e.g. a model gateway on this host).
    #[serde(default, deserialize_with = "tcp_ports")]
    pub executor_egress_host_ports: Vec<u16>,
}

fn loopback() -> String {
    "127.0.0.1".into()
}
fn default_s3_region() -> String {
    "us-east-1".into()
}
fn default_anthropic_base_url() -> String {
    "https://api.anthropic.com".into()
}
fn default_model() -> String {
    "claude-sonnet-4-20250514".into()
}
fn default_runtime() -> RuntimeKind {
    RuntimeKind::Docker
}
fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_executor_bin() -> String {
    "executor".into()
}
fn default_cpus() -> f64 {
    1.0
}
fn default_executor_user() -> String {
    "1000:1000".into()
}
fn default_executor_network() -> String {
    "workcell-executors".into()
}
fn default_egress_policy() -> EgressPolicy {
    EgressPolicy::Restricted
}
fn default_egress_deny() -> Vec<String> {
    vec!["169.254.0.0/16".into()]
}

/// `WORKSPACE_ROOT`: an absolute path.
fn host_path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    verify(d, |p: &PathBuf| {
        ensure(
            p.is_absolute(),
            "must be an absolute host path (it is bind-mounted into executor containers)",
        )
    })
}

/// `EXECUTOR_USER`: `uid:gid` of anyone but root.
fn non_root_user<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    verify(d, |user: &String| {
        let user = user.trim();
        let root = ["0", "root"]
            .iter()
            .any(|r| user == *r || user.starts_with(&format!("{r}:")));
        ensure(!root, "must name a non-root user (uid:gid)")
    })
}

/// `MANAGER_ID`: at most 200 characters.
fn manager_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    verify(d, |id: &String| {
        ensure(id.len() <= 200, "must be 1 to 200 characters")
    })
}

/// `EXECUTOR_NETWORK`: a Docker network name.
fn docker_network<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    verify(d, |name: &String| {
        ensure(
            name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "must be a Docker network name (1 to 64 of A-Z a-z 0-9 - _ .)",
        )
    })
}

/// `EXECUTOR_EGRESS_DENY`: IPv4 CIDRs as `a.b.c.d/n`.
fn egress_deny<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    check::list_with(d, |p| check::ipv4_network(p).map(|n| n.to_string()))
}

/// `EXECUTOR_EGRESS_HOST_PORTS`.
fn tcp_ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    check::list_with(d, check::tcp_port)
}

/// `EXECUTOR_POOL_TARGETS`: `name:count` pairs. The only profile is `default` (the executor of
/// `EXECUTOR_IMAGE` / `EXECUTOR_BIN`), at most 64, named once; counts of 0 are dropped.
fn pool_targets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, usize)>, D::Error> {
    let parts = check::list_with(d, |part| {
        let (name, count) = part
            .split_once(':')
            .ok_or_else(|| format!("`{part}` is not `name:count`"))?;
        let name = name.trim();
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("`{part}`: the count is not a number"))?;
        if name != crate::pool::DEFAULT_PROFILE {
            return Err(format!("unknown profile `{name}` (known: default)"));
        }
        if count > 64 {
            return Err("at most 64 per profile".into());
        }
        Ok((name.to_owned(), count))
    })?;
    let mut out: Vec<(String, usize)> = Vec::new();
    for (name, count) in parts {
        if out.iter().any(|(n, _)| *n == name) {
            return Err(serde::de::Error::custom(format!("`{name}` is named twice")));
        }
        out.push((name, count));
    }
    out.retain(|(_, count)| *count > 0);
    Ok(out)
}

/// S3 connection settings, present only when all four required variables are set.
pub use objstore::S3Settings;

impl Settings {
    /// Loads and validates the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars())
    }

    /// Loads and validates the settings from the given variables.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let (mut s, log): (Settings, _) = service_config::load_with(vars, REQUIRED)?;
        s.log = log;
        s.validate()?;
        s.schedule = Arc::new(
            ScheduleConfig::load(s.schedule_config_path.as_deref())
                .map_err(|e| SettingsError::invalid("SCHEDULE_CONFIG_PATH", e))?,
        );
        if s.manager_id.is_none() {
            s.manager_id = Some(default_manager_id());
        }
        Ok(s)
    }

    /// What the fields' own validators cannot see: variables that go together and, in
    /// production, the secrets.
    fn validate(&self) -> Result<(), SettingsError> {
        if self.executor_runtime == RuntimeKind::Docker && self.executor_image.is_none() {
            return Err(SettingsError::Missing {
                var: "EXECUTOR_IMAGE",
                meaning: "executor image the docker runtime launches (or set EXECUTOR_RUNTIME=process)",
            });
        }
        self.s3()?;
        service_config::check_secrets(
            self.environment,
            &[
                SecretCheck::generated("INTERNAL_API_TOKEN", &self.internal_api_token),
                SecretCheck::issued("S3_ACCESS_KEY", self.s3_access_key.as_ref()),
                SecretCheck::issued("S3_SECRET_KEY", self.s3_secret_key.as_ref()),
                SecretCheck::issued("ANTHROPIC_AUTH_TOKEN", self.anthropic_auth_token.as_ref()),
                SecretCheck::issued("ANTHROPIC_API_KEY", self.anthropic_api_key.as_ref()),
            ],
        )
    }

    /// Every environment variable the manager reads (its settings' and the logging variables),
    /// taken from the structs themselves; the configuration agreement test compares it with
    /// `.env.example` and `docs/configuration.md`.
    pub fn variables() -> Vec<String> {
        let mut v = service_config::variable_names::<Settings>();
        v.extend(service_config::variable_names::<LogSettings>());
        v
    }

    /// How long an idle warm executor is kept; zero when warm executors are off.
    pub fn warm_idle(&self) -> Duration {
        Duration::from_secs(self.executor_warm_idle_seconds)
    }

    /// The S3 settings: all of `S3_ENDPOINT`, `S3_ACCESS_KEY`, `S3_SECRET_KEY`, `S3_BUCKET`, or none.
    pub fn s3(&self) -> Result<Option<S3Settings>, SettingsError> {
        let set = [
            ("S3_ENDPOINT", self.s3_endpoint.is_some()),
            ("S3_ACCESS_KEY", self.s3_access_key.is_some()),
            ("S3_SECRET_KEY", self.s3_secret_key.is_some()),
            ("S3_BUCKET", self.s3_bucket.is_some()),
        ];
        if set.iter().all(|(_, is_set)| !is_set) {
            return Ok(None);
        }
        if let Some((var, _)) = set.iter().find(|(_, is_set)| !is_set) {
            return Err(SettingsError::Missing {
                var,
                meaning: "S3 settings are all-or-nothing (used to export workspaces)",
            });
        }
        Ok(Some(S3Settings {
            endpoint: self.s3_endpoint.clone().unwrap_or_default(),
            // Only presigned URLs use it, and every one this manager signs is for an executor.
            public_endpoint: self.s3_executor_endpoint.clone(),
            access_key: self.s3_access_key.clone().unwrap_or_default(),
            secret_key: self.s3_secret_key.clone().unwrap_or_default(),
            bucket: self.s3_bucket.clone().unwrap_or_default(),
            region: self.s3_region.clone(),
            force_path_style: self.s3_force_path_style,
        }))
    }

    /// This worker's id on the queue.
    pub fn worker_id(&self) -> &str {
        self.manager_id.as_deref().unwrap_or("executor-manager")
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.task_claim_lease_seconds.into())
    }

    /// Heartbeats renew the lease three times per lease length.
    pub fn heartbeat_interval(&self) -> Duration {
        (self.lease() / 3).max(Duration::from_secs(1))
    }

    pub fn pull_interval(&self) -> Duration {
        Duration::from_secs(self.task_pull_interval_seconds)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_seconds)
    }

    pub fn ready_timeout(&self) -> Duration {
        Duration::from_secs(self.executor_ready_timeout_seconds)
    }

    /// `WORKSPACE_ROOT/active/{user}/{session}/workspace`.
    pub fn workspace_dir(&self, user: uuid::Uuid, session: uuid::Uuid) -> PathBuf {
        self.workspace_root
            .join("active")
            .join(user.to_string())
            .join(session.to_string())
            .join("workspace")
    }
}

fn default_deleted_poll() -> u64 {
    15
}

fn default_manager_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "executor-manager".to_owned());
    let suffix: u32 = rand::random();
    format!("{host}-{suffix:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = [
            ("BACKEND_URL", "http://backend:8000/"),
            ("INTERNAL_API_TOKEN", "internal-token-0123456789"),
            ("CALLBACK_BASE_URL", "http://host.docker.internal:8001"),
            ("WORKSPACE_ROOT", "/var/lib/workcell/workspaces"),
            ("EXECUTOR_IMAGE", "workcell/executor:latest"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    }

    fn err(extra: &[(&str, &str)]) -> String {
        Settings::from_vars(vars(extra)).unwrap_err().to_string()
    }

    #[test]
    fn documented_defaults_apply() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.backend_url, "http://backend:8000");
        assert_eq!(s.executor_published_host, "127.0.0.1");
        assert_eq!(s.s3_region, "us-east-1");
        assert!(s.s3_force_path_style);
        assert_eq!(s.anthropic_base_url, "https://api.anthropic.com");
        assert_eq!(s.default_model, "claude-sonnet-4-20250514");
        assert!(s.task_pull_enabled);
        assert_eq!(s.max_concurrent_tasks, 5);
        assert_eq!(s.task_pull_interval_seconds, 2);
        assert_eq!(s.task_claim_lease_seconds, 180);
        assert_eq!(s.schedule_config_path, None);
        assert!(!s.workspace_cleanup_enabled);
        assert_eq!(s.workspace_cleanup_interval_hours, 24);
        assert_eq!(s.workspace_max_age_hours, 24);
        assert!(s.workspace_archive_enabled);
        assert_eq!(s.workspace_archive_days, 7);
        assert!(s.workspace_ignore_dot_files);
        assert_eq!(s.executor_runtime, RuntimeKind::Docker);
        assert_eq!(s.port, 8001);
        assert_eq!(s.executor_bin, "executor");
        assert_eq!(s.executor_memory_mb, 2048);
        assert_eq!(s.executor_cpus, 1.0);
        assert_eq!(s.executor_pids_limit, 512);
        assert_eq!(s.shutdown_timeout_seconds, 300);
        assert_eq!(s.executor_user, "1000:1000");
        assert_eq!(s.heartbeat_interval(), Duration::from_secs(60));
        assert!(s.s3().unwrap().is_none());
        assert!(!s.worker_id().is_empty());
        assert_eq!(s.log, LogSettings::default());
    }

    #[test]
    fn values_parse() {
        let s = Settings::from_vars(vars(&[
            ("TASK_PULL_ENABLED", "false"),
            ("S3_FORCE_PATH_STYLE", "false"),
            ("WORKSPACE_IGNORE_DOT_FILES", "0"),
            ("MAX_CONCURRENT_TASKS", "2"),
            ("EXECUTOR_RUNTIME", "process"),
            ("EXECUTOR_CPUS", "0.5"),
            ("MANAGER_ID", "worker-1"),
            ("DEBUG", "true"),
            ("S3_ENDPOINT", "http://s3:9000"),
            ("S3_ACCESS_KEY", "ak"),
            ("S3_SECRET_KEY", "sk"),
            ("S3_BUCKET", "b"),
        ]))
        .unwrap();
        assert!(!s.task_pull_enabled);
        assert!(!s.s3_force_path_style);
        assert!(!s.workspace_ignore_dot_files);
        assert_eq!(s.max_concurrent_tasks, 2);
        assert_eq!(s.executor_runtime, RuntimeKind::Process);
        assert_eq!(s.executor_cpus, 0.5);
        assert_eq!(s.worker_id(), "worker-1");
        assert!(s.log.debug);
        let s3 = s.s3().unwrap().unwrap();
        assert_eq!(s3.bucket, "b");
        assert!(!s3.force_path_style);
    }

    #[test]
    fn missing_and_invalid_name_the_variable() {
        let e = Settings::from_vars(vars(&[]).into_iter().filter(|(k, _)| k != "BACKEND_URL"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("BACKEND_URL is required"), "{e}");
        let e = Settings::from_vars(vars(&[]).into_iter().filter(|(k, _)| k != "EXECUTOR_IMAGE"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("EXECUTOR_IMAGE is required"), "{e}");
        for (var, value) in [
            ("MAX_CONCURRENT_TASKS", "many"),
            ("MAX_CONCURRENT_TASKS", "0"),
            ("TASK_PULL_ENABLED", "maybe"),
            ("TASK_CLAIM_LEASE_SECONDS", "2"),
            ("EXECUTOR_RUNTIME", "vm"),
            ("BACKEND_URL", "backend:8000"),
            ("PORT", "99999"),
            ("EXECUTOR_CPUS", "-1"),
            ("WORKSPACE_ROOT", "relative/path"),
            ("EXECUTOR_USER", "0:0"),
            ("WORKSPACE_CLEANUP_INTERVAL_HOURS", "0"),
            ("WORKSPACE_MAX_AGE_HOURS", "0"),
            ("WORKSPACE_ARCHIVE_DAYS", "-1"),
        ] {
            let e = err(&[(var, value)]);
            assert!(
                e.starts_with(&format!("{var} is invalid")),
                "{var}={value}: {e}"
            );
        }
        let e = err(&[("S3_ENDPOINT", "http://s3:9000"), ("S3_ACCESS_KEY", "ak")]);
        assert!(e.starts_with("S3_SECRET_KEY is required"), "{e}");
    }

    #[test]
    fn schedule_config_path_is_read_and_validated_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("schedule.toml");
        std::fs::write(
            &bad,
            "[[pull]]\nkind = \"scheduled\"\ncron_window = \"99 * * * *\"\n",
        )
        .unwrap();
        let e = err(&[("SCHEDULE_CONFIG_PATH", bad.to_str().unwrap())]);
        assert!(e.starts_with("SCHEDULE_CONFIG_PATH is invalid"), "{e}");
        assert!(e.contains("99 * * * *") && !e.contains('\n'), "{e}");
        let e = err(&[("SCHEDULE_CONFIG_PATH", "/nonexistent/schedule.json")]);
        assert!(
            e.starts_with("SCHEDULE_CONFIG_PATH is invalid: cannot read"),
            "{e}"
        );
        let good = dir.path().join("schedule.json");
        std::fs::write(
            &good,
            r#"{"fire_schedules": false, "fire_interval_seconds": 2}"#,
        )
        .unwrap();
        let s =
            Settings::from_vars(vars(&[("SCHEDULE_CONFIG_PATH", good.to_str().unwrap())])).unwrap();
        assert!(!s.schedule.fire_schedules);
        assert_eq!(s.schedule.fire_interval, Duration::from_secs(2));
        // Without the variable: fire every 5 s, pull every kind.
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert!(s.schedule.fire_schedules);
    }

    #[test]
    fn isolation_settings() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.executor_network, "workcell-executors");
        assert_eq!(s.executor_publish_address, "127.0.0.1");
        assert_eq!(s.executor_egress_policy, EgressPolicy::Restricted);
        assert_eq!(s.executor_egress_deny, vec!["169.254.0.0/16"]);
        assert!(s.executor_egress_host_ports.is_empty());
        let s = Settings::from_vars(vars(&[
            ("EXECUTOR_NETWORK", "my-net.1"),
            ("EXECUTOR_PUBLISH_ADDRESS", "0.0.0.0"),
            ("EXECUTOR_EGRESS_POLICY", "open"),
            (
                "EXECUTOR_EGRESS_DENY",
                " 169.254.0.0/16, 10.0.0.0/8 ,192.168.1.1",
            ),
            ("EXECUTOR_EGRESS_HOST_PORTS", "9000, 11434"),
        ]))
        .unwrap();
        assert_eq!(s.executor_network, "my-net.1");
        assert_eq!(s.executor_publish_address, "0.0.0.0");
        assert_eq!(s.executor_egress_policy, EgressPolicy::Open);
        assert_eq!(
            s.executor_egress_deny,
            vec!["169.254.0.0/16", "10.0.0.0/8", "192.168.1.1/32"]
        );
        assert_eq!(s.executor_egress_host_ports, vec![9000, 11434]);
        // Empty is unset (compose passes `${VAR:-}`): the default list.
        let s = Settings::from_vars(vars(&[("EXECUTOR_EGRESS_DENY", "")])).unwrap();
        assert_eq!(s.executor_egress_deny, vec!["169.254.0.0/16"]);
        for (var, value) in [
            ("EXECUTOR_NETWORK", "bad name"),
            ("EXECUTOR_NETWORK", "a/b"),
            ("EXECUTOR_PUBLISH_ADDRESS", "localhost"),
            ("EXECUTOR_EGRESS_POLICY", "closed"),
            ("EXECUTOR_EGRESS_DENY", "10.0.0.0/33"),
            ("EXECUTOR_EGRESS_DENY", "fd00::/8"),
            ("EXECUTOR_EGRESS_DENY", "metadata"),
            ("EXECUTOR_EGRESS_HOST_PORTS", "0"),
            ("EXECUTOR_EGRESS_HOST_PORTS", "http"),
        ] {
            let e = err(&[(var, value)]);
            assert!(
                e.starts_with(&format!("{var} is invalid")) && !e.contains('\n'),
                "{var}={value}: {e}"
            );
        }
    }

    #[test]
    fn warm_and_pool_settings() {
        let s = Settings::from_vars(vars(&[])).unwrap();
        assert_eq!(s.warm_idle(), Duration::from_secs(300));
        assert!(s.executor_pool_targets.is_empty());
        assert_eq!(s.executor_pool_refill_concurrency, 2);
        let s = Settings::from_vars(vars(&[
            ("EXECUTOR_WARM_IDLE_SECONDS", "0"),
            ("EXECUTOR_POOL_TARGETS", " default:3 "),
            ("EXECUTOR_POOL_REFILL_CONCURRENCY", "4"),
        ]))
        .unwrap();
        assert!(s.warm_idle().is_zero());
        assert_eq!(s.executor_pool_targets, vec![("default".to_owned(), 3)]);
        assert_eq!(s.executor_pool_refill_concurrency, 4);
        let s = Settings::from_vars(vars(&[("EXECUTOR_POOL_TARGETS", "default:0")])).unwrap();
        assert!(s.executor_pool_targets.is_empty());
        for (var, value) in [
            ("EXECUTOR_POOL_TARGETS", "default"),
            ("EXECUTOR_POOL_TARGETS", "default:x"),
            ("EXECUTOR_POOL_TARGETS", "gpu:1"),
            ("EXECUTOR_POOL_TARGETS", "default:1,default:2"),
            ("EXECUTOR_POOL_TARGETS", "default:-1"),
            ("EXECUTOR_POOL_REFILL_CONCURRENCY", "0"),
            ("EXECUTOR_WARM_IDLE_SECONDS", "soon"),
        ] {
            let e = err(&[(var, value)]);
            assert!(
                e.starts_with(&format!("{var} is invalid")),
                "{var}={value}: {e}"
            );
        }
    }

    #[test]
    fn production_refuses_placeholder_and_short_secrets() {
        let strong = "0123456789abcdef0123456789abcdef";
        let s = Settings::from_vars(vars(&[
            ("ENVIRONMENT", "production"),
            ("INTERNAL_API_TOKEN", strong),
            ("ANTHROPIC_AUTH_TOKEN", "sk-ant-real-token"),
        ]))
        .unwrap();
        assert_eq!(s.environment, Environment::Production);
        for (var, value, why) in [
            (
                "INTERNAL_API_TOKEN",
                "internal-token-0123456789",
                "at least 32 bytes",
            ),
            (
                "INTERNAL_API_TOKEN",
                "change-this-internal-token-to-32-or-more-bytes",
                "placeholder",
            ),
            (
                "ANTHROPIC_AUTH_TOKEN",
                "change-this-model-api-key",
                "placeholder",
            ),
        ] {
            let mut v = vars(&[
                ("ENVIRONMENT", "production"),
                ("INTERNAL_API_TOKEN", strong),
            ]);
            v.push((var.into(), value.into()));
            let e = Settings::from_vars(v).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{var} is invalid")) && e.contains(why),
                "{e}"
            );
            assert!(!e.contains(value), "{e}");
        }
        let e = Settings::from_vars(vars(&[
            ("ENVIRONMENT", "production"),
            ("INTERNAL_API_TOKEN", strong),
            ("S3_ENDPOINT", "http://s3:9000"),
            ("S3_ACCESS_KEY", "ak"),
            ("S3_SECRET_KEY", "change-this-secret-key"),
            ("S3_BUCKET", "b"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("S3_SECRET_KEY is invalid"), "{e}");
        // Development accepts the short default test token.
        Settings::from_vars(vars(&[])).unwrap();
    }

    #[test]
    fn variables_list_every_setting() {
        let v = Settings::variables();
        for var in [
            "BACKEND_URL",
            "WORKSPACE_ARCHIVE_DAYS",
            "ENVIRONMENT",
            "LOG_LEVEL",
            "EXECUTOR_RUNTIME",
        ] {
            assert!(v.contains(&var.to_owned()), "{var} missing from {v:?}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = Settings::from_vars(vars(&[
            ("ANTHROPIC_AUTH_TOKEN", "sk-ant-very-secret"),
            ("ANTHROPIC_API_KEY", "sk-ant-api-very-secret"),
            ("S3_ENDPOINT", "http://s3:9000"),
            ("S3_ACCESS_KEY", "access-very-secret"),
            ("S3_SECRET_KEY", "secret-very-secret"),
            ("S3_BUCKET", "b"),
        ]))
        .unwrap();
        let text = format!("{s:?} {:?}", s.s3().unwrap());
        for secret in [
            "internal-token-0123456789",
            "sk-ant-very-secret",
            "sk-ant-api-very-secret",
            "access-very-secret",
            "secret-very-secret",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("[redacted]"));
    }
}
