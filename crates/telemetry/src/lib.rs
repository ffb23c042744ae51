//! Logging for every service: the configuration guide's logging variables, honoured the same way
//! in the backend, the executor manager and the executor.
//!
//! | variable | default | effect |
//! |---|---|---|
//! | `DEBUG` | `false` | readable multi-field lines instead of JSON, and `LOG_LEVEL` defaults to `debug` |
//! | `LOG_LEVEL` | `info` (`debug` with `DEBUG`) | a level (`DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`) or a filter directive |
//! | `UVICORN_ACCESS_LOG` | `false` | one line per HTTP request (target [`ACCESS_LOG_TARGET`]) |
//! | `LOG_TO_FILE` | `false` | also write to `LOG_DIR`, rotated daily, keeping `LOG_BACKUP_COUNT` files |
//! | `LOG_SQL` | `false` | log every SQL statement (may contain sensitive data) |
#![forbid(unsafe_code)]

pub mod http;
pub mod metrics;
pub mod request_id;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The tracing target of access-log lines; enabled by `UVICORN_ACCESS_LOG`.
pub const ACCESS_LOG_TARGET: &str = "access_log";

/// The logging variables, flattened into each service's settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LogSettings {
    #[serde(default)]
    pub debug: bool,
    #[serde(default)]
    pub log_level: Option<String>,
    /// The access-log switch; the configuration guide names it `UVICORN_ACCESS_LOG`.
    #[serde(default)]
    pub uvicorn_access_log: bool,
    #[serde(default)]
    pub log_to_file: bool,
    #[serde(default = "default_log_dir")]
    pub log_dir: String,
    #[serde(default = "default_backup_count")]
    pub log_backup_count: usize,
    #[serde(default)]
    pub log_sql: bool,
    /// Log to stderr instead of stdout: operator commands, whose stdout is their answer alone.
    #[serde(skip)]
    pub to_stderr: bool,
}

fn default_log_dir() -> String {
    "./logs".to_owned()
}

fn default_backup_count() -> usize {
    14
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            debug: false,
            log_level: None,
            uvicorn_access_log: false,
            log_to_file: false,
            log_dir: default_log_dir(),
            log_backup_count: default_backup_count(),
            log_sql: false,
            to_stderr: false,
        }
    }
}

/// A logging setting that cannot be honoured.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("LOG_LEVEL is invalid: {0}")]
    Level(String),
    #[error("LOG_DIR is invalid: cannot create a rotating log file there: {0}")]
    LogDir(String),
    #[error("logging was already initialised")]
    AlreadyInitialised,
}

