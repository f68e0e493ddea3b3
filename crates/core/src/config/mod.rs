//! Configuration: the TOML contract, its two phases (raw → resolved), presets, default paths and
//! the commented default file written on first run. Validation collects every problem at once.

mod durations;
mod presets;
mod raw;
mod resolve;
mod watch;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

use crate::accounting::pricing::PriceOverride;
use crate::secrets::SecretRef;

pub use presets::{PRESETS, Preset};
pub use watch::{ConfigWatcher, watch};

/// The listen address used when the config names none.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4141";
/// Upper bound on a request body; large enough for several images in one chat request.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// The wire API a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// OpenAI chat completions, spoken by OpenAI and most other vendors.
    OpenAi,
    /// Anthropic messages (Anthropic, and Anthropic-compatible endpoints such as Kimi's).
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::OpenAi => "openai",
            Api::Anthropic => "anthropic",
            Api::Gemini => "gemini",
        }
    }

    /// How this API expects its key.
    pub const fn auth(self) -> AuthStyle {
        match self {
            Api::OpenAi => AuthStyle::Bearer,
            Api::Anthropic => AuthStyle::XApiKey,
            Api::Gemini => AuthStyle::GoogApiKey,
        }
    }
}

/// How the provider's key is sent upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`
    Bearer,
    /// `x-api-key: <key>` (Anthropic)
    XApiKey,
    /// `x-goog-api-key: <key>` (Gemini)
    GoogApiKey,
    /// Local providers that take no key.
    None,
}

/// A fully validated configuration: secrets resolved, defaults applied, references checked.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was loaded from, if any.
    pub path: Option<PathBuf>,
    pub server: ServerConfig,
    pub timeouts: Timeouts,
    pub sessions: SessionsConfig,
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Keyed by the client's model id.
    pub models: BTreeMap<String, ModelConfig>,
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub client_token: Option<SecretString>,
    /// Host names accepted besides the loopback names.
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the gateway (CORS); empty means none.
    pub allowed_origins: Vec<String>,
    pub default_provider: Option<String>,
    pub max_request_bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeouts {
    /// TCP + TLS connect to the provider.
    pub connect: Duration,
    /// From sending the request to the first body chunk (for streams: the first event).
    pub first_byte: Duration,
    /// Longest silence between two stream events.
    pub idle: Duration,
    /// Whole request, first byte to last.
    pub total: Duration,
    /// Interval of keep-alive comments sent to a streaming client while the provider is silent.
    pub keepalive: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(1800),
            keepalive: Duration::from_secs(15),
        }
    }
}

/// How requests are grouped into sessions and how long history is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionsConfig {
    /// A session with no request for this long is closed.
    pub idle_timeout: Duration,
    /// Closed sessions older than this are deleted (their totals stay in the daily usage table).
    pub retention_days: u32,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig {
            idle_timeout: Duration::from_secs(30 * 60),
            retention_days: 90,
        }
    }
}

/// A duration as people write timeouts: `0.3 s`, `120 s`.
pub fn seconds(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}

#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub name: String,
    pub preset: Option<&'static str>,
    pub api: Api,
    /// Without a trailing slash; endpoint paths are appended (`/chat/completions`).
    pub base_url: String,
    pub auth: AuthStyle,
    /// Where the key comes from (never the key itself).
    pub api_key_ref: Option<SecretRef>,
    /// The key, when secrets were resolved.
    pub api_key: Option<SecretString>,
    pub model_prefix: Option<String>,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub provider: String,
    /// The provider's own id for this model.
    pub model: String,
    pub max_context_size: Option<u64>,
    /// The user's price (USD per million tokens), over the bundled price table.
    pub price: Option<PriceOverride>,
}

/// What loading does besides parsing and checking.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Look secrets up (environment, OS keychain). Off for commands that only read the routing table.
    pub resolve_secrets: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            resolve_secrets: true,
        }
    }
}

/// One problem in a config file, located as precisely as the file allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigIssue {
    pub line: Option<usize>,
    /// Dotted key path with identifiers in backticks, e.g. ``models.`fast`.provider``.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.key.is_empty()) {
            (Some(line), false) => write!(f, "{} (line {line}): {}", self.key, self.message),
            (Some(line), true) => write!(f, "line {line}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.key, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The I/O error is part of the message rather than a `source`, so it is printed once.
    #[error("cannot read config `{}`: {io}", path.display())]
    Read { path: PathBuf, io: std::io::Error },
    #[error("cannot write the default config to `{}`: {io}", path.display())]
    WriteDefault { path: PathBuf, io: std::io::Error },
    #[error("{}", render_issues(file, issues))]
    Invalid {
        file: String,
        issues: Vec<ConfigIssue>,
    },
}

impl ConfigError {
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            ConfigError::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}

fn render_issues(file: &str, issues: &[ConfigIssue]) -> String {
    let count = match issues.len() {
        1 => "1 problem".to_owned(),
        n => format!("{n} problems"),
    };
    let mut out = format!("config `{file}` has {count}:");
    for issue in issues {
        out.push_str("\n  ");
        out.push_str(&issue.to_string());
    }
    out
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path, options: LoadOptions) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|io| ConfigError::Read {
            path: path.to_owned(),
            io,
        })?;
        let mut config = Config::from_toml(&text, &path.display().to_string(), options)?;
        config.path = Some(path.to_owned());
        Ok(config)
    }

    /// Parses and validates config text; `origin` names it in messages.
    pub fn from_toml(
        text: &str,
        origin: &str,
        options: LoadOptions,
    ) -> Result<Config, ConfigError> {
        resolve::resolve(text, options).map_err(|issues| ConfigError::Invalid {
            file: origin.to_owned(),
            issues,
        })
    }

    /// The config file path when none is given: `<OS config dir>/switchboard/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("switchboard").join("config.toml"))
    }

    /// The data directory when none is given: `<OS data dir>/switchboard`.
    pub fn default_data_dir() -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join("switchboard"))
    }

    /// Writes the commented default config if `path` does not exist yet. Returns whether it did.
    pub fn write_default_if_missing(path: &Path) -> Result<bool, ConfigError> {
        if path.exists() {
            return Ok(false);
        }
        let write_err = |io| ConfigError::WriteDefault {
            path: path.to_owned(),
            io,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        std::fs::write(path, default_config_text()).map_err(write_err)?;
        Ok(true)
    }
}

/// The commented config written on first run: local providers on, every cloud preset shown but off.
pub fn default_config_text() -> String {
    let mut out = String::from(include_str!("default_config.toml"));
    for preset in PRESETS.iter().filter(|p| p.key_env.is_some()) {
        let key_env = preset.key_env.unwrap_or_default();
        out.push_str(&format!(
            "\n# {display} — store the key with `switchboard key set {name}`, or export {key_env}\n\
             # [providers.{name}]\n\
             # preset = \"{name}\"\n\
             # api_key = \"keyring:{name}\"            # or \"env:{key_env}\"\n\
             # model_prefix = \"{name}/\"              # `{name}/<id>` routes here as `<id>`\n",
            display = preset.display_name,
            name = preset.name,
        ));
    }
    out
}

#[cfg(test)]
mod tests;
