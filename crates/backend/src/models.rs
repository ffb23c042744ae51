//! The model catalog: which models this deployment offers (`GET /api/v1/models`), which provider
//! serves each, and what a run's tokens cost when the CLI does not say.
//!
//! The catalog comes from `MODELS_CONFIG_PATH` (TOML for `.toml`, JSON for `.json`; format in
//! `docs/models.md`), checked once at start-up so a bad file stops the backend with one line
//! instead of failing runs later; unset, it is [`Catalog::builtin`], the Anthropic models.
//!
//! # Routing
//! A model belongs to a provider:
//! * a listed model to the provider it names (or, naming none, as an unlisted id would);
//! * an unlisted id to the provider with the longest prefix it starts with. Such ids are
//!   **accepted** (a vendor's new model works before the file lists it) but not shown in the
//!   list, and have no prices;
//! * anything else is unknown: refused at submit with `422 unknown_model`.
//!
//! The provider [`UPSTREAM`] (`anthropic`) is the manager's own upstream (`ANTHROPIC_BASE_URL`
//! and its credential): its runs carry no route. Its prefixes are `claude-` unless the file
//! declares `[providers.anthropic]` with other `prefixes` (and nothing else). Every other
//! provider names an Anthropic-compatible `base_url` and the secret holding its key; a run of its
//! models carries a [`ModelRoute`] with the key resolved at claim (the user's secret, else the
//! system's), and the manager's model proxy sends the run's requests there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use protocol::ErrorCode;
use protocol::api::RunUsage;
use protocol::models::{ModelList, ModelRoute, ModelView};
use protocol::secrets::SecretValue;
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::secrets::{self, Keyring, ResolveError};

/// The provider that stands for the manager's own upstream (no route).
pub const UPSTREAM: &str = "anthropic";
/// The upstream's prefixes when the file does not set them.
const UPSTREAM_PREFIXES: &[&str] = &["claude-"];
/// The longest provider name (it becomes a metrics label on the manager).
const MAX_PROVIDER_NAME: usize = 64;

/// A provider with its own endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    /// Anthropic-compatible, without a trailing `/` (the proxy appends `/v1/...`).
    pub base_url: String,
    /// The secret holding its key.
    pub key_secret: String,
}

/// Who serves a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// The manager's own upstream.
    Upstream,
    Provider(&'a Provider),
}

/// The models this deployment offers and their providers.
#[derive(Debug, Clone)]
pub struct Catalog {
    models: Vec<ModelView>,
    default_model: Option<String>,
    providers: BTreeMap<String, Provider>,
    /// `(prefix, provider)`, longest prefix first.
    prefixes: Vec<(String, String)>,
}

/// Why the catalog could not be loaded: one line naming `MODELS_CONFIG_PATH`.
#[derive(Debug, thiserror::Error)]
#[error("MODELS_CONFIG_PATH ({}): {reason}", path.display())]
pub struct CatalogError {
    pub path: PathBuf,
    pub reason: String,
}

// ---- the file ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCatalog {
    #[serde(default)]
    default_model: Option<String>,
    #[serde(default)]
    models: Vec<FileModel>,
    #[serde(default)]
    providers: BTreeMap<String, FileProvider>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    id: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    context_window: Option<u64>,
    #[serde(default)]
    input_price_per_mtok: Option<f64>,
    #[serde(default)]
    output_price_per_mtok: Option<f64>,
    #[serde(default)]
    cache_write_price_per_mtok: Option<f64>,
    #[serde(default)]
    cache_read_price_per_mtok: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    key_secret: Option<String>,
    #[serde(default)]
    prefixes: Option<Vec<String>>,
}

/// The file's format, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

