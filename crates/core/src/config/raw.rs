//! The config file as parsed (`Raw*`): serde types that reject unknown keys and keep spans where a
//! later check needs to point at a line. Nothing here is validated beyond its TOML type.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::accounting::pricing::PriceOverride;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<Spanned<String>>,
    pub client_token: Option<Spanned<String>>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub default_provider: Option<Spanned<String>>,
    pub max_request_bytes: Option<usize>,
}

/// Timeouts in seconds; each is optional and falls back to its default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect: Option<f64>,
    pub first_byte: Option<f64>,
    pub idle: Option<f64>,
    pub total: Option<f64>,
    pub keepalive: Option<f64>,
}

/// `[sessions]`: `idle_timeout` is minutes or a duration string ("30m", "2h", "90s").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    pub idle_timeout: Option<Spanned<RawDuration>>,
    pub retention_days: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    Minutes(f64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub preset: Option<Spanned<String>>,
    pub api: Option<Spanned<String>>,
    pub base_url: Option<Spanned<String>>,
    pub api_key: Option<Spanned<String>>,
    pub model_prefix: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub provider: Spanned<String>,
    pub model: Option<String>,
    pub max_context_size: Option<u64>,
    /// USD per million tokens; replaces the bundled price table's entry.
    pub price: Option<Spanned<PriceOverride>>,
}
