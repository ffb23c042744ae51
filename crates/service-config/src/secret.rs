//! Secrets in settings: a [`Secret`] field prints `[redacted]` in `Debug` and `Display`, so a
//! settings struct derives `Debug` and can be logged whole; and the production checks that refuse
//! `.env.example` placeholders and short made-up secrets ([`check_secrets`]).

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::{Environment, SettingsError};

/// What a [`Secret`] prints instead of its value.
pub const REDACTED: &str = "[redacted]";

/// A value that never shows in logs: `Debug` and `Display` print [`REDACTED`]. Deserializes as
/// the value itself; deliberately not `Serialize`. Read it with [`Secret::expose`], at the one
/// place that hands it on (a client's credentials, a constant-time comparison). Not `PartialEq`:
/// an `==` on a secret would be a timing leak waiting to happen.
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Secret)
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
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

/// One secret-bearing variable of a service's settings, for [`check_secrets`].
#[derive(Debug, Clone, Copy)]
pub struct SecretCheck<'a> {
    pub var: &'static str,
    pub value: Option<&'a str>,
    pub rule: SecretRule,
}

impl<'a> SecretCheck<'a> {
    pub fn generated(var: &'static str, value: impl Into<Option<&'a Secret<String>>>) -> Self {
        Self::new(var, value, SecretRule::Generated)
    }

    pub fn issued(var: &'static str, value: impl Into<Option<&'a Secret<String>>>) -> Self {
        Self::new(var, value, SecretRule::Issued)
    }

    fn new(
        var: &'static str,
        value: impl Into<Option<&'a Secret<String>>>,
        rule: SecretRule,
    ) -> Self {
        Self {
            var,
            value: value.into().map(|s| s.expose().as_str()),
            rule,
        }
    }
}

/// In [`Environment::Production`], refuses the first secret that still holds the `change-this`
/// placeholder or (for [`SecretRule::Generated`]) is shorter than [`MIN_SECRET_BYTES`]. Unset
/// secrets are the settings' own business (required ones never get here unset). The error names
/// the variable, never its value.
pub fn check_secrets(env: Environment, secrets: &[SecretCheck<'_>]) -> Result<(), SettingsError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Required, load_from};

    const STRONG: &str = "0123456789abcdef0123456789abcdef";

    fn s(v: &str) -> Secret<String> {
        Secret::new(v.to_owned())
    }

    #[test]
    fn debug_and_display_redact() {
        let secret = s("hunter2-very-secret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(format!("{secret:#?} {secret:>20}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2-very-secret");
        assert_eq!(secret.into_inner(), "hunter2-very-secret");
    }

    #[test]
    fn a_derived_debug_of_settings_never_shows_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Settings {
            api_token: Secret<String>,
            #[serde(default)]
            api_key: Option<Secret<String>>,
            #[serde(default)]
            port: u16,
        }
        const REQ: &[Required] = &[("API_TOKEN", "token")];
        let vars = [
            ("API_TOKEN", "token-very-secret"),
            ("API_KEY", "key-very-secret"),
            ("PORT", "80"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let settings: Settings = load_from(vars, REQ).unwrap();
        assert_eq!(settings.api_token.expose(), "token-very-secret");
        assert_eq!(
            settings.api_key.as_ref().map(|k| k.expose().as_str()),
            Some("key-very-secret")
        );
        let text = format!("{settings:?} {settings:#?}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("api_token: [redacted]"), "{text}");
        assert!(text.contains("port: 80"), "{text}");
    }

    #[test]
    fn production_refuses_placeholders_naming_the_variable_not_the_value() {
        let value = "change-this-secret-key-to-32-or-more-random-bytes";
        let err = check_secrets(
            Environment::Production,
            &[
                SecretCheck::generated("INTERNAL_API_TOKEN", &s(STRONG)),
                SecretCheck::generated("SECRET_KEY", &s(value)),
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
            &[SecretCheck::issued(
                "S3_SECRET_KEY",
                &s("CHANGE-THIS-secret"),
            )],
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
            &[SecretCheck::generated("SECRET_KEY", &s(short))],
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
                SecretCheck::generated("SECRET_KEY", &s(STRONG)),
                // An AWS access key id is 20 characters: not ours to lengthen.
                SecretCheck::issued("S3_ACCESS_KEY", &s("AKIAIOSFODNN7EXAMPLE")),
                SecretCheck::issued("OPENAI_API_KEY", None),
            ],
        )
        .unwrap();
    }

    #[test]
    fn development_accepts_placeholders_and_short_secrets() {
        check_secrets(
            Environment::Development,
            &[
                SecretCheck::generated("SECRET_KEY", &s("change-this-secret")),
                SecretCheck::generated("INTERNAL_API_TOKEN", &s("short")),
            ],
        )
        .unwrap();
    }
}
