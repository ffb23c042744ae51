//! The executor's settings, read once from the environment at start-up.
//!
//! A missing `DEFAULT_MODEL` or a value of the wrong type stops the process with one line naming
//! the variable. The model API key, token and the API secret are [`Secret`]s: `Debug` never
//! prints them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use service_config::check::{
    AtLeast, MinBytes, absolute_path, ensure, http_url, ip_address, verify,
};
use service_config::default::{Int, yes};
use service_config::{Environment, Required, Secret, SecretCheck, SettingsError};
use telemetry::LogSettings;
use uuid::Uuid;

/// Variables without which the executor does not start.
pub const REQUIRED: &[Required] = &[
    (
        "DEFAULT_MODEL",
        "model the agent uses when a task names none (e.g. claude-sonnet-4-5)",
    ),
    (
        "EXECUTOR_API_SECRET",
        "bearer secret of this executor's API (at least 32 bytes), set by the executor manager",
    ),
];

/// Shortest accepted `EXECUTOR_API_SECRET`, in bytes (the manager sends 64 hex characters).
pub const MIN_API_SECRET_BYTES: usize = 32;

/// Variables the agent never inherits, whatever `AGENT_ENV_PASSTHROUGH` names: the API secret
/// would let the agent drive its own executor's API, and the instance id is part of how the
/// manager recognises its executor.
pub const NEVER_PASSED: &[&str] = &["EXECUTOR_API_SECRET", "EXECUTOR_INSTANCE_ID"];

/// Where the CLI keeps its home and configuration, relative to the workspace. Kept in the
/// workspace so a later run in a fresh container can resume the same conversation.
pub const AGENT_DATA_DIR: &str = ".claude_data";

