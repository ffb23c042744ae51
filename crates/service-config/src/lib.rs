//! Settings from environment variables, validated at start-up.
//!
//! Each service describes its settings as a `serde` struct whose field names are the lower-cased
//! variable names (`DATABASE_URL` → `database_url`) and loads it with [`load`]. A missing required
//! variable or a value of the wrong type stops the process with one line that names the variable,
//! never a stack trace. Empty variables count as unset, so `FOO=` in an `.env` file means "default".
//!
//! A settings struct is fields with attributes: `#[serde(default = ...)]` for the documented
//! default, `#[serde(deserialize_with = ...)]` with a validator of [`check`] for the value's
//! rules, [`Secret`] for a value that must never be logged (so the struct derives `Debug`). What
//! stays for a service's own `validate` is the checks that involve several variables.
#![forbid(unsafe_code)]

pub mod check;
pub mod default;
mod names;
mod secret;

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use names::variable_names;
pub use secret::{
    MIN_SECRET_BYTES, PLACEHOLDER, REDACTED, Secret, SecretCheck, SecretRule, check_secrets,
};

/// Why a service's settings could not be loaded. `Display` is the one line printed at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{var} is required: {meaning}")]
    Missing {
        var: &'static str,
        meaning: &'static str,
    },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: String, reason: String },
}

impl SettingsError {
    pub fn invalid(var: impl Into<String>, reason: impl Into<String>) -> Self {
        SettingsError::Invalid {
            var: var.into(),
            reason: reason.into(),
        }
    }
}

/// A required variable and a short description of what it is, for the error line.
pub type Required = (&'static str, &'static str);

/// Loads `T` from the process environment.
pub fn load<T: DeserializeOwned>(required: &[Required]) -> Result<T, SettingsError> {
    load_from(std::env::vars(), required)
}

/// Loads `T` from the given variables (tests pass their own).
pub fn load_from<T: DeserializeOwned>(
    vars: impl IntoIterator<Item = (String, String)>,
    required: &[Required],
) -> Result<T, SettingsError> {
    let vars: HashMap<String, String> = vars
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.to_ascii_uppercase(), v))
        .collect();
    for (var, meaning) in required {
        if !vars.contains_key(*var) {
            return Err(SettingsError::Missing { var, meaning });
        }
    }
    let source = config::Environment::default()
        .source(Some(vars.into_iter().collect()))
        .try_parsing(false);
    config::Config::builder()
        .add_source(source)
        .build()
        .and_then(|c| c.try_deserialize::<T>())
        .map_err(describe)
}

/// Loads a service's settings and a second, independent group of settings (the logging variables)
/// from the same variables. Two passes rather than `#[serde(flatten)]`: flattening hands the config
/// crate buffered strings and defeats its `"true"` → `bool` conversion.
pub fn load_with<T: DeserializeOwned, U: DeserializeOwned>(
    vars: impl IntoIterator<Item = (String, String)>,
    required: &[Required],
) -> Result<(T, U), SettingsError> {
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    let main = load_from(vars.iter().cloned(), required)?;
    let extra = load_from(vars, &[])?;
    Ok((main, extra))
}

/// Turns the config crate's error into one line that names the variable.
fn describe(err: config::ConfigError) -> SettingsError {
    match err {
        config::ConfigError::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => SettingsError::invalid(
            key.to_ascii_uppercase(),
            format!("expected {expected}, got {unexpected}"),
        ),
        // A validator's (or serde's) message about one field: the message is the reason.
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => SettingsError::invalid(key.to_ascii_uppercase(), error.to_string()),
        config::ConfigError::NotFound(key) => {
            SettingsError::invalid(key.to_ascii_uppercase(), "must be set")
        }
        other => {
            let text = other.to_string();
            // "missing field `foo`" and "invalid value ... for key `foo`" carry the name in backticks.
            let var = text
                .split('`')
                .nth(1)
                .map(|k| k.to_ascii_uppercase())
                .unwrap_or_else(|| "configuration".to_owned());
            SettingsError::invalid(var, text)
        }
    }
}

