//! The backend's settings: the configuration guide's backend variables with their documented
//! defaults, plus the few this project adds (auth mode, queue policy). Loaded once at start-up;
//! a missing or invalid variable stops the process with one line naming it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use serde::{Deserialize, Deserializer};
use service_config::check::{
    self, AtLeast, MinBytes, Range, ensure, http_base_url, http_url, verify,
};
use service_config::default::{Int, yes};
use service_config::{Environment, Required, Secret, SecretCheck, SettingsError};
use telemetry::LogSettings;

/// Variables without which the backend does not start.
pub const REQUIRED: &[Required] = &[
    ("DATABASE_URL", "PostgreSQL connection string"),
    ("SECRET_KEY", "secret used to sign login tokens"),
    (
        "INTERNAL_API_TOKEN",
        "token executor managers present on the internal API",
    ),
    ("S3_ENDPOINT", "S3-compatible endpoint URL"),
    ("S3_ACCESS_KEY", "S3 access key"),
    ("S3_SECRET_KEY", "S3 secret key"),
    ("S3_BUCKET", "S3 bucket name (must exist)"),
];

/// How users authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// One implicit user; no sign-in. For one person on a laptop.
    SingleUser,
    /// Email and password accounts.
    Password,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::SingleUser => "single_user",
            AuthMode::Password => "password",
        }
    }
}

