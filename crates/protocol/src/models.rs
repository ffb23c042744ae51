//! The model catalog (`GET /api/v1/models`) and how a run's model reaches its provider.
//!
//! The backend reads the catalog from `MODELS_CONFIG_PATH` (TOML or JSON; a built-in default
//! lists the Anthropic models). A provider (`[providers.NAME]`) names an Anthropic-compatible
//! base URL, the secret holding its key and the model-id prefixes it serves; a model whose id
//! starts with one of them is routed there. The claim carries the run's [`ModelRoute`] (the key
//! resolved from the user's secret, else the system's) to the manager, whose model proxy
//! forwards the run's requests to it; the executor never sees the key.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::secrets::SecretValue;

/// One model this deployment offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelView {
    /// What a task names as `model` and the CLI gets as `--model`.
    pub id: String,
    pub label: String,
    /// The provider serving it (`anthropic` for the manager's own credential).
    pub provider: String,
    /// Tokens of context, when known.
    #[serde(default)]
    pub context_window: Option<u64>,
    /// US dollars per million input tokens, when known.
    #[serde(default)]
    pub input_price_per_mtok: Option<f64>,
    /// US dollars per million output tokens, when known.
    #[serde(default)]
    pub output_price_per_mtok: Option<f64>,
    /// US dollars per million cache-write input tokens, when known.
    #[serde(default)]
    pub cache_write_price_per_mtok: Option<f64>,
    /// US dollars per million cache-read input tokens, when known.
    #[serde(default)]
    pub cache_read_price_per_mtok: Option<f64>,
}

/// `GET /models`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelList {
    pub models: Vec<ModelView>,
    /// The model a task runs with when it names none (`None`: the CLI's own default).
    pub default_model: Option<String>,
}

/// Where a claimed run's model requests go, when not to the manager's own upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelRoute {
    /// The provider's name in the catalog (for logs and metrics labels; bounded by the config).
    pub provider: String,
    /// The Anthropic-compatible base URL (the proxy appends `/v1/...`).
    pub base_url: String,
    /// The provider's key, sent as `x-api-key` and `Authorization: Bearer`.
    pub api_key: SecretValue,
}
