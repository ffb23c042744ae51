//! Settings from environment variables, validated at start-up.
//!
//! Each service describes its settings as a `serde` struct whose field names are the lower-cased
//! variable names (`DATABASE_URL` → `database_url`) and loads it with [`load`]. A missing required
//! variable or a value of the wrong type stops the process with one line that names the variable,
//! never a stack trace. Empty variables count as unset, so `FOO=` in an `.env` file means "default".
#![forbid(unsafe_code)]

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

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

/// The marker every secret in `.env.example` carries (`change-this-*`).
pub const PLACEHOLDER: &str = "change-this";

/// The shortest secret a production deployment may make up itself.
pub const MIN_SECRET_BYTES: usize = 32;

/// How a secret is checked in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRule {
    /// A secret the deployment makes up (signing keys, shared tokens): no placeholder and at least
    /// [`MIN_SECRET_BYTES`] bytes.
    Generated,
    /// A credential someone else issues (S3 keys, model API keys) or one that embeds a password
    /// (`DATABASE_URL`): no placeholder; its length is the issuer's business.
    Issued,
}

/// One secret-bearing variable of a service's settings.
#[derive(Debug, Clone, Copy)]
pub struct Secret<'a> {
    pub var: &'static str,
    pub value: Option<&'a str>,
    pub rule: SecretRule,
}

impl<'a> Secret<'a> {
    pub fn generated(var: &'static str, value: Option<&'a str>) -> Self {
        Self {
            var,
            value,
            rule: SecretRule::Generated,
        }
    }

    pub fn issued(var: &'static str, value: Option<&'a str>) -> Self {
        Self {
            var,
            value,
            rule: SecretRule::Issued,
        }
    }
}

/// In [`Environment::Production`], refuses the first secret that still holds the `change-this`
/// placeholder or (for [`SecretRule::Generated`]) is shorter than [`MIN_SECRET_BYTES`]. Unset
/// secrets are the settings' own business (required ones never get here unset). The error names
/// the variable, never its value.
pub fn check_secrets(env: Environment, secrets: &[Secret<'_>]) -> Result<(), SettingsError> {
    if env != Environment::Production {
        return Ok(());
    }
    for secret in secrets {
        let Some(value) = secret.value else { continue };
        if value.to_ascii_lowercase().contains(PLACEHOLDER) {
            return Err(SettingsError::invalid(
                secret.var,
                format!(
                    "still holds a `{PLACEHOLDER}` placeholder; set a real secret (ENVIRONMENT=production)"
                ),
            ));
        }
        if secret.rule == SecretRule::Generated && value.len() < MIN_SECRET_BYTES {
            return Err(SettingsError::invalid(
                secret.var,
                format!(
                    "must be at least {MIN_SECRET_BYTES} bytes in production, got {} (e.g. `openssl rand -hex 32`)",
                    value.len()
                ),
            ));
        }
    }
    Ok(())
}

/// The environment variables a settings struct reads: its serde field names, upper-cased. Read
/// from the struct's `Deserialize` implementation itself (the field list serde passes to
/// `deserialize_struct`), so it cannot drift from the code; `#[serde(skip)]` fields are not
/// variables and are left out.
pub fn variable_names<T: DeserializeOwned>() -> Vec<String> {
    let mut capture = FieldCapture { fields: &[] };
    let _ = T::deserialize(&mut capture);
    capture
        .fields
        .iter()
        .map(|f| f.to_ascii_uppercase())
        .collect()
}

/// A deserializer that only records the field list of the struct asked of it.
struct FieldCapture {
    fields: &'static [&'static str],
}

impl<'de> serde::Deserializer<'de> for &mut FieldCapture {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.fields = fields;
        Err(serde::de::Error::custom("field names captured"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
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

    const STRONG: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn production_refuses_placeholders_naming_the_variable_not_the_value() {
        let value = "change-this-secret-key-to-32-or-more-random-bytes";
        let err = check_secrets(
            Environment::Production,
            &[
                Secret::generated("INTERNAL_API_TOKEN", Some(STRONG)),
                Secret::generated("SECRET_KEY", Some(value)),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("SECRET_KEY is invalid"), "{err}");
        assert!(err.contains("placeholder") && !err.contains(value), "{err}");
        assert_eq!(err.lines().count(), 1);
        // Issued credentials: the placeholder is refused too, in any case.
        let err = check_secrets(
            Environment::Production,
            &[Secret::issued("S3_SECRET_KEY", Some("CHANGE-THIS-secret"))],
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("S3_SECRET_KEY is invalid"), "{err}");
    }

    #[test]
    fn production_refuses_short_generated_secrets_only() {
        let short = &STRONG[..31];
        let err = check_secrets(
            Environment::Production,
            &[Secret::generated("SECRET_KEY", Some(short))],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("SECRET_KEY is invalid: must be at least 32 bytes"),
            "{err}"
        );
        assert!(!err.contains(short));
        check_secrets(
            Environment::Production,
            &[
                Secret::generated("SECRET_KEY", Some(STRONG)),
                // An AWS access key id is 20 characters: not ours to lengthen.
                Secret::issued("S3_ACCESS_KEY", Some("AKIAIOSFODNN7EXAMPLE")),
                Secret::issued("OPENAI_API_KEY", None),
            ],
        )
        .unwrap();
    }

    #[test]
    fn development_accepts_placeholders_and_short_secrets() {
        check_secrets(
            Environment::Development,
            &[
                Secret::generated("SECRET_KEY", Some("change-this-secret")),
                Secret::generated("INTERNAL_API_TOKEN", Some("short")),
            ],
        )
        .unwrap();
    }

    #[test]
    fn bools_accept_the_usual_spellings() {
        assert!(parse_bool("X", "ON").unwrap());
        assert!(!parse_bool("X", "0").unwrap());
        assert!(parse_bool("X", "nah").is_err());
    }
}