/// Everything the backend reads from its environment. Secrets are [`Secret`]s: `Debug` redacts them.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(deserialize_with = "postgres_url")]
    pub database_url: Secret<String>,
    /// At least 16 bytes (32 in production).
    #[serde(deserialize_with = "MinBytes::<16>::de")]
    pub secret_key: Secret<String>,
    #[serde(deserialize_with = "MinBytes::<16>::de")]
    pub internal_api_token: Secret<String>,
    #[serde(deserialize_with = "http_url")]
    pub s3_endpoint: String,
    pub s3_access_key: Secret<String>,
    pub s3_secret_key: Secret<String>,
    pub s3_bucket: String,

    /// An IP address or `localhost`.
    #[serde(default = "default_host", deserialize_with = "listen_host")]
    pub host: String,
    #[serde(default = "Int::<8000>::get")]
    pub port: u16,
    /// `CORS_ORIGINS`: a JSON array of allowed browser origins.
    #[serde(default = "default_cors_origins", deserialize_with = "cors_origins")]
    pub cors_origins: Vec<String>,
    #[serde(default, deserialize_with = "http_url")]
    pub executor_manager_url: Option<String>,
    #[serde(default, deserialize_with = "http_url")]
    pub s3_public_endpoint: Option<String>,
    #[serde(default = "default_s3_region")]
    pub s3_region: String,
    #[serde(default = "yes")]
    pub s3_force_path_style: bool,
    #[serde(default = "Int::<300>::get")]
    #[serde(deserialize_with = "Range::<1, 604_800>::de")]
    pub s3_presign_expires: u64,
    #[serde(default)]
    pub openai_api_key: Option<Secret<String>>,
    #[serde(default, deserialize_with = "http_url")]
    pub openai_base_url: Option<String>,
    #[serde(default = "default_openai_model")]
    pub openai_default_model: String,
    #[serde(default = "Int::<100>::get", deserialize_with = "AtLeast::<1>::de")]
    pub max_upload_size_mb: u64,

    /// The logging variables, loaded on their own: serde's `flatten` would hand the config crate
    /// buffered strings and defeat its `"true"` → `bool` conversion.
    #[serde(skip)]
    pub log: LogSettings,

    // ---- added by this project ----
    /// `single_user` or `password` (default).
    #[serde(default = "default_auth_mode")]
    pub auth_mode: AuthMode,
    /// Lets `single_user` listen on a non-loopback `HOST`. Dangerous: whoever reaches the port
    /// acts as the single user, with no sign-in.
    #[serde(default)]
    pub allow_single_user_on_network: bool,
    /// Lifetime of a login token.
    #[serde(default = "Int::<168>::get", deserialize_with = "AtLeast::<1>::de")]
    pub auth_token_ttl_hours: u64,
    /// Mark the login cookie `Secure` (set when served over HTTPS).
    #[serde(default)]
    pub cookie_secure: bool,
    /// Apply the embedded migrations at start-up.
    #[serde(default = "yes")]
    pub run_migrations: bool,
    #[serde(default = "Int::<20>::get", deserialize_with = "AtLeast::<1>::de")]
    pub database_max_connections: u32,
    /// Attempts a run gets before it is failed for good.
    #[serde(default = "Int::<3>::get", deserialize_with = "AtLeast::<1>::de")]
    pub run_max_attempts: i32,
    /// Back-off before a re-queued run may be claimed again; doubles with each attempt.
    #[serde(default = "Int::<10>::get")]
    pub run_retry_backoff_seconds: u64,
    /// `SESSION_AFFINITY_SECONDS`: how long a follow-up stays reserved for the manager that ran
    /// its session last (its workspace is there: no restore from the object store) before any
    /// manager may claim it (0: no reservation; at most 3600).
    #[serde(default = "Int::<30>::get")]
    #[serde(deserialize_with = "Range::<0, 3600>::de")]
    pub session_affinity_seconds: u32,
    /// How often expired leases are looked for.
    #[serde(default = "Int::<5>::get", deserialize_with = "AtLeast::<1>::de")]
    pub lease_reaper_interval_seconds: u64,
    /// `development` (default) or `production`; production refuses placeholder and short secrets.
    #[serde(default)]
    pub environment: Environment,

    // ---- operations (see docs/operations.md) ----
    /// When set, `GET /metrics` wants `Authorization: Bearer <METRICS_TOKEN>`.
    #[serde(default)]
    pub metrics_token: Option<Secret<String>>,
    /// Public API requests per minute per user (0: no per-user limit).
    #[serde(default = "Int::<300>::get")]
    pub rate_limit_per_minute: u32,
    /// Requests a user may send at once above the steady rate.
    #[serde(default = "Int::<60>::get")]
    pub rate_limit_burst: u32,
    /// Public API requests per minute per client IP (0: no per-IP limit).
    #[serde(default = "Int::<600>::get")]
    pub rate_limit_ip_per_minute: u32,
    #[serde(default = "Int::<120>::get")]
    pub rate_limit_ip_burst: u32,
    /// `TRUSTED_PROXIES`: comma-separated CIDRs (or single addresses) of the proxies whose
    /// connections may say who the client is in `X-Forwarded-For`; `none` trusts no one. From any
    /// other peer the header is ignored. The default trusts loopback: the web UI's proxy on the
    /// same host.
    #[serde(default = "default_trusted_proxies")]
    #[serde(deserialize_with = "trusted_proxies")]
    pub trusted_proxies: Vec<IpNet>,
    /// Longest a public API request may take (0: no limit). Not applied to the WebSocket or the
    /// internal API (the claim long-polls).
    #[serde(default = "Int::<30>::get")]
    pub request_timeout_seconds: u64,
    /// Failed logins per email before it is locked out (0: no login throttling).
    #[serde(default = "Int::<5>::get")]
    pub login_max_failures: u32,
    /// Failed logins per client IP before it is locked out.
    #[serde(default = "Int::<20>::get")]
    pub login_ip_max_failures: u32,
    /// How long a lockout lasts; failures older than this are forgotten.
    #[serde(default = "Int::<300>::get", deserialize_with = "AtLeast::<1>::de")]
    pub login_lockout_seconds: u64,
    /// Events older than this many days are deleted, except in sessions with an active run (0 keeps all).
    #[serde(default)]
    pub retention_events_days: u32,
    /// Sessions inactive for this many days are deleted with their runs and objects (0 keeps all).
    #[serde(default)]
    pub retention_sessions_days: u32,
    /// How often the retention job runs.
    #[serde(default = "Int::<3600>::get", deserialize_with = "AtLeast::<1>::de")]
    pub retention_interval_seconds: u64,
    /// Rows (events) or sessions deleted per statement.
    #[serde(default = "Int::<500>::get")]
    #[serde(deserialize_with = "Range::<1, 10_000>::de")]
    pub retention_batch_size: u32,

    // ---- the human in the loop ----
    /// How long a run waits for an answer to a permission, question or plan before it is denied
    /// (10 to 86,400 s); unset: 600 s for plans, 300 s for the rest.
    #[serde(default, deserialize_with = "input_timeout")]
    pub input_request_timeout_seconds: Option<u32>,

    // ---- projects, secrets, models ----
    /// `ENCRYPTION_KEY`: the keys that encrypt users' secrets, comma-separated. The first
    /// encrypts; every one decrypts (rotation: put the new key first, run
    /// `backend secrets rotate`, then drop the old one). Each at least 32 bytes in production,
    /// where it is required; in development, unset, a key derived from `SECRET_KEY` is used.
    #[serde(default, deserialize_with = "encryption_keys")]
    pub encryption_key: Option<Secret<String>>,
    /// `MODELS_CONFIG_PATH`: the model catalog and providers (TOML or JSON); unset: the built-in
    /// Anthropic catalog.
    #[serde(default)]
    pub models_config_path: Option<std::path::PathBuf>,
    /// `GIT_ALLOW_HTTP`: accept `http://` repositories (tests, private networks); a token then
    /// crosses the network in clear.
    #[serde(default)]
    pub git_allow_http: bool,

    // ---- accounts and access ----
    /// `REGISTRATION`: `open`, `invite` (default) or `closed`. The first account of an empty
    /// database may always register, and is an admin.
    #[serde(default = "default_registration")]
    pub registration: Registration,
    /// `PUBLIC_URL`: where users reach the web UI; invite and reset links and the identity
    /// providers' redirect address (`PUBLIC_URL/api/v1/auth/{oidc,github}/callback`) start with it.
    #[serde(default = "default_public_url", deserialize_with = "http_base_url")]
    pub public_url: String,
    /// `OIDC_ISSUER`: an OpenID Connect issuer (discovery at `/.well-known/openid-configuration`);
    /// with `OIDC_CLIENT_ID` and `OIDC_CLIENT_SECRET` it adds a sign-in button.
    #[serde(default, deserialize_with = "http_url")]
    pub oidc_issuer: Option<String>,
    #[serde(default)]
    pub oidc_client_id: Option<String>,
    #[serde(default)]
    pub oidc_client_secret: Option<Secret<String>>,
    /// `OIDC_ALLOWED_DOMAINS`: comma-separated e-mail domains allowed to sign in with OIDC
    /// (unset: any).
    #[serde(default, deserialize_with = "domains")]
    pub oidc_allowed_domains: Vec<String>,
    /// What the OIDC sign-in button says.
    #[serde(default = "default_oidc_name")]
    pub oidc_display_name: String,
    /// `GITHUB_CLIENT_ID` and `GITHUB_CLIENT_SECRET`: sign in with GitHub (OAuth).
    #[serde(default)]
    pub github_client_id: Option<String>,
    #[serde(default)]
    pub github_client_secret: Option<Secret<String>>,
    /// Where GitHub's OAuth endpoints and API are (default the real ones; tests point it at a
    /// local stand-in): `GITHUB_URL` for `/login/oauth/*`, `GITHUB_API_URL` for `/user`.
    #[serde(default = "default_github_url", deserialize_with = "http_base_url")]
    pub github_url: String,
    #[serde(default = "default_github_api_url", deserialize_with = "http_base_url")]
    pub github_api_url: String,
}