/// Executor variables passed to the agent when `AGENT_ENV_PASSTHROUGH` is unset. Everything else
/// in the executor's environment stays out of the agent's.
pub const DEFAULT_PASSTHROUGH: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SHELL",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// Everything the executor reads from its environment.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Address to listen on (an IP address).
    #[serde(default = "default_host", deserialize_with = "ip_address")]
    pub host: String,
    #[serde(default = "Int::<8000>::get")]
    pub port: u16,

    /// Model used when a task names none (`--model`).
    pub default_model: String,
    /// The Claude Code CLI executable (a path or a name looked up in `PATH`).
    #[serde(default = "default_claude_bin")]
    pub claude_bin: String,
    #[serde(default = "default_base_url", deserialize_with = "http_url")]
    pub anthropic_base_url: String,
    #[serde(default)]
    pub anthropic_api_key: Option<Secret<String>>,
    #[serde(default)]
    pub anthropic_auth_token: Option<Secret<String>>,
    /// Model API retries of the CLI (`CLAUDE_CODE_MAX_RETRIES`); unset keeps the CLI's default.
    #[serde(default)]
    pub agent_max_retries: Option<u32>,
    /// Run the CLI as this user and group instead of the executor's own.
    #[serde(default)]
    pub agent_uid: Option<u32>,
    #[serde(default)]
    pub agent_gid: Option<u32>,
    /// Comma-separated names of executor variables handed to the agent (default: PATH, LANG,
    /// proxies and CA settings; see [`DEFAULT_PASSTHROUGH`]); never one of [`NEVER_PASSED`].
    #[serde(default, deserialize_with = "passthrough")]
    pub agent_env_passthrough: Option<String>,
    /// How long a canceled agent has to stop after SIGINT before it is killed.
    #[serde(default = "Int::<3000>::get")]
    pub cancel_grace_ms: u64,
    /// Start the next run's CLI while the executor waits (a kept-warm container's follow-up then
    /// skips the CLI's start-up); it is used only when the next task asks for exactly the same
    /// command line and environment, and replaced otherwise.
    #[serde(default = "yes")]
    pub agent_prestart: bool,

    #[serde(default = "default_workspace", deserialize_with = "absolute_path")]
    pub workspace_path: PathBuf,
    /// Extra ignore patterns (comma- or newline-separated) for `.git/info/exclude`.
    #[serde(default)]
    pub workspace_git_ignore: Option<String>,

    /// Longest wait before a partial batch of events is sent.
    #[serde(default = "Int::<50>::get")]
    pub callback_flush_ms: u64,
    #[serde(default = "Int::<100>::get", deserialize_with = "AtLeast::<1>::de")]
    pub callback_batch_max_events: usize,
    #[serde(default = "Int::<1_048_576>::get")]
    #[serde(deserialize_with = "AtLeast::<1>::de")]
    pub callback_batch_max_bytes: usize,
    /// Events buffered between the agent's output and the callback sender; when full, reading the
    /// agent's output waits.
    #[serde(default = "Int::<256>::get", deserialize_with = "AtLeast::<1>::de")]
    pub event_buffer: usize,
    /// Timeout of one callback request.
    #[serde(default = "Int::<30>::get", deserialize_with = "AtLeast::<1>::de")]
    pub callback_timeout_seconds: u64,
    /// How long one batch is retried before the executor gives up on it.
    #[serde(default = "Int::<600>::get")]
    pub callback_retry_seconds: u64,
    /// Longest pause between two delivery attempts.
    #[serde(default = "Int::<5000>::get")]
    pub callback_backoff_max_ms: u64,

    /// The shared logging variables (`DEBUG`, `LOG_LEVEL`, …). Loaded in a second pass rather
    /// than `#[serde(flatten)]`: flattening buffers the values as strings and loses the config
    /// crate's string-to-bool/number conversion (`DEBUG=true` would be refused).
    #[serde(skip)]
    pub log: LogSettings,

    /// `development` (default) or `production`; production refuses placeholder secrets.
    #[serde(default)]
    pub environment: Environment,

    /// The bearer secret every API route but `/health*` demands. The manager generates one per
    /// executor (32 random bytes, hex): another tenant's agent cannot drive this executor even
    /// when it reaches its port.
    #[serde(deserialize_with = "MinBytes::<MIN_API_SECRET_BYTES>::de")]
    pub executor_api_secret: Secret<String>,
    /// A random id of this executor instance, answered by `/health`: the manager checks it
    /// before reusing a kept executor, so a port taken over by another container is noticed.
    /// Unset: a random one.
    #[serde(default, deserialize_with = "instance_id")]
    pub executor_instance_id: Option<String>,
}

fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_claude_bin() -> String {
    "claude".into()
}
fn default_base_url() -> String {
    "https://api.anthropic.com".into()
}
fn default_workspace() -> PathBuf {
    PathBuf::from("/workspace")
}

/// `AGENT_ENV_PASSTHROUGH`: names none of [`NEVER_PASSED`].
fn passthrough<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    verify(d, |list: &String| {
        match split_list(list)
            .into_iter()
            .find(|n| NEVER_PASSED.contains(&n.as_str()))
        {
            Some(name) => Err(format!("must not name {name}: the agent never gets it")),
            None => Ok(()),
        }
    })
}

/// `EXECUTOR_INSTANCE_ID`: 1 to 200 printable ASCII characters.
fn instance_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    verify(d, |id: &String| {
        ensure(
            id.len() <= 200 && id.chars().all(|c| c.is_ascii_graphic()),
            "must be 1 to 200 printable ASCII characters",
        )
    })
}