impl Format {
    fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A built-in model: id, label, context window, prices (input, output, cache write, cache read).
type Builtin = (&'static str, &'static str, u64, [f64; 4]);

/// Anthropic's list prices in US dollars per million tokens.
const OPUS_4_5: [f64; 4] = [5.0, 25.0, 6.25, 0.5];
const OPUS_4_1: [f64; 4] = [15.0, 75.0, 18.75, 1.5];
const SONNET_4_5: [f64; 4] = [3.0, 15.0, 3.75, 0.3];
const HAIKU_4_5: [f64; 4] = [1.0, 5.0, 1.25, 0.1];

/// The built-in catalog: the current Anthropic models, then the CLI's aliases (priced as the
/// models they stand for in the CLI in use).
const BUILTIN: &[Builtin] = &[
    (
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        200_000,
        SONNET_4_5,
    ),
    ("claude-opus-4-5", "Claude Opus 4.5", 200_000, OPUS_4_5),
    ("claude-haiku-4-5", "Claude Haiku 4.5", 200_000, HAIKU_4_5),
    ("claude-opus-4-1", "Claude Opus 4.1", 200_000, OPUS_4_1),
    ("sonnet", "Sonnet (the CLI's latest)", 200_000, SONNET_4_5),
    ("opus", "Opus (the CLI's latest)", 200_000, OPUS_4_5),
    ("haiku", "Haiku (the CLI's latest)", 200_000, HAIKU_4_5),
];

impl Catalog {
    /// The catalog without `MODELS_CONFIG_PATH`: the Anthropic models, served by the manager's
    /// upstream, and any other `claude-` id.
    pub fn builtin() -> Self {
        let models = BUILTIN
            .iter()
            .map(
                |(id, label, context, [input, output, write, read])| ModelView {
                    id: (*id).to_owned(),
                    label: (*label).to_owned(),
                    provider: UPSTREAM.to_owned(),
                    context_window: Some(*context),
                    input_price_per_mtok: Some(*input),
                    output_price_per_mtok: Some(*output),
                    cache_write_price_per_mtok: Some(*write),
                    cache_read_price_per_mtok: Some(*read),
                },
            )
            .collect();
        Self {
            models,
            default_model: None,
            providers: BTreeMap::new(),
            prefixes: UPSTREAM_PREFIXES
                .iter()
                .map(|p| ((*p).to_owned(), UPSTREAM.to_owned()))
                .collect(),
        }
    }

    /// `MODELS_CONFIG_PATH`'s catalog, else the built-in one.
    pub fn from_settings(settings: &crate::config::Settings) -> Result<Self, CatalogError> {
        match &settings.models_config_path {
            Some(path) => Self::load(path),
            None => Ok(Self::builtin()),
        }
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let error = |reason: String| CatalogError {
            path: path.to_owned(),
            reason,
        };
        let format = Format::of(path)
            .ok_or_else(|| error("the file must end in .toml or .json".to_owned()))?;
        let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read: {e}")))?;
        Self::parse(&text, format).map_err(error)
    }

    /// Parses and checks a catalog; the error is one line.
    pub fn parse(text: &str, format: Format) -> Result<Self, String> {
        let file: FileCatalog = match format {
            Format::Toml => toml::from_str(text).map_err(|e| toml_error(text, &e))?,
            Format::Json => serde_json::from_str(text).map_err(|e| e.to_string())?,
        };
        Self::build(file)
    }

    fn build(file: FileCatalog) -> Result<Self, String> {
        let mut providers = BTreeMap::new();
        let mut prefixes: Vec<(String, String)> = Vec::new();
        let mut upstream_prefixes: Option<Vec<String>> = None;
        for (name, p) in file.providers {
            let at = format!("providers.{name}");
            if !provider_name_ok(&name) {
                return Err(format!(
                    "{at}: a provider name is 1 to {MAX_PROVIDER_NAME} of a-z, 0-9, - and _, starting with a letter or digit"
                ));
            }
            let these = p.prefixes.clone().unwrap_or_default();
            for prefix in &these {
                if prefix.is_empty() || crate::tasks::model_problem(prefix).is_some() {
                    return Err(format!(
                        "{at}.prefixes: `{prefix}` is not a model-id prefix (letters, digits and - _ . : / @ [ ], not empty)"
                    ));
                }
            }
            if name == UPSTREAM {
                if p.base_url.is_some() || p.key_secret.is_some() {
                    return Err(format!(
                        "{at}: `{UPSTREAM}` is the executor manager's own upstream (ANTHROPIC_BASE_URL and its key); only its `prefixes` can be set here"
                    ));
                }
                upstream_prefixes = Some(these);
                continue;
            }
            let base_url = p
                .base_url
                .ok_or_else(|| format!("{at}: base_url is required"))?;
            let base_url =
                check_base_url(&base_url).map_err(|why| format!("{at}.base_url: {why}"))?;
            let key_secret = p.key_secret.ok_or_else(|| {
                format!("{at}: key_secret (the name of the secret holding the key) is required")
            })?;
            if !protocol::secrets::is_valid_name(&key_secret) {
                return Err(format!(
                    "{at}.key_secret: `{key_secret}` is not a secret name (A-Z, 0-9 and _, not starting with a digit)"
                ));
            }
            prefixes.extend(these.into_iter().map(|x| (x, name.clone())));
            providers.insert(
                name.clone(),
                Provider {
                    name,
                    base_url,
                    key_secret,
                },
            );
        }
        let upstream_prefixes = upstream_prefixes
            .unwrap_or_else(|| UPSTREAM_PREFIXES.iter().map(|p| (*p).to_owned()).collect());
        prefixes.extend(
            upstream_prefixes
                .into_iter()
                .map(|x| (x, UPSTREAM.to_owned())),
        );
        let mut seen = BTreeMap::new();
        for (prefix, provider) in &prefixes {
            if let Some(other) = seen.insert(prefix.clone(), provider.clone()) {
                return Err(format!(
                    "the prefix `{prefix}` is claimed by providers `{other}` and `{provider}`"
                ));
            }
        }
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));