/// `REGISTRATION`.
pub use protocol::accounts::Registration;

fn default_registration() -> Registration {
    Registration::Invite
}
fn default_public_url() -> String {
    "http://localhost:3000".into()
}
fn default_oidc_name() -> String {
    "Single sign-on".into()
}
fn default_github_url() -> String {
    "https://github.com".into()
}
fn default_github_api_url() -> String {
    "https://api.github.com".into()
}

/// `OIDC_ALLOWED_DOMAINS`: comma-separated domains, lower-cased.
fn domains<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    check::parse_with(d, |text: String| {
        let list: Vec<String> = text
            .split(',')
            .map(|x| x.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|x| !x.is_empty())
            .collect();
        match list
            .iter()
            .find(|d| !d.contains('.') || d.contains(char::is_whitespace))
        {
            Some(d) => Err(format!("`{d}` is not a domain")),
            None => Ok(list),
        }
    })
}

/// `ENCRYPTION_KEY`: one or more comma-separated keys, none empty.
fn encryption_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret<String>>, D::Error> {
    let raw = String::deserialize(d)?;
    if raw.split(',').any(|k| k.trim().is_empty()) {
        return Err(serde::de::Error::custom(
            "must be one or more comma-separated keys, none of them empty",
        ));
    }
    Ok(Some(Secret::new(raw)))
}