impl Settings {
    /// Loads and validates the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars())
    }

    /// Loads and validates the settings from the given variables (tests pass their own).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let (mut s, log): (Settings, _) = service_config::load_with(vars, REQUIRED)?;
        s.log = log;
        s.validate()?;
        if s.executor_instance_id.is_none() {
            s.executor_instance_id = Some(Uuid::new_v4().simple().to_string());
        }
        Ok(s)
    }

    /// Settings with every default, for tests and benchmarks that build them in code: the
    /// documented defaults themselves (loaded from no variables but the required ones, with a
    /// random API secret), listening on any free port.
    ///
    /// # Panics
    /// Only if a default were invalid, which every test of these settings would show first.
    pub fn with_defaults(default_model: impl Into<String>, workspace: impl Into<PathBuf>) -> Self {
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let required = [
            ("DEFAULT_MODEL", "default"),
            ("EXECUTOR_API_SECRET", &secret),
        ];
        let mut s = Self::from_vars(required.map(|(k, v)| (k.to_owned(), v.to_owned())))
            .expect("the documented defaults are valid");
        s.default_model = default_model.into();
        s.workspace_path = workspace.into();
        s.port = 0;
        s
    }

    /// What the fields' own validators cannot see: variables that go together and, in
    /// production, the secrets.
    fn validate(&self) -> Result<(), SettingsError> {
        if self.agent_uid.is_some() != self.agent_gid.is_some() {
            return Err(SettingsError::invalid(
                if self.agent_uid.is_some() {
                    "AGENT_GID"
                } else {
                    "AGENT_UID"
                },
                "AGENT_UID and AGENT_GID go together",
            ));
        }
        service_config::check_secrets(
            self.environment,
            &[
                SecretCheck::issued("ANTHROPIC_API_KEY", self.anthropic_api_key.as_ref()),
                SecretCheck::issued("ANTHROPIC_AUTH_TOKEN", self.anthropic_auth_token.as_ref()),
            ],
        )
    }

    /// Every environment variable the executor reads (its settings' and the logging variables),
    /// taken from the structs themselves; the configuration agreement test compares it with
    /// `.env.example` and `docs/configuration.md`.
    pub fn variables() -> Vec<String> {
        let mut v = service_config::variable_names::<Settings>();
        v.extend(service_config::variable_names::<LogSettings>());
        v
    }

    /// This instance's id (always set once the settings are loaded).
    pub fn instance_id(&self) -> &str {
        self.executor_instance_id.as_deref().unwrap_or_default()
    }

    /// The CLI's home and configuration directory.
    pub fn agent_data_dir(&self) -> PathBuf {
        self.workspace_path.join(AGENT_DATA_DIR)
    }

    /// The workspace root.
    pub fn workspace(&self) -> &Path {
        &self.workspace_path
    }

    /// Extra ignore patterns from `WORKSPACE_GIT_IGNORE`.
    pub fn extra_ignores(&self) -> Vec<String> {
        split_list(self.workspace_git_ignore.as_deref().unwrap_or(""))
    }

    /// Names of the executor variables the agent inherits; never one of [`NEVER_PASSED`] (also
    /// for settings built in code, which skip validation).
    pub fn passthrough_vars(&self) -> Vec<String> {
        let mut names = match self.agent_env_passthrough.as_deref() {
            Some(list) => split_list(list),
            None => DEFAULT_PASSTHROUGH
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        names.retain(|n| !NEVER_PASSED.contains(&n.as_str()));
        names
    }

    pub fn cancel_grace(&self) -> Duration {
        Duration::from_millis(self.cancel_grace_ms)
    }
}

