//! A user's secrets (`/api/v1/secrets`) and how a run's configuration names them.
//!
//! A secret is a name (`^[A-Z_][A-Z0-9_]*$`, at most [`MAX_NAME_LEN`] characters), a value and a
//! description. The API never shows a value after it is set: a list shows the name, the
//! description, at most the last four characters (only of values long enough that four say
//! little) and when it changed. Configurations name secrets as `${NAME}` (MCP server configs) or
//! by name (a repository's `token_secret`, a provider's key): the backend checks every name at
//! submit and resolves the values when the run is claimed, for that run only, into
//! [`RunSecrets`], which the manager substitutes ([`substitute`]) into what it hands the run's
//! executor.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

/// The longest secret name.
pub const MAX_NAME_LEN: usize = 128;
/// The longest secret value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// A value shorter than this shows no last characters at all.
pub const MIN_LEN_FOR_HINT: usize = 12;

/// Whether `name` is a secret's name: `^[A-Z_][A-Z0-9_]*$`, at most [`MAX_NAME_LEN`].
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_uppercase())
        && chars.all(|c| c == '_' || c.is_ascii_uppercase() || c.is_ascii_digit())
        && name.len() <= MAX_NAME_LEN
}

/// The last four characters of a value, as the list may show them; `None` for values shorter
/// than [`MIN_LEN_FOR_HINT`].
pub fn hint(value: &str) -> Option<String> {
    let count = value.chars().count();
    (count >= MIN_LEN_FOR_HINT).then(|| value.chars().skip(count - 4).collect())
}

/// A secret's value. `Debug` and `Display` never show it; read it with [`SecretValue::expose`].
/// On the wire it is a plain string (it travels only on the internal API and to an executor).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
#[ts(type = "string")]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(\"[redacted]\")")
    }
}

/// The secrets a claimed run needs, by name: the user's own, else the system's of that name.
pub type RunSecrets = BTreeMap<String, SecretValue>;

/// A `${…}` in a configuration that is not a reference to a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceError {
    /// `${` not followed by a valid name and `}`; the text after `${`, cut short.
    Malformed(String),
    /// A name no secret has (in [`substitute`]).
    Missing(String),
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferenceError::Malformed(at) => write!(
                f,
                "`${{{at}` is not a secret reference: write `${{NAME}}` with NAME in A-Z, 0-9 and _"
            ),
            ReferenceError::Missing(name) => write!(f, "no secret named {name}"),
        }
    }
}

/// The names of the secrets a text refers to as `${NAME}`, added to `into`.
pub fn text_references(text: &str, into: &mut BTreeSet<String>) -> Result<(), ReferenceError> {
    scan(text, |name| {
        into.insert(name.to_owned());
        Ok(String::new())
    })
    .map(|_| ())
}

/// The names of the secrets every string of a JSON value (keys included) refers to.
pub fn value_references(value: &Value) -> Result<BTreeSet<String>, ReferenceError> {
    let mut names = BTreeSet::new();
    walk(value, &mut |s| {
        text_references(s, &mut names).map(|_| s.to_owned())
    })?;
    Ok(names)
}

/// `value` with every `${NAME}` replaced by that secret's value (keys are left as they are:
/// a reference in a key is refused at submit by [`value_references`] only when malformed).
pub fn substitute(value: &Value, secrets: &RunSecrets) -> Result<Value, ReferenceError> {
    walk(value, &mut |s| substitute_text(s, secrets))
}

/// `text` with every `${NAME}` replaced by that secret's value.
pub fn substitute_text(text: &str, secrets: &RunSecrets) -> Result<String, ReferenceError> {
    scan(text, |name| {
        secrets
            .get(name)
            .map(|v| v.expose().to_owned())
            .ok_or_else(|| ReferenceError::Missing(name.to_owned()))
    })
}