        let mut catalog = Self {
            models: Vec::with_capacity(file.models.len()),
            default_model: None,
            providers,
            prefixes,
        };
        let mut ids = BTreeSet::new();
        for (i, m) in file.models.into_iter().enumerate() {
            let at = format!("models[{i}] (`{}`)", m.id);
            if let Some(problem) = crate::tasks::model_problem(&m.id) {
                return Err(format!("{at}: id: {problem}"));
            }
            if !ids.insert(m.id.clone()) {
                return Err(format!("{at}: the id is listed twice"));
            }
            let provider = match m.provider {
                Some(p) if p == UPSTREAM || catalog.providers.contains_key(&p) => p,
                Some(p) => {
                    return Err(format!(
                        "{at}: provider `{p}` is not declared (add [providers.{p}], or use `{UPSTREAM}`)"
                    ));
                }
                None => match catalog.by_prefix(&m.id) {
                    Some(Owner::Provider(p)) => p.name.clone(),
                    _ => UPSTREAM.to_owned(),
                },
            };
            if m.context_window == Some(0) {
                return Err(format!("{at}: context_window must be positive"));
            }
            for (field, price) in [
                ("input_price_per_mtok", m.input_price_per_mtok),
                ("output_price_per_mtok", m.output_price_per_mtok),
                ("cache_write_price_per_mtok", m.cache_write_price_per_mtok),
                ("cache_read_price_per_mtok", m.cache_read_price_per_mtok),
            ] {
                if price.is_some_and(|p| !p.is_finite() || p < 0.0) {
                    return Err(format!("{at}: {field} must be a price of 0 or more"));
                }
            }
            let label = m
                .label
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| m.id.clone());
            catalog.models.push(ModelView {
                id: m.id,
                label,
                provider,
                context_window: m.context_window,
                input_price_per_mtok: m.input_price_per_mtok,
                output_price_per_mtok: m.output_price_per_mtok,
                cache_write_price_per_mtok: m.cache_write_price_per_mtok,
                cache_read_price_per_mtok: m.cache_read_price_per_mtok,
            });
        }
        if let Some(default) = file.default_model {
            if catalog.owner(&default).is_none() {
                return Err(format!(
                    "default_model `{default}` is neither listed nor matched by a provider's prefixes"
                ));
            }
            catalog.default_model = Some(default);
        }
        Ok(catalog)
    }

    /// `GET /models`.
    pub fn list(&self) -> ModelList {
        ModelList {
            models: self.models.clone(),
            default_model: self.default_model.clone(),
        }
    }

    /// The model a task runs with when it names none (`None`: the manager's `DEFAULT_MODEL`).
    pub fn default_model(&self) -> Option<&str> {
        self.default_model.as_deref()
    }

    /// A listed model.
    pub fn model(&self, id: &str) -> Option<&ModelView> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Who serves `model`; `None`: it is unknown here.
    pub fn owner(&self, model: &str) -> Option<Owner<'_>> {
        match self.model(model) {
            Some(m) => Some(self.provider(&m.provider)),
            None => self.by_prefix(model),
        }
    }

    fn provider(&self, name: &str) -> Owner<'_> {
        self.providers
            .get(name)
            .map_or(Owner::Upstream, Owner::Provider)
    }

    fn by_prefix(&self, model: &str) -> Option<Owner<'_>> {
        self.prefixes
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix.as_str()))
            .map(|(_, provider)| self.provider(provider))
    }

    /// The run's cost from the catalog's prices, when the model is listed with input and output
    /// prices. Cache writes and reads without a price of their own count at the input price.
    pub fn estimate(&self, model: &str, tokens: &protocol::event::Usage) -> Option<f64> {
        let m = self.model(model)?;
        let input = m.input_price_per_mtok?;
        let output = m.output_price_per_mtok?;
        let write = m.cache_write_price_per_mtok.unwrap_or(input);
        let read = m.cache_read_price_per_mtok.unwrap_or(input);
        let n = |t: i64| t.max(0) as f64;
        Some(
            (n(tokens.input_tokens) * input
                + n(tokens.output_tokens) * output
                + n(tokens.cache_creation_input_tokens) * write
                + n(tokens.cache_read_input_tokens) * read)
                / 1_000_000.0,
        )
    }

    /// The cost a run's view shows. The CLI's own figure, unless it reported none (0) or the
    /// model belongs to a provider of its own (the CLI prices every model at Anthropic's rates):
    /// then the catalog's estimate, marked `estimated`, when the model has prices.
    pub fn price(&self, model: Option<&str>, usage: &mut RunUsage) {
        let Some(model) = model else { return };
        let routed = matches!(self.owner(model), Some(Owner::Provider(_)));
        if (usage.total_cost_usd > 0.0 && !routed) || !usage_has_tokens(usage) {
            return;
        }
        if let Some(cost) = self.estimate(model, &usage.tokens) {
            usage.total_cost_usd = cost;
            usage.estimated = true;
        }
    }
}