/// Where a service runs. `production` refuses secrets that still hold the `.env.example`
/// placeholders or are too short (see [`check_secrets`]); `development` (the default) accepts them
/// so local runs and tests need no real secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    #[serde(alias = "dev")]
    Development,
    #[serde(alias = "prod")]
    Production,
}

/// Parses a boolean the way the configuration guide's services do (`true/false`, `1/0`, `yes/no`, `on/off`).
pub fn parse_bool(var: &str, value: &str) -> Result<bool, SettingsError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(SettingsError::invalid(
            var,
            format!("expected true or false, got `{value}`"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct S {
        database_url: String,
        #[serde(default = "default_port")]
        port: u16,
        #[serde(default)]
        debug: bool,
        #[serde(default)]
        optional: Option<String>,
    }

    fn default_port() -> u16 {
        8000
    }

    const REQ: &[Required] = &[("DATABASE_URL", "PostgreSQL connection string")];

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_and_values_parse() {
        let s: S = load_from(
            vars(&[("DATABASE_URL", "postgres://x"), ("DEBUG", "true")]),
            REQ,
        )
        .unwrap();
        assert_eq!(
            s,
            S {
                database_url: "postgres://x".into(),
                port: 8000,
                debug: true,
                optional: None
            }
        );
    }

    #[test]
    fn missing_required_names_the_variable() {
        let err = load_from::<S>(vars(&[("PORT", "1")]), REQ).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DATABASE_URL is required: PostgreSQL connection string"
        );
    }

    #[test]
    fn empty_counts_as_unset() {
        let err = load_from::<S>(vars(&[("DATABASE_URL", "  ")]), REQ).unwrap_err();
        assert!(matches!(err, SettingsError::Missing { .. }));
        let s: S = load_from(vars(&[("DATABASE_URL", "x"), ("OPTIONAL", "")]), REQ).unwrap();
        assert_eq!(s.optional, None);
    }

    #[test]
    fn invalid_value_names_the_variable() {
        let err = load_from::<S>(vars(&[("DATABASE_URL", "x"), ("PORT", "eighty")]), REQ)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("PORT is invalid"), "{err}");
        let err = load_from::<S>(vars(&[("DATABASE_URL", "x"), ("DEBUG", "maybe")]), REQ)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("DEBUG is invalid"), "{err}");
    }

    #[test]
    fn variable_names_come_from_the_struct() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct T {
            database_url: String,
            #[serde(default)]
            port: u16,
            #[serde(skip)]
            derived: u8,
        }
        assert_eq!(variable_names::<T>(), vec!["DATABASE_URL", "PORT"]);
        assert_eq!(variable_names::<S>().len(), 4);
    }

    #[derive(Debug, Deserialize)]
    struct WithEnv {
        #[serde(default)]
        environment: Environment,
    }

    #[test]
    fn environment_defaults_to_development_and_parses() {
        let e: WithEnv = load_from(vars(&[]), &[]).unwrap();
        assert_eq!(e.environment, Environment::Development);
        let e: WithEnv = load_from(vars(&[("ENVIRONMENT", "production")]), &[]).unwrap();
        assert_eq!(e.environment, Environment::Production);
        let e: WithEnv = load_from(vars(&[("ENVIRONMENT", "prod")]), &[]).unwrap();
        assert_eq!(e.environment, Environment::Production);
        let err = load_from::<WithEnv>(vars(&[("ENVIRONMENT", "staging")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("ENVIRONMENT is invalid"), "{err}");
    }

    #[test]
    fn bools_accept_the_usual_spellings() {
        assert!(parse_bool("X", "ON").unwrap());
        assert!(!parse_bool("X", "0").unwrap());
        assert!(parse_bool("X", "nah").is_err());
    }
}