/// Rebuilds `value`, mapping every string (object keys too, for the reference check; keys are
/// kept as written).
fn walk(
    value: &Value,
    f: &mut dyn FnMut(&str) -> Result<String, ReferenceError>,
) -> Result<Value, ReferenceError> {
    Ok(match value {
        Value::String(s) => Value::String(f(s)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| walk(item, f))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, item) in map {
                f(key)?;
                out.insert(key.clone(), walk(item, f)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Copies `text`, replacing each `${NAME}` by `replace(NAME)`.
fn scan(
    text: &str,
    mut replace: impl FnMut(&str) -> Result<String, ReferenceError>,
) -> Result<String, ReferenceError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after.find('}');
        match end.map(|end| &after[..end]) {
            Some(name) if is_valid_name(name) => {
                out.push_str(&replace(name)?);
                rest = &after[name.len() + 1..];
            }
            _ => {
                return Err(ReferenceError::Malformed(after.chars().take(40).collect()));
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A secret as the API shows it: never its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretView {
    pub name: String,
    pub description: String,
    /// At most the value's last four characters; `None` for short values.
    pub last4: Option<String>,
    /// A system secret (set by the operator): visible to every user's runs, read-only here,
    /// and overridden by a user's own secret of the same name.
    pub system: bool,
    /// For a system secret: whether the user has their own of the same name (which wins).
    #[serde(default)]
    pub overridden: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /secrets`: the user's secrets, then the system's, each by name.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretList {
    pub secrets: Vec<SecretView>,
}

/// `POST /secrets` (`201`; `409 name_taken` if the user has one of that name) and
/// `PUT /secrets/{name}` (create or replace; `name` must match the path or be absent).
#[derive(Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"name": "GITHUB_TOKEN", "value": "ghp_example0123456789", "description": "Read access to the company repositories"}))
)]
#[serde(deny_unknown_fields)]
pub struct SetSecretRequest {
    #[serde(default)]
    pub name: Option<String>,
    pub value: SecretValue,
    #[serde(default)]
    pub description: Option<String>,
}

impl fmt::Debug for SetSecretRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetSecretRequest")
            .field("name", &self.name)
            .field("value", &self.value)
            .field("description", &self.description)
            .finish()
    }
}

/// `PATCH /secrets/{name}`: the description only (the value is replaced with `PUT`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"description": "Read access to the company repositories"}))
)]
#[serde(deny_unknown_fields)]
pub struct UpdateSecretRequest {
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_pattern() {
        for ok in ["A", "_", "GITHUB_TOKEN", "K8S_2", "_X"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "1A", "A-B", "A B", "Ä", "GITHUB_token"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(!is_valid_name(&"A".repeat(MAX_NAME_LEN + 1)));
    }

    #[test]
    fn references_are_found_in_strings_and_keys_and_substituted_in_values() {
        let config = json!({
            "command": "x",
            "args": ["--token=${GITHUB_TOKEN}", "${A}${B}"],
            "env": {"KEY": "${API_KEY}", "PLAIN": "$HOME {x} $"},
            "n": 3
        });
        let names = value_references(&config).unwrap();
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["A", "API_KEY", "B", "GITHUB_TOKEN"]
        );
        let secrets: RunSecrets = [
            ("GITHUB_TOKEN", "ghp_1"),
            ("A", "a"),
            ("B", "${B}"),
            ("API_KEY", "k"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), SecretValue::new(v)))
        .collect();
        let resolved = substitute(&config, &secrets).unwrap();
        assert_eq!(
            resolved,
            json!({
                "command": "x",
                "args": ["--token=ghp_1", "a${B}"],
                "env": {"KEY": "k", "PLAIN": "$HOME {x} $"},
                "n": 3
            })
        );
        let missing = substitute(&config, &RunSecrets::new()).unwrap_err();
        assert!(matches!(missing, ReferenceError::Missing(_)));
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in ["${", "${}", "${lower}", "${A-B}", "x ${A", "${HOME:-x}"] {
            let err = value_references(&json!({ "v": bad })).unwrap_err();
            assert!(matches!(err, ReferenceError::Malformed(_)), "{bad}");
        }
        assert!(value_references(&json!({"${bad": 1})).is_err());
    }

    #[test]
    fn an_execute_request_shows_no_secret_in_debug() {
        let req: crate::executor::ExecuteRequest = serde_json::from_value(json!({
            "run_id": uuid::Uuid::nil(), "session_id": uuid::Uuid::nil(), "prompt": "p",
            "callback_url": "http://m/cb", "callback_token": "cb-token-value",
            "env": {"ANTHROPIC_AUTH_TOKEN": "proxy-token-value"},
            "mcp_config": {"mcpServers": {"gh": {"command": "x", "env": {"T": "ghp_resolved"}}}},
            "git": {"url": "https://h/r.git", "token": "ghp_clone_token"}
        }))
        .unwrap();
        let shown = format!("{req:?}");
        for secret in [
            "cb-token-value",
            "proxy-token-value",
            "ghp_resolved",
            "ghp_clone_token",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("gh") && shown.contains("ANTHROPIC_AUTH_TOKEN"),
            "{shown}"
        );
    }

    #[test]
    fn values_never_show_in_debug_and_hints_need_length() {
        let v = SecretValue::new("super-secret-value-1234");
        assert!(!format!("{v:?}").contains("super"));
        let req = SetSecretRequest {
            name: Some("X".into()),
            value: v,
            description: None,
        };
        assert!(!format!("{req:?}").contains("super"));
        assert_eq!(hint("super-secret-value-1234").as_deref(), Some("1234"));
        assert_eq!(hint("short-value"), None);
        assert_eq!(hint("ключ-ключ-ключ-абвг").as_deref(), Some("абвг"));
    }
}