fn usage_has_tokens(usage: &RunUsage) -> bool {
    let t = &usage.tokens;
    t.input_tokens + t.output_tokens + t.cache_creation_input_tokens + t.cache_read_input_tokens > 0
}

fn provider_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= MAX_PROVIDER_NAME
}

/// An `http(s)` URL with a host and nothing a key or a path could hide in: no credentials, query
/// or fragment. Returned without a trailing `/`.
fn check_base_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{raw}` must be an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{raw}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; the key comes from key_secret".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{raw}` must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A TOML error on one line: its message and where.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("TOML at line {line}, column {column}: {message}")
        }
        None => format!("TOML: {message}"),
    }
}

// ---- submit and claim ----

fn unknown_model(model: &str) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::UnknownModel,
        message: format!(
            "the model `{model}` is not offered here (GET /api/v1/models lists the models)"
        ),
    }
}

/// Checks the model a run will use, at submit (tasks, scheduled tasks): `422 unknown_model` when
/// the catalog does not know it, `422 unknown_secret` when its provider's key is a secret
/// neither `user` nor the system has. `None` (the manager's default model) passes.
pub async fn check(
    conn: &mut PgConnection,
    catalog: &Catalog,
    user: Uuid,
    model: Option<&str>,
) -> ApiResult<()> {
    let Some(model) = model else { return Ok(()) };
    match catalog.owner(model) {
        None => Err(unknown_model(model)),
        Some(Owner::Upstream) => Ok(()),
        Some(Owner::Provider(p)) => {
            let names = BTreeSet::from([p.key_secret.clone()]);
            if secrets::missing(conn, user, &names).await?.is_empty() {
                Ok(())
            } else {
                Err(ApiError::Unprocessable {
                    code: ErrorCode::UnknownSecret,
                    message: format!(
                        "the model `{model}` is served by provider `{}`, whose key is the secret {}: add a secret of that name",
                        p.name, p.key_secret
                    ),
                })
            }
        }
    }
}

/// Why a claimed run's route could not be made; the run fails with this message (it holds no
/// secret value).
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(
        "the model `{0}` is no longer offered here (MODELS_CONFIG_PATH changed since the task was queued)"
    )]
    UnknownModel(String),
    #[error("the model `{model}` is served by provider `{provider}`: {source}")]
    Secret {
        model: String,
        provider: String,
        #[source]
        source: ResolveError,
    },
}

impl RouteError {
    /// A database failure: the platform's fault, worth another attempt.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RouteError::Secret {
                source: ResolveError::Database(_),
                ..
            }
        )
    }
}

