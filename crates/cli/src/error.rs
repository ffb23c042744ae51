//! Everything that can go wrong in a command, and the exit code each kind means.
//!
//! Exit codes: `0` success, `1` an API error, a network failure or a run that did not complete,
//! `2` a usage or authentication error (the user must change the command or sign in),
//! `130` detached by Ctrl-C.

use protocol::ErrorCode;

/// A command's failure, printed on one line by `main`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or its inputs do not make sense (bad server URL, conflicting options, a
    /// file that is not there).
    #[error("{0}")]
    Usage(String),
    /// Not signed in, or the credential was refused.
    #[error("{0}")]
    Auth(String),
    /// The server answered an error body (`{"error":{"code","message"}}`), or a status without
    /// one.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {url}: {}", causes(source))]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// What the command asks for is not there (yet): no such file, no export.
    #[error("{0}")]
    Unavailable(String),
    /// The WebSocket failed and could not be resumed.
    #[error("live updates: {0}")]
    Live(String),
    /// The server answered something this client does not understand.
    #[error("unexpected answer from {what}: {detail}")]
    Protocol { what: String, detail: String },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The config file exists but does not parse.
    #[error("config file {path}: {detail}")]
    Config { path: String, detail: String },
    /// The run ended without completing (already reported on the terminal).
    #[error("the run {0}")]
    RunDidNotComplete(protocol::RunStatus),
    /// Ctrl-C while following (already reported on the terminal).
    #[error("detached")]
    Detached,
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Auth(_) | Error::Config { .. } => 2,
            Error::Api { status, code, .. } => {
                let auth = matches!(
                    code,
                    ErrorCode::Unauthorized
                        | ErrorCode::InsufficientScope
                        | ErrorCode::AccountDisabled
                ) || *status == 401;
                if auth { 2 } else { 1 }
            }
            Error::Detached => 130,
            _ => 1,
        }
    }

    /// Whether `main` still has to print this error (the run outcomes were already shown).
    pub fn is_reported(&self) -> bool {
        matches!(self, Error::RunDidNotComplete(_) | Error::Detached)
    }

    /// A local file error.
    pub fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error with its causes (reqwest's own message rarely says what failed: refused, DNS, TLS).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Auth("x".into()).exit_code(), 2);
        let api = |status, code| Error::Api {
            status,
            code,
            message: "m".into(),
        };
        assert_eq!(api(401, ErrorCode::Unauthorized).exit_code(), 2);
        assert_eq!(api(403, ErrorCode::InsufficientScope).exit_code(), 2);
        assert_eq!(api(404, ErrorCode::NotFound).exit_code(), 1);
        assert_eq!(api(500, ErrorCode::Unknown).exit_code(), 1);
        assert_eq!(
            Error::RunDidNotComplete(protocol::RunStatus::Failed).exit_code(),
            1
        );
        assert_eq!(Error::Detached.exit_code(), 130);
    }

    #[test]
    fn api_errors_print_message_and_code_on_one_line() {
        let e = Error::Api {
            status: 404,
            code: ErrorCode::NotFound,
            message: "session not found".into(),
        };
        assert_eq!(e.to_string(), "session not found (not_found, HTTP 404)");
    }
}