impl Settings {
    /// The configured encryption keys, the writing one first. In development without
    /// `ENCRYPTION_KEY`, one key derived from `SECRET_KEY` (`validate` refuses that in
    /// production).
    pub fn encryption_keys(&self) -> Vec<Secret<String>> {
        match &self.encryption_key {
            Some(keys) => keys
                .expose()
                .split(',')
                .map(|k| Secret::new(k.trim().to_owned()))
                .collect(),
            None => vec![Secret::new(format!(
                "development key from SECRET_KEY:{}",
                self.secret_key.expose()
            ))],
        }
    }
}

/// `INPUT_REQUEST_TIMEOUT_SECONDS`: 10 to 86,400 seconds when set.
fn input_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Range::<10, 86_400>::de(d).map(Some)
}

fn default_host() -> String {
    "0.0.0.0".into()
}
fn default_cors_origins() -> Vec<String> {
    vec![
        "http://localhost:3000".into(),
        "http://127.0.0.1:3000".into(),
    ]
}
fn default_s3_region() -> String {
    "us-east-1".into()
}
fn default_openai_model() -> String {
    "gpt-4o-mini".into()
}
fn default_auth_mode() -> AuthMode {
    AuthMode::Password
}
/// 127.0.0.1/32 and ::1/128.
fn default_trusted_proxies() -> Vec<IpNet> {
    vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST).into(),
        IpAddr::V6(Ipv6Addr::LOCALHOST).into(),
    ]
}

/// `DATABASE_URL`: a PostgreSQL URL (the reason never shows it: it holds a password).
fn postgres_url<'de, D: Deserializer<'de>>(d: D) -> Result<Secret<String>, D::Error> {
    verify(d, |url: &String| {
        ensure(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "expected a postgres:// or postgresql:// URL",
        )
    })
}

/// `HOST`: an IP address or `localhost`.
fn listen_host<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    verify(d, |host: &String| {
        ensure(
            host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok(),
            format!("expected an IP address or localhost, got `{host}`"),
        )
    })
}

/// `CORS_ORIGINS`: a JSON array of origins (`scheme://host[:port]`, no trailing slash).
fn cors_origins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    check::parse_with(d, |text: String| {
        let list: Vec<String> = serde_json::from_str(&text)
            .map_err(|e| format!("expected a JSON array of origins: {e}"))?;
        match list
            .iter()
            .find(|o| o.parse::<http::HeaderValue>().is_err() || o.ends_with('/'))
        {
            Some(o) => Err(format!(
                "`{o}` is not an origin (scheme://host[:port], no trailing slash)"
            )),
            None => Ok(list),
        }
    })
}

/// `TRUSTED_PROXIES`: networks (a single address is a /32 or /128), or `none`.
fn trusted_proxies<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    check::parse_with(d, |text: String| {
        if text.trim().eq_ignore_ascii_case("none") {
            return Ok(Vec::new());
        }
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(check::ip_network)
            .collect()
    })
}

impl Settings {
    /// Loads and validates the settings from the process environment, for the binary, which
    /// listens on `HOST`: [`Settings::check_exposure`] included.
    pub fn from_env() -> Result<Self, SettingsError> {
        let s = Self::from_vars(std::env::vars())?;
        s.check_exposure()?;
        Ok(s)
    }