/// The route of a claimed run of `user` with `model`: `None` for the manager's own upstream,
/// else the provider's URL and key (the user's secret, else the system's).
pub async fn route(
    pool: &sqlx::PgPool,
    keyring: &Keyring,
    catalog: &Catalog,
    user: Uuid,
    model: Option<&str>,
) -> Result<Option<ModelRoute>, RouteError> {
    let Some(model) = model else { return Ok(None) };
    let provider = match catalog.owner(model) {
        None => return Err(RouteError::UnknownModel(model.to_owned())),
        Some(Owner::Upstream) => return Ok(None),
        Some(Owner::Provider(p)) => p,
    };
    let names = BTreeSet::from([provider.key_secret.clone()]);
    let source = |source| RouteError::Secret {
        model: model.to_owned(),
        provider: provider.name.clone(),
        source,
    };
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| source(ResolveError::Database(e)))?;
    let mut values = secrets::resolve(&mut conn, keyring, user, &names)
        .await
        .map_err(source)?;
    let api_key: SecretValue = values
        .remove(&provider.key_secret)
        .ok_or_else(|| source(ResolveError::Missing(provider.key_secret.clone())))?;
    Ok(Some(ModelRoute {
        provider: provider.name.clone(),
        base_url: provider.base_url.clone(),
        api_key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml(text: &str) -> Result<Catalog, String> {
        Catalog::parse(text, Format::Toml)
    }

    const ROUTED: &str = r#"
default_model = "glm-4.6"

[[models]]
id = "glm-4.6"
label = "GLM-4.6"
provider = "zhipu"
context_window = 200000
input_price_per_mtok = 0.6
output_price_per_mtok = 2.2

[[models]]
id = "claude-sonnet-4-5"

[[models]]
id = "deepseek-chat"

[providers.zhipu]
base_url = "https://api.z.ai/api/anthropic/"
key_secret = "ZHIPU_API_KEY"
prefixes = ["glm-"]

[providers.deepseek]
base_url = "https://api.deepseek.com/anthropic"
key_secret = "DEEPSEEK_API_KEY"
prefixes = ["deepseek-", "deepseek-r"]
"#;

    #[test]
    fn the_builtin_catalog_routes_nothing_and_knows_claude_ids() {
        let c = Catalog::builtin();
        for id in [
            "claude-sonnet-4-5",
            "claude-opus-4-1",
            "claude-haiku-4-5",
            "sonnet",
            "opus",
            "haiku",
        ] {
            assert!(c.model(id).is_some(), "{id}");
            assert_eq!(c.owner(id), Some(Owner::Upstream), "{id}");
        }
        // Unlisted claude- ids (older or newer models, the manager's DEFAULT_MODEL) pass.
        assert_eq!(c.owner("claude-sonnet-4-20250514"), Some(Owner::Upstream));
        assert_eq!(c.owner("gpt-4o"), None);
        assert_eq!(c.owner("glm-4.6"), None);
        assert_eq!(c.list().default_model, None);
    }

    #[test]
    fn routing_by_listing_then_longest_prefix() {
        let c = toml(ROUTED).unwrap();
        let zhipu = match c.owner("glm-4.6") {
            Some(Owner::Provider(p)) => p.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(zhipu.base_url, "https://api.z.ai/api/anthropic");
        assert_eq!(zhipu.key_secret, "ZHIPU_API_KEY");
        assert!(matches!(c.owner("glm-5-air"), Some(Owner::Provider(p)) if p.name == "zhipu"));
        assert!(
            matches!(c.owner("deepseek-reasoner"), Some(Owner::Provider(p)) if p.name == "deepseek")
        );
        // A listed model without a provider takes its prefix's.
        assert_eq!(c.model("deepseek-chat").unwrap().provider, "deepseek");
        assert_eq!(c.model("claude-sonnet-4-5").unwrap().provider, UPSTREAM);
        assert_eq!(
            c.model("claude-sonnet-4-5").unwrap().label,
            "claude-sonnet-4-5"
        );
        assert_eq!(c.owner("claude-whatever"), Some(Owner::Upstream));
        assert_eq!(c.owner("kimi-k2"), None);
        assert_eq!(c.default_model(), Some("glm-4.6"));
        // JSON says the same.
        let json = r#"{"models": [{"id": "m-1", "provider": "p"}],
                       "providers": {"p": {"base_url": "http://127.0.0.1:9", "key_secret": "P_KEY", "prefixes": ["m-"]},
                                     "anthropic": {"prefixes": []}}}"#;
        let c = Catalog::parse(json, Format::Json).unwrap();
        assert!(matches!(c.owner("m-2"), Some(Owner::Provider(p)) if p.name == "p"));
        assert_eq!(
            c.owner("claude-sonnet-4-5"),
            None,
            "the upstream's prefixes were emptied"
        );
    }

    #[test]
    fn bad_files_are_refused_with_one_line_saying_why() {
        for (text, says) in [
            ("models = 3", "TOML at line 1"),
            (
                "[[models]]\nid = \"a\"\ncolour = \"red\"",
                "unknown field `colour`",
            ),
            (
                "[[models]]\nid = \"a\"\nprovider = \"nope\"",
                "provider `nope` is not declared",
            ),
            (
                "[providers.x]\nbase_url = \"ftp://h\"\nkey_secret = \"K\"",
                "http:// or https://",
            ),
            (
                "[providers.x]\nbase_url = \"https://u:p@h\"\nkey_secret = \"K\"",
                "credentials",
            ),
            (
                "[providers.x]\nbase_url = \"https://h\"\nkey_secret = \"lower\"",
                "not a secret name",
            ),
            ("[providers.x]\nkey_secret = \"K\"", "base_url is required"),
            ("[providers.x]\nbase_url = \"https://h\"", "key_secret"),
            (
                "[providers.X]\nbase_url = \"https://h\"\nkey_secret = \"K\"",
                "provider name",
            ),
            (
                "[providers.anthropic]\nbase_url = \"https://h\"",
                "own upstream",
            ),
            (
                "[providers.x]\nbase_url = \"https://h\"\nkey_secret = \"K\"\nprefixes = [\"claude-\"]",
                "claimed by providers",
            ),
            (
                "[providers.x]\nbase_url = \"https://h\"\nkey_secret = \"K\"\nprefixes = [\"\"]",
                "not a model-id prefix",
            ),
            (
                "[[models]]\nid = \"a\"\n[[models]]\nid = \"a\"",
                "listed twice",
            ),
            ("[[models]]\nid = \"bad id\"", "id:"),
            ("[[models]]\nid = \"a\"\ninput_price_per_mtok = -1", "price"),
            ("default_model = \"gpt-4\"", "default_model"),
        ] {
            let err = toml(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
            assert_eq!(err.lines().count(), 1, "{text}: {err}");
        }
        let err = Catalog::parse("{\"models\": 1}", Format::Json).unwrap_err();
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn costs_come_from_the_catalog_when_the_cli_reports_none_or_a_provider_serves_the_model() {
        let c = toml(ROUTED).unwrap();
        let usage = |cost: f64| RunUsage {
            tokens: protocol::event::Usage {
                input_tokens: 1_000_000,
                output_tokens: 500_000,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 0,
            },
            total_cost_usd: cost,
            duration_ms: 1,
            num_turns: 1,
            estimated: false,
        };
        let mut u = usage(0.0);
        c.price(Some("glm-4.6"), &mut u);
        assert!(u.estimated);
        assert!(
            (u.total_cost_usd - (0.6 + 1.1)).abs() < 1e-9,
            "{}",
            u.total_cost_usd
        );
        // The CLI's figure for a provider's model is Anthropic's price: replaced.
        let mut u = usage(9.0);
        c.price(Some("glm-4.6"), &mut u);
        assert!(u.estimated && u.total_cost_usd < 2.0);
        // The CLI's figure for the upstream's models stays; without prices nothing is made up.
        let b = Catalog::builtin();
        let mut u = usage(1.25);
        b.price(Some("claude-sonnet-4-5"), &mut u);
        assert!(!u.estimated && u.total_cost_usd == 1.25);
        let mut u = usage(0.0);
        b.price(Some("claude-sonnet-4-5"), &mut u);
        assert!(u.estimated && (u.total_cost_usd - 10.5).abs() < 1e-9);
        let mut u = usage(0.0);
        c.price(Some("deepseek-chat"), &mut u);
        assert!(!u.estimated && u.total_cost_usd == 0.0);
        let mut u = usage(0.0);
        b.price(None, &mut u);
        assert!(!u.estimated);
    }
}