/// Splits a comma- or newline-separated list, dropping blanks.
pub fn split_list(list: &str) -> Vec<String> {
    list.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-api-secret";

    /// `list` plus an API secret unless it names one.
    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !list.iter().any(|(k, _)| *k == "EXECUTOR_API_SECRET") {
            v.push(("EXECUTOR_API_SECRET".into(), SECRET.into()));
        }
        v
    }

    #[test]
    fn the_api_secret_is_required_and_long() {
        let err = Settings::from_vars(
            vars(&[("DEFAULT_MODEL", "m")])
                .into_iter()
                .filter(|(k, _)| k != "EXECUTOR_API_SECRET"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("EXECUTOR_API_SECRET is required"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("EXECUTOR_API_SECRET", "too-short-secret"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("EXECUTOR_API_SECRET is invalid: must be at least 32 bytes"),
            "{err}"
        );
        assert!(!err.contains("too-short-secret"), "{err}");
        let s = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m")])).unwrap();
        assert_eq!(s.executor_api_secret.expose(), SECRET);
    }

    #[test]
    fn the_instance_id_is_taken_or_made_up() {
        let s = Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("EXECUTOR_INSTANCE_ID", "abc123"),
        ]))
        .unwrap();
        assert_eq!(s.instance_id(), "abc123");
        let a = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m")])).unwrap();
        let b = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m")])).unwrap();
        assert!(a.instance_id().len() >= 32);
        assert_ne!(a.instance_id(), b.instance_id());
        let err = Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("EXECUTOR_INSTANCE_ID", "has space"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("EXECUTOR_INSTANCE_ID is invalid"), "{err}");
    }

    /// The agent's environment is built from scratch: even with the executor's whole
    /// environment on offer (the manager sets both variables on the executor process) and a
    /// passthrough list naming them (settings built in code skip validation), neither the API
    /// secret nor the instance id reaches it.
    #[test]
    fn the_agent_never_gets_the_api_secret_or_the_instance_id() {
        use crate::agent::AgentInvocation;
        let req: protocol::executor::ExecuteRequest = serde_json::from_value(serde_json::json!({
            "run_id": Uuid::nil(),
            "session_id": Uuid::nil(),
            "prompt": "do it",
            "callback_url": "http://127.0.0.1:1/cb",
            "callback_token": "cb-secret",
        }))
        .unwrap();
        let mut s = Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("EXECUTOR_INSTANCE_ID", "instance-1"),
        ]))
        .unwrap();
        let host_env = |name: &str| match name {
            "EXECUTOR_API_SECRET" => Some(SECRET.to_owned()),
            "EXECUTOR_INSTANCE_ID" => Some("instance-1".to_owned()),
            other => Some(format!("value-of-{other}")),
        };
        for passthrough in [None, Some("PATH,EXECUTOR_API_SECRET,EXECUTOR_INSTANCE_ID")] {
            s.agent_env_passthrough = passthrough.map(str::to_owned);
            let inv = AgentInvocation::new(&s, &req, &crate::staging::Staged::nothing(), host_env);
            assert_eq!(
                inv.env.get("PATH").map(String::as_str),
                Some("value-of-PATH")
            );
            for name in NEVER_PASSED {
                assert!(
                    !inv.env.contains_key(*name),
                    "{name} in {:?}",
                    inv.env.keys()
                );
            }
            for value in inv.env.values() {
                assert!(value != SECRET && value != "instance-1", "{value}");
            }
        }
    }

    #[test]
    fn the_secret_cannot_be_passed_to_the_agent() {
        for name in NEVER_PASSED {
            let list = format!("PATH,{name}");
            let err = Settings::from_vars(vars(&[
                ("DEFAULT_MODEL", "m"),
                ("AGENT_ENV_PASSTHROUGH", list.as_str()),
            ]))
            .unwrap_err()
            .to_string();
            assert!(err.starts_with("AGENT_ENV_PASSTHROUGH is invalid"), "{err}");
        }
    }

    #[test]
    fn missing_default_model_is_a_one_line_error() {
        let err = Settings::from_vars(vars(&[("PORT", "9000")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DEFAULT_MODEL is required: model the agent uses when a task names none (e.g. claude-sonnet-4-5)"
        );
    }

    #[test]
    fn settings_built_in_code_have_the_same_defaults() {
        let loaded = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m")])).unwrap();
        let built = Settings::with_defaults("m", "/workspace");
        assert_eq!((built.port, built.default_model.as_str()), (0, "m"));
        assert_ne!(
            built.executor_api_secret.expose(),
            loaded.executor_api_secret.expose()
        );
        assert!(built.executor_api_secret.expose().len() >= MIN_API_SECRET_BYTES);
        // Everything else is the same (instance ids are random, secrets print redacted).
        let same = |s: &Settings| {
            format!("{s:?}")
                .replace(&format!("port: {}", s.port), "port")
                .replace(s.instance_id(), "id")
        };
        assert_eq!(same(&built), same(&loaded));
    }

    #[test]
    fn defaults_apply() {
        let s = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m")])).unwrap();
        assert_eq!(s.port, 8000);
        assert_eq!(s.claude_bin, "claude");
        assert_eq!(s.anthropic_base_url, "https://api.anthropic.com");
        assert_eq!(s.workspace_path, PathBuf::from("/workspace"));
        assert_eq!(s.agent_data_dir(), PathBuf::from("/workspace/.claude_data"));
        assert_eq!(s.callback_flush_ms, 50);
        assert!(!s.log.debug);
        assert!(s.passthrough_vars().contains(&"PATH".to_owned()));
    }

    #[test]
    fn values_parse_including_the_log_settings() {
        let s = Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("PORT", "9001"),
            ("DEBUG", "true"),
            ("LOG_BACKUP_COUNT", "3"),
            ("AGENT_UID", "1000"),
            ("AGENT_GID", "1000"),
            ("WORKSPACE_GIT_IGNORE", "dist/, *.log\nsecret.txt"),
            ("AGENT_ENV_PASSTHROUGH", "PATH,FOO"),
        ]))
        .unwrap();
        assert_eq!(s.port, 9001);
        assert!(s.log.debug);
        assert_eq!(s.log.log_backup_count, 3);
        assert_eq!(s.agent_uid, Some(1000));
        assert_eq!(s.extra_ignores(), vec!["dist/", "*.log", "secret.txt"]);
        assert_eq!(s.passthrough_vars(), vec!["PATH", "FOO"]);
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let err = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m"), ("PORT", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("PORT is invalid"), "{err}");
        let err = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m"), ("WORKSPACE_PATH", "ws")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("WORKSPACE_PATH is invalid"), "{err}");
        let err = Settings::from_vars(vars(&[("DEFAULT_MODEL", "m"), ("AGENT_UID", "5")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("AGENT_GID is invalid"), "{err}");
    }

    #[test]
    fn production_refuses_placeholder_secrets() {
        let err = Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("ENVIRONMENT", "production"),
            ("ANTHROPIC_AUTH_TOKEN", "change-this-model-api-key"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("ANTHROPIC_AUTH_TOKEN is invalid"), "{err}");
        assert!(!err.contains("change-this-model-api-key"), "{err}");
        Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("ENVIRONMENT", "production"),
            ("ANTHROPIC_AUTH_TOKEN", "sk-ant-real"),
        ]))
        .unwrap();
    }

    #[test]
    fn variables_list_every_setting() {
        let v = Settings::variables();
        for var in [
            "DEFAULT_MODEL",
            "CALLBACK_FLUSH_MS",
            "ENVIRONMENT",
            "LOG_DIR",
        ] {
            assert!(v.contains(&var.to_owned()), "{var} missing from {v:?}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = Settings::from_vars(vars(&[
            ("DEFAULT_MODEL", "m"),
            ("ANTHROPIC_API_KEY", "sk-very-secret"),
            ("ANTHROPIC_AUTH_TOKEN", "token-very-secret"),
        ]))
        .unwrap();
        let text = format!("{s:?} {s:#?}");
        for secret in ["sk-very-secret", "token-very-secret", SECRET] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("executor_api_secret: [redacted]"), "{text}");
        assert!(text.contains("default_model: \"m\""), "{text}");
        // Settings built in code too.
        let s = Settings::with_defaults("m", "/workspace");
        let text = format!("{s:?}");
        assert!(
            !text.contains(s.executor_api_secret.expose().as_str()),
            "{text}"
        );
    }
}