    /// Refuses `AUTH_MODE=single_user` on an address other machines can reach, unless
    /// `ALLOW_SINGLE_USER_ON_NETWORK=true`: without sign-in, whoever reaches the port is the user.
    ///
    /// Not part of [`Settings::from_vars`]: in-process harnesses (tests, benchmarks) build their
    /// settings there and serve the router on a loopback listener of their own, never on `HOST`.
    pub fn check_exposure(&self) -> Result<(), SettingsError> {
        if self.auth_mode == AuthMode::SingleUser
            && !self.listen_ip().to_canonical().is_loopback()
            && !self.allow_single_user_on_network
        {
            return Err(SettingsError::invalid(
                "AUTH_MODE",
                format!(
                    "single_user has no sign-in, so HOST must be loopback (127.0.0.1, ::1 or localhost), got `{}`; \
                     set HOST=127.0.0.1, or ALLOW_SINGLE_USER_ON_NETWORK=true if everyone who can reach the port may act as the single user",
                    self.host
                ),
            ));
        }
        Ok(())
    }

    /// The address to listen on: `HOST`, with `localhost` taken as 127.0.0.1.
    pub fn listen_ip(&self) -> IpAddr {
        if self.host.eq_ignore_ascii_case("localhost") {
            return IpAddr::V4(Ipv4Addr::LOCALHOST);
        }
        // Validated at load; the fallback is never reached.
        self.host
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// Loads and validates the settings from the given variables.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        // The old all-or-nothing switch trusted every peer; refuse it rather than drop it silently.
        if vars
            .iter()
            .any(|(k, v)| k == "TRUST_FORWARDED_FOR" && !v.trim().is_empty())
        {
            return Err(SettingsError::invalid(
                "TRUST_FORWARDED_FOR",
                "no longer read: list the proxies allowed to set X-Forwarded-For in TRUSTED_PROXIES (default 127.0.0.1/32,::1/128) and remove TRUST_FORWARDED_FOR",
            ));
        }
        let (mut s, log): (Settings, _) = service_config::load_with(vars, REQUIRED)?;
        s.log = log;
        s.validate()?;
        Ok(s)
    }

    /// What the fields' own validators cannot see: the log filter and, in production, the secrets.
    fn validate(&self) -> Result<(), SettingsError> {
        self.log
            .filter_directive()
            .map_err(|e| SettingsError::invalid("LOG_LEVEL", e.to_string()))?;
        service_config::check_secrets(
            self.environment,
            &[
                SecretCheck::generated("SECRET_KEY", &self.secret_key),
                SecretCheck::generated("INTERNAL_API_TOKEN", &self.internal_api_token),
                SecretCheck::issued("DATABASE_URL", &self.database_url),
                SecretCheck::issued("S3_ACCESS_KEY", &self.s3_access_key),
                SecretCheck::issued("S3_SECRET_KEY", &self.s3_secret_key),
                SecretCheck::issued("OPENAI_API_KEY", self.openai_api_key.as_ref()),
                SecretCheck::issued("OIDC_CLIENT_SECRET", self.oidc_client_secret.as_ref()),
                SecretCheck::issued("GITHUB_CLIENT_SECRET", self.github_client_secret.as_ref()),
            ],
        )?;
        let oidc = [
            self.oidc_issuer.is_some(),
            self.oidc_client_id.is_some(),
            self.oidc_client_secret.is_some(),
        ];
        if oidc.contains(&true) && oidc.contains(&false) {
            let missing = ["OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"]
                .into_iter()
                .zip(oidc)
                .find(|(_, set)| !set)
                .map_or("OIDC_ISSUER", |(name, _)| name);
            return Err(SettingsError::invalid(
                missing,
                "OpenID Connect sign-in needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together",
            ));
        }
        if self.github_client_id.is_some() != self.github_client_secret.is_some() {
            let missing = if self.github_client_id.is_none() {
                "GITHUB_CLIENT_ID"
            } else {
                "GITHUB_CLIENT_SECRET"
            };
            return Err(SettingsError::invalid(
                missing,
                "GitHub sign-in needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET together",
            ));
        }
        if self.environment == Environment::Production {
            let Some(keys) = &self.encryption_key else {
                return Err(SettingsError::invalid(
                    "ENCRYPTION_KEY",
                    "is required in production: it encrypts users' secrets (e.g. `openssl rand -hex 32`)",
                ));
            };
            for key in keys.expose().split(',') {
                let key = Secret::new(key.trim().to_owned());
                service_config::check_secrets(
                    self.environment,
                    &[SecretCheck::generated("ENCRYPTION_KEY", &key)],
                )?;
            }
        }
        Ok(())
    }