/// Keeps the background log writer alive; drop it last (at the end of `main`) to flush.
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl LogSettings {
    /// The filter directive these settings stand for.
    pub fn filter_directive(&self) -> Result<String, TelemetryError> {
        let level = match self.log_level.as_deref().map(str::trim) {
            None | Some("") => {
                if self.debug {
                    "debug".to_owned()
                } else {
                    "info".to_owned()
                }
            }
            Some(l) => match l.to_ascii_lowercase().as_str() {
                "trace" => "trace".to_owned(),
                "debug" => "debug".to_owned(),
                "info" => "info".to_owned(),
                "warn" | "warning" => "warn".to_owned(),
                "error" | "critical" | "fatal" => "error".to_owned(),
                "off" => "off".to_owned(),
                other => {
                    // A full directive such as `info,backend=debug`.
                    EnvFilter::builder()
                        .parse(other)
                        .map_err(|e| TelemetryError::Level(format!("`{l}`: {e}")))?;
                    other.to_owned()
                }
            },
        };
        let sql = if self.log_sql { "info" } else { "warn" };
        let access = if self.uvicorn_access_log {
            "info"
        } else {
            "off"
        };
        // Dependencies that are chatty at debug level stay at info unless named explicitly.
        Ok(format!(
            "{level},sqlx={sql},{ACCESS_LOG_TARGET}={access},hyper=info,h2=info,rustls=info,tower=info,bollard=info,aws_smithy_runtime=info"
        ))
    }

    /// Installs the global subscriber: JSON lines unless `DEBUG`, plus a daily-rotated file when
    /// `LOG_TO_FILE`.
    pub fn init(&self, service: &str) -> Result<LogGuard, TelemetryError> {
        let filter = EnvFilter::builder()
            .parse(self.filter_directive()?)
            .map_err(|e| TelemetryError::Level(e.to_string()))?;

        let (file_layer, guard) = if self.log_to_file {
            std::fs::create_dir_all(&self.log_dir)
                .map_err(|e| TelemetryError::LogDir(format!("{}: {e}", self.log_dir)))?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(service)
                .filename_suffix("log")
                .max_log_files(self.log_backup_count.max(1))
                .build(&self.log_dir)
                .map_err(|e| TelemetryError::LogDir(format!("{}: {e}", self.log_dir)))?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(true)
                .with_writer(writer);
            (Some(layer), Some(guard))
        } else {
            (None, None)
        };

        let registry = tracing_subscriber::registry().with(filter).with(file_layer);
        let writer = if self.to_stderr {
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr)
        } else {
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout)
        };
        let result = if self.debug {
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_target(true)
                        .with_writer(writer),
                )
                .try_init()
        } else {
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .flatten_event(true)
                        .with_current_span(true)
                        .with_span_list(true)
                        .with_writer(writer),
                )
                .try_init()
        };
        result.map_err(|_| TelemetryError::AlreadyInitialised)?;
        tracing::debug!(service, "logging initialised");
        Ok(LogGuard { _file: guard })
    }
}

/// The start of every service binary, in one place: settings loaded (a bad one stops the process
/// with its one-line error and exit status 2), logging initialised from them, then `run`; its
/// error is logged and gives exit status 1.
pub async fn service_main<S, E, F, Fut, R>(
    service: &str,
    settings: Result<S, E>,
    log: impl Fn(&S) -> &LogSettings,
    run: F,
) -> std::process::ExitCode
where
    E: std::fmt::Display,
    F: FnOnce(S) -> Fut,
    Fut: std::future::Future<Output = Result<(), R>>,
    R: std::fmt::Display,
{
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{service}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // An operator command (logging to stderr) reports its error once, as the one line below.
    let command = log(&settings).to_stderr;
    let _guard = match log(&settings).init(service) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{service}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let e = format!("{e:#}");
            if !command {
                tracing::error!(error = %e, "{service} stopped");
            }
            eprintln!("{service}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Registers SIGTERM and SIGINT handlers *now*, so a signal that arrives before the returned
/// future is first polled is neither lost nor fatal, and completes at the first of them. Call it
/// before the service starts answering.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                tracing::warn!("cannot install signal handlers; only Ctrl-C stops this service");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("shutdown signal received");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_defaults_follow_debug() {
        let mut s = LogSettings::default();
        assert!(s.filter_directive().unwrap().starts_with("info,"));
        s.debug = true;
        assert!(s.filter_directive().unwrap().starts_with("debug,"));
    }

    #[test]
    fn python_level_names_are_accepted() {
        let s = LogSettings {
            log_level: Some("WARNING".into()),
            ..Default::default()
        };
        assert!(s.filter_directive().unwrap().starts_with("warn,"));
    }

    #[test]
    fn switches_change_the_filter() {
        let s = LogSettings {
            log_sql: true,
            uvicorn_access_log: true,
            ..Default::default()
        };
        let d = s.filter_directive().unwrap();
        assert!(
            d.contains("sqlx=info") && d.contains("access_log=info"),
            "{d}"
        );
        let d = LogSettings::default().filter_directive().unwrap();
        assert!(
            d.contains("sqlx=warn") && d.contains("access_log=off"),
            "{d}"
        );
    }

    #[test]
    fn a_bad_directive_is_refused() {
        let s = LogSettings {
            log_level: Some("info,=[".into()),
            ..Default::default()
        };
        assert!(s.filter_directive().is_err());
    }
}