    /// Every environment variable the backend reads (its settings' and the logging variables),
    /// taken from the structs themselves; the configuration agreement test compares it with
    /// `.env.example` and `docs/configuration.md`.
    pub fn variables() -> Vec<String> {
        let mut v = service_config::variable_names::<Settings>();
        v.extend(service_config::variable_names::<LogSettings>());
        v
    }

    /// Where browsers reach S3: `S3_PUBLIC_ENDPOINT`, else `S3_ENDPOINT`.
    pub fn s3_public_endpoint(&self) -> &str {
        self.s3_public_endpoint
            .as_deref()
            .unwrap_or(&self.s3_endpoint)
    }

    /// The bucket's settings (`S3_*`) for [`objstore::Bucket`].
    pub fn s3(&self) -> objstore::S3Settings {
        objstore::S3Settings {
            endpoint: self.s3_endpoint.clone(),
            public_endpoint: self.s3_public_endpoint.clone(),
            region: self.s3_region.clone(),
            bucket: self.s3_bucket.clone(),
            access_key: self.s3_access_key.clone(),
            secret_key: self.s3_secret_key.clone(),
            force_path_style: self.s3_force_path_style,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(String, String)> {
        [
            ("DATABASE_URL", "postgresql://u:p@localhost/db"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("INTERNAL_API_TOKEN", "internal-token-0123456789"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_ACCESS_KEY", "ak"),
            ("S3_SECRET_KEY", "sk"),
            ("S3_BUCKET", "poco"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn with(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v = base();
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    }

    #[test]
    fn documented_defaults() {
        let s = Settings::from_vars(base()).unwrap();
        assert_eq!(s.host, "0.0.0.0");
        assert_eq!(s.port, 8000);
        assert_eq!(s.s3_region, "us-east-1");
        assert!(s.s3_force_path_style);
        assert_eq!(s.s3_presign_expires, 300);
        assert_eq!(s.openai_default_model, "gpt-4o-mini");
        assert_eq!(s.max_upload_size_mb, 100);
        assert_eq!(s.s3_public_endpoint(), "http://127.0.0.1:9000");
        assert!(!s.log.debug && !s.log.log_to_file && !s.log.log_sql && !s.log.uvicorn_access_log);
        assert_eq!(s.log.log_dir, "./logs");
        assert_eq!(s.log.log_backup_count, 14);
        assert_eq!(s.auth_mode, AuthMode::Password);
        assert!(s.run_migrations);
        assert_eq!(
            s.cors_origins,
            ["http://localhost:3000", "http://127.0.0.1:3000"]
        );
        assert_eq!(s.request_timeout_seconds, 30);
        assert_eq!(s.retention_batch_size, 500);
        assert_eq!(s.auth_token_ttl_hours, 168);
        assert_eq!(s.input_request_timeout_seconds, None);
    }

    #[test]
    fn every_required_variable_is_named_when_missing() {
        for (var, _) in REQUIRED {
            let vars: Vec<_> = base().into_iter().filter(|(k, _)| k != var).collect();
            let err = Settings::from_vars(vars).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{var} is required")), "{err}");
            assert_eq!(err.lines().count(), 1);
        }
    }

    #[test]
    fn invalid_values_name_their_variable() {
        for (var, value) in [
            ("PORT", "http"),
            ("CORS_ORIGINS", "http://a"),
            ("CORS_ORIGINS", r#"["http://a/"]"#),
            ("S3_FORCE_PATH_STYLE", "sometimes"),
            ("S3_PRESIGN_EXPIRES", "0"),
            ("AUTH_MODE", "ldap"),
            ("S3_PUBLIC_ENDPOINT", "localhost:9000"),
            ("DATABASE_URL", "mysql://x"),
            ("LOG_LEVEL", "info,=["),
            ("HOST", "not an ip"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TRUSTED_PROXIES", "127.0.0.1/32,proxy.internal"),
            ("TRUST_FORWARDED_FOR", "true"),
            ("ALLOW_SINGLE_USER_ON_NETWORK", "yes please"),
            ("INPUT_REQUEST_TIMEOUT_SECONDS", "9"),
            ("INPUT_REQUEST_TIMEOUT_SECONDS", "86401"),
        ] {
            let err = Settings::from_vars(with(&[(var, value)]))
                .err()
                .unwrap_or_else(|| panic!("{var}={value} accepted"))
                .to_string();
            assert!(
                err.starts_with(&format!("{var} is invalid")),
                "{var}: {err}"
            );
        }
    }

    #[test]
    fn values_are_read() {
        let s = Settings::from_vars(with(&[
            ("PORT", "9001"),
            ("S3_FORCE_PATH_STYLE", "false"),
            ("S3_REGION", "auto"),
            ("S3_PUBLIC_ENDPOINT", "http://localhost:9000"),
            ("AUTH_MODE", "single_user"),
            ("UVICORN_ACCESS_LOG", "true"),
            ("MAX_UPLOAD_SIZE_MB", "5"),
            ("INPUT_REQUEST_TIMEOUT_SECONDS", "45"),
        ]))
        .unwrap();
        assert_eq!(s.input_request_timeout_seconds, Some(45));
        assert_eq!(s.port, 9001);
        assert!(!s.s3_force_path_style);
        assert_eq!(s.s3_region, "auto");
        assert_eq!(s.s3_public_endpoint(), "http://localhost:9000");
        assert_eq!(s.auth_mode, AuthMode::SingleUser);
        assert!(s.log.uvicorn_access_log);
        assert_eq!(s.max_upload_size_mb, 5);
    }

    #[test]
    fn trusted_proxies_parse_networks_and_addresses() {
        let s = Settings::from_vars(base()).unwrap();
        let list = &s.trusted_proxies;
        // The documented default, `127.0.0.1/32,::1/128`.
        assert_eq!(
            list.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            ["127.0.0.1/32", "::1/128"]
        );
        assert!(
            list.iter()
                .any(|n| n.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()))
        );
        assert!(
            list.iter()
                .any(|n| n.contains(&"::1".parse::<IpAddr>().unwrap()))
        );
        let s = Settings::from_vars(with(&[(
            "TRUSTED_PROXIES",
            " 10.1.2.3/8 , 192.0.2.7,fd00::/8 ",
        )]))
        .unwrap();
        let list = &s.trusted_proxies;
        assert_eq!(
            list.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]
        );
        let s = Settings::from_vars(with(&[("TRUSTED_PROXIES", "none")])).unwrap();
        assert!(s.trusted_proxies.is_empty());
        let err = Settings::from_vars(with(&[("TRUSTED_PROXIES", "10.0.0.0/8,nope")]))
            .unwrap_err()
            .to_string();
        assert_eq!(err.lines().count(), 1);
        assert!(err.contains("`nope`"), "{err}");
    }

    #[test]
    fn single_user_listens_on_loopback_unless_allowed_on_the_network() {
        let exposure = |extra: &[(&str, &str)]| {
            let mut v = vec![("AUTH_MODE", "single_user")];
            v.extend_from_slice(extra);
            Settings::from_vars(with(&v)).unwrap().check_exposure()
        };
        for host in ["127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"] {
            exposure(&[("HOST", host)]).unwrap_or_else(|e| panic!("{host}: {e}"));
        }
        for host in ["0.0.0.0", "::", "192.168.1.10"] {
            let err = exposure(&[("HOST", host)]).unwrap_err().to_string();
            assert!(err.starts_with("AUTH_MODE is invalid"), "{err}");
            assert!(
                err.contains("HOST") && err.contains("ALLOW_SINGLE_USER_ON_NETWORK=true"),
                "{err}"
            );
            assert_eq!(err.lines().count(), 1);
            exposure(&[("HOST", host), ("ALLOW_SINGLE_USER_ON_NETWORK", "true")]).unwrap();
        }
        // The default HOST is 0.0.0.0; password mode may listen anywhere.
        assert!(exposure(&[]).is_err());
        Settings::from_vars(base())
            .unwrap()
            .check_exposure()
            .unwrap();
        let s = Settings::from_vars(with(&[("HOST", "localhost")])).unwrap();
        assert_eq!(s.listen_ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn production_refuses_placeholder_and_short_secrets() {
        let strong = "0123456789abcdef0123456789abcdef";
        let prod = |extra: &[(&str, &str)]| {
            let mut v = with(&[
                ("ENVIRONMENT", "production"),
                ("INTERNAL_API_TOKEN", strong),
                ("ENCRYPTION_KEY", strong),
            ]);
            v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            Settings::from_vars(v)
        };
        let s = prod(&[]).unwrap();
        assert_eq!(s.environment, Environment::Production);
        for (var, value, why) in [
            (
                "SECRET_KEY",
                "change-this-secret-key-to-32-or-more-random-bytes",
                "placeholder",
            ),
            ("SECRET_KEY", "0123456789abcdef0123", "at least 32 bytes"),
            (
                "INTERNAL_API_TOKEN",
                "internal-token-0123456789",
                "at least 32 bytes",
            ),
            ("S3_SECRET_KEY", "change-this-secret-key", "placeholder"),
            ("S3_ACCESS_KEY", "change-this-access-key", "placeholder"),
            ("OPENAI_API_KEY", "change-this-openai-key", "placeholder"),
            (
                "DATABASE_URL",
                "postgresql://postgres:change-this-postgres-password@postgres/poco",
                "placeholder",
            ),
        ] {
            let err = prod(&[(var, value)]).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{var} is invalid")) && err.contains(why),
                "{var}: {err}"
            );
            assert!(!err.contains(value), "the error shows the secret: {err}");
        }
        // Outside production the same values start.
        Settings::from_vars(with(&[(
            "SECRET_KEY",
            "change-this-secret-key-to-32-or-more-random-bytes",
        )]))
        .unwrap();
    }

    #[test]
    fn variables_list_every_setting() {
        let v = Settings::variables();
        for var in [
            "DATABASE_URL",
            "S3_PRESIGN_EXPIRES",
            "ENVIRONMENT",
            "LOG_SQL",
            "RUN_MIGRATIONS",
        ] {
            assert!(v.contains(&var.to_owned()), "{var} missing from {v:?}");
        }
        assert!(!v.contains(&"LOG".to_owned()));
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let secrets = [
            (
                "DATABASE_URL",
                "postgresql://u:db-password-very-secret@localhost/db",
            ),
            ("SECRET_KEY", "secret-key-very-secret-0123456789"),
            ("INTERNAL_API_TOKEN", "internal-token-very-secret"),
            ("S3_ACCESS_KEY", "access-key-very-secret"),
            ("S3_SECRET_KEY", "s3-secret-key-very-secret"),
            ("OPENAI_API_KEY", "openai-key-very-secret"),
            ("METRICS_TOKEN", "metrics-token-very-secret"),
        ];
        let s = Settings::from_vars(with(&secrets)).unwrap();
        assert_eq!(s.secret_key.expose(), "secret-key-very-secret-0123456789");
        let text = format!("{s:?} {s:#?}");
        for (var, value) in secrets {
            assert!(!text.contains(value), "{var} leaked: {text}");
        }
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("secret_key: [redacted]"), "{text}");
        assert!(text.contains("s3_bucket: \"poco\""), "{text}");
    }
}
