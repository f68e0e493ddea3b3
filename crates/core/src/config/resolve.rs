//! Raw → resolved: parses the TOML tree section by section (so one bad entry does not hide the
//! next), applies presets and defaults, looks secrets up, and checks cross-references. Every
//! problem becomes a `ConfigIssue` with its line.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::durations::{resolve_sessions, resolve_timeouts};
use super::raw::{RawModel, RawProvider, RawServer, RawSessions, RawTimeouts};
use super::{
    Api, AuthStyle, Config, ConfigIssue, DEFAULT_LISTEN, DEFAULT_MAX_REQUEST_BYTES, LoadOptions,
    ModelConfig, ProviderConfig, ServerConfig, presets,
};
use crate::secrets::{self, SecretRef};

const SECTIONS: &[&str] = &["server", "timeouts", "sessions", "providers", "models"];

/// Collects issues while walking one config text.
pub(super) struct Checker<'t> {
    text: &'t str,
    issues: Vec<ConfigIssue>,
}

impl Checker<'_> {
    fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub(super) fn push(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let line = span.map(|s| self.line_of(&s));
        self.issues.push(ConfigIssue {
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    /// Deserializes one section or entry; on failure records the issue and returns `None`.
    fn section<T: DeserializeOwned>(
        &mut self,
        key: &str,
        value: Spanned<DeValue<'_>>,
    ) -> Option<T> {
        let whole = value.span();
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(parsed) => Some(parsed),
            Err(err) => {
                let span = err.span().unwrap_or(whole);
                self.push(Some(span), key, err.message().trim_end().to_owned());
                None
            }
        }
    }
}

pub(super) fn resolve(text: &str, options: LoadOptions) -> Result<Config, Vec<ConfigIssue>> {
    let mut checker = Checker {
        text,
        issues: Vec::new(),
    };
    let root = match DeTable::parse(text) {
        Ok(root) => root.into_inner(),
        Err(err) => {
            checker.push(
                err.span(),
                "",
                format!("invalid TOML: {}", err.message().trim_end()),
            );
            return Err(checker.issues);
        }
    };

    let mut raw_server = RawServer::default();
    let mut raw_timeouts = RawTimeouts::default();
    let mut raw_sessions = RawSessions::default();
    let mut raw_providers: Vec<(Spanned<String>, RawProvider)> = Vec::new();
    let mut raw_models: Vec<(Spanned<String>, RawModel)> = Vec::new();

    for (key, value) in root {
        let name = key.get_ref().to_string();
        match name.as_str() {
            "server" => raw_server = checker.section("server", value).unwrap_or_default(),
            "timeouts" => raw_timeouts = checker.section("timeouts", value).unwrap_or_default(),
            "sessions" => raw_sessions = checker.section("sessions", value).unwrap_or_default(),
            "providers" | "models" => {
                let span = value.span();
                let DeValue::Table(entries) = value.into_inner() else {
                    checker.push(Some(span), name, "must be a table of named entries");
                    continue;
                };
                for (entry_key, entry) in entries {
                    let entry_name = entry_key.get_ref().to_string();
                    let spanned_name = Spanned::new(entry_key.span(), entry_name.clone());
                    let path = format!("{name}.`{entry_name}`");
                    if name == "providers" {
                        if let Some(p) = checker.section::<RawProvider>(&path, entry) {
                            raw_providers.push((spanned_name, p));
                        }
                    } else if let Some(m) = checker.section::<RawModel>(&path, entry) {
                        raw_models.push((spanned_name, m));
                    }
                }
            }
            _ => checker.push(
                Some(key.span()),
                format!("`{name}`"),
                format!(
                    "unknown section; known: {}",
                    backticked(SECTIONS.iter().copied())
                ),
            ),
        }
    }

    // Names are checked against every declared provider, valid or not, so one broken provider
    // entry does not also make each model that uses it look wrong.
    let declared: BTreeSet<String> = raw_providers
        .iter()
        .map(|(name, _)| name.get_ref().clone())
        .collect();
    let server = resolve_server(&mut checker, raw_server, options);
    let timeouts = resolve_timeouts(&mut checker, &raw_timeouts);
    let sessions = resolve_sessions(&mut checker, &raw_sessions);
    let providers: BTreeMap<String, ProviderConfig> = raw_providers
        .into_iter()
        .filter_map(|(name, raw)| resolve_provider(&mut checker, name, raw, options))
        .map(|p| (p.name.clone(), p))
        .collect();
    check_prefixes(&mut checker, &providers);
    let models = resolve_models(&mut checker, raw_models, &declared);
    if let Some((name, span)) = &server.1
        && !declared.contains(name)
    {
        checker.push(
            Some(span.clone()),
            "server.default_provider",
            unknown_provider(name, &declared),
        );
    }

    if !checker.issues.is_empty() {
        // In file order, so the list reads top to bottom like the file.
        checker
            .issues
            .sort_by_key(|issue| issue.line.unwrap_or(usize::MAX));
        return Err(checker.issues);
    }
    Ok(Config {
        path: None,
        server: server.0,
        timeouts,
        sessions,
        providers,
        models,
    })
}

fn resolve_server(
    checker: &mut Checker<'_>,
    raw: RawServer,
    options: LoadOptions,
) -> (ServerConfig, Option<(String, Range<usize>)>) {
    let listen = match &raw.listen {
        None => DEFAULT_LISTEN.parse::<SocketAddr>().ok(),
        Some(listen) => match listen.get_ref().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                checker.push(
                    Some(listen.span()),
                    "server.listen",
                    format!(
                        "`{}` is not an IP address with a port; write e.g. \"{DEFAULT_LISTEN}\"",
                        listen.get_ref()
                    ),
                );
                None
            }
        },
    };
    let client_token = raw.client_token.as_ref().and_then(|token| {
        resolve_secret(
            checker,
            token,
            "server.client_token",
            "client-token",
            options,
        )
    });
    if let (Some(addr), Some(listen)) = (listen, &raw.listen)
        && !addr.ip().is_loopback()
        && raw.client_token.is_none()
    {
        checker.push(
            Some(listen.span()),
            "server.listen",
            format!(
                "`{addr}` is reachable from other machines; set `server.client_token` so only your \
                 clients can use it, or listen on 127.0.0.1"
            ),
        );
    }
    let default_provider = raw
        .default_provider
        .map(|p| (p.get_ref().clone(), p.span()));
    let server = ServerConfig {
        listen: listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 4141))),
        client_token,
        allowed_hosts: raw
            .allowed_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        allowed_origins: raw
            .allowed_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .collect(),
        default_provider: default_provider.as_ref().map(|(name, _)| name.clone()),
        max_request_bytes: raw.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
    };
    (server, default_provider)
}

fn resolve_provider(
    checker: &mut Checker<'_>,
    name: Spanned<String>,
    raw: RawProvider,
    options: LoadOptions,
) -> Option<ProviderConfig> {
    let path = format!("providers.`{}`", name.get_ref());
    let issues_before = checker.issues.len();
    let preset = match &raw.preset {
        None => None,
        Some(preset) => match presets::find(preset.get_ref()) {
            Some(found) => Some(found),
            None => {
                checker.push(
                    Some(preset.span()),
                    format!("{path}.preset"),
                    format!(
                        "unknown preset `{}`; known: {}",
                        preset.get_ref(),
                        backticked(presets::names())
                    ),
                );
                None
            }
        },
    };
    let api = match &raw.api {
        None => preset.map(|p| p.api).unwrap_or(Api::OpenAi),
        Some(api) => match api.get_ref().as_str() {
            "openai" => Api::OpenAi,
            "anthropic" => Api::Anthropic,
            "gemini" => Api::Gemini,
            other => {
                checker.push(
                    Some(api.span()),
                    format!("{path}.api"),
                    format!("unknown api `{other}`; known: `openai`, `anthropic`, `gemini`"),
                );
                Api::OpenAi
            }
        },
    };
    let base_url = match (&raw.base_url, preset) {
        (Some(url), _) => check_url(checker, url, &path),
        (None, Some(preset)) => Some(preset.base_url.to_owned()),
        (None, None) => {
            let hint = if raw.preset.is_some() {
                String::new()
            } else {
                format!(
                    "; or set `preset` to one of {}",
                    backticked(presets::names())
                )
            };
            checker.push(
                Some(name.span()),
                path.clone(),
                format!("missing `base_url`{hint}"),
            );
            None
        }
    };
    let api_key_ref = raw
        .api_key
        .as_ref()
        .and_then(|key| parse_secret_ref(checker, key, &format!("{path}.api_key"), name.get_ref()));
    let api_key = match (&raw.api_key, &api_key_ref, options.resolve_secrets) {
        (Some(key), Some(r), true) => {
            resolve_ref(checker, key.span(), r, &format!("{path}.api_key"))
        }
        _ => None,
    };
    let needs_key = preset.is_some_and(|p| p.auth != AuthStyle::None);
    if needs_key && raw.api_key.is_none() {
        let key_env = preset.and_then(|p| p.key_env).unwrap_or("API_KEY");
        checker.push(
            Some(name.span()),
            path.clone(),
            format!(
                "missing `api_key`; store the key with `switchboard key set {n}` and add \
                 `api_key = \"keyring:{n}\"`, or add `api_key = \"env:{key_env}\"`",
                n = name.get_ref()
            ),
        );
    }
    let model_prefix = raw.model_prefix.as_ref().and_then(|prefix| {
        if prefix.get_ref().is_empty() {
            checker.push(
                Some(prefix.span()),
                format!("{path}.model_prefix"),
                "must not be empty",
            );
            None
        } else {
            Some(prefix.get_ref().clone())
        }
    });
    let mut headers = Vec::new();
    for (header, value) in &raw.headers {
        let valid_name = http::HeaderName::from_bytes(header.as_bytes()).is_ok();
        let valid_value = http::HeaderValue::from_str(value.get_ref()).is_ok();
        if !valid_name || !valid_value {
            checker.push(
                Some(value.span()),
                format!("{path}.headers.`{header}`"),
                "is not a valid HTTP header name and value",
            );
        } else {
            headers.push((header.clone(), value.get_ref().clone()));
        }
    }
    if checker.issues.len() > issues_before {
        return None;
    }
    let auth = if raw.api_key.is_some() {
        api.auth()
    } else {
        preset.map(|p| p.auth).unwrap_or(AuthStyle::None)
    };
    Some(ProviderConfig {
        name: name.into_inner(),
        preset: preset.map(|p| p.name),
        api,
        base_url: base_url?.trim_end_matches('/').to_owned(),
        auth,
        api_key_ref,
        api_key,
        model_prefix,
        headers,
    })
}

fn check_url(checker: &mut Checker<'_>, url: &Spanned<String>, path: &str) -> Option<String> {
    match url::Url::parse(url.get_ref()) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Some(url.get_ref().clone())
        }
        _ => {
            checker.push(
                Some(url.span()),
                format!("{path}.base_url"),
                format!(
                    "`{}` is not an http(s) URL; write e.g. \"https://api.example.com/v1\"",
                    url.get_ref()
                ),
            );
            None
        }
    }
}

fn parse_secret_ref(
    checker: &mut Checker<'_>,
    value: &Spanned<String>,
    key: &str,
    suggested_name: &str,
) -> Option<SecretRef> {
    match SecretRef::parse(value.get_ref()) {
        Ok(r) => Some(r),
        Err(secrets::SecretRefError::Literal) => {
            // Never echo the literal: it is very likely a real key.
            checker.push(
                Some(value.span()),
                key,
                format!(
                    "looks like a literal key, and keys are not stored in the config file; run \
                     `switchboard key set {suggested_name}` and write \"keyring:{suggested_name}\", \
                     or put it in an environment variable and write \"env:VAR\""
                ),
            );
            None
        }
        Err(err) => {
            checker.push(Some(value.span()), key, err.to_string());
            None
        }
    }
}

fn resolve_ref(
    checker: &mut Checker<'_>,
    span: Range<usize>,
    r: &SecretRef,
    key: &str,
) -> Option<secrecy::SecretString> {
    match secrets::resolve(r) {
        Ok(secret) => Some(secret),
        Err(err) => {
            checker.push(Some(span), key, err.to_string());
            None
        }
    }
}

fn resolve_secret(
    checker: &mut Checker<'_>,
    value: &Spanned<String>,
    key: &str,
    suggested_name: &str,
    options: LoadOptions,
) -> Option<secrecy::SecretString> {
    let r = parse_secret_ref(checker, value, key, suggested_name)?;
    if !options.resolve_secrets {
        return None;
    }
    resolve_ref(checker, value.span(), &r, key)
}

fn check_prefixes(checker: &mut Checker<'_>, providers: &BTreeMap<String, ProviderConfig>) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for provider in providers.values() {
        if let Some(prefix) = &provider.model_prefix
            && let Some(other) = seen.insert(prefix, &provider.name)
        {
            checker.push(
                None,
                format!("providers.`{}`.model_prefix", provider.name),
                format!(
                    "`{prefix}` is also the prefix of provider `{other}`; prefixes must be unique"
                ),
            );
        }
    }
}

fn resolve_models(
    checker: &mut Checker<'_>,
    raw_models: Vec<(Spanned<String>, RawModel)>,
    declared: &BTreeSet<String>,
) -> BTreeMap<String, ModelConfig> {
    let mut models = BTreeMap::new();
    for (client_id, raw) in raw_models {
        let path = format!("models.`{}`", client_id.get_ref());
        if client_id.get_ref().is_empty() {
            checker.push(Some(client_id.span()), path, "a model id must not be empty");
            continue;
        }
        let provider = raw.provider.get_ref();
        if !declared.contains(provider) {
            checker.push(
                Some(raw.provider.span()),
                format!("{path}.provider"),
                unknown_provider(provider, declared),
            );
            continue;
        }
        let price = raw.price.as_ref().map(|price| {
            let p = price.get_ref();
            let valid = [Some(p.input), Some(p.output), p.cached_input, p.cache_write]
                .into_iter()
                .flatten()
                .all(|v| v.is_finite() && v >= 0.0);
            if !valid {
                checker.push(
                    Some(price.span()),
                    format!("{path}.price"),
                    "prices are USD per million tokens and must be numbers of 0 or more",
                );
            }
            *p
        });
        models.insert(
            client_id.get_ref().clone(),
            ModelConfig {
                provider: provider.clone(),
                model: raw.model.unwrap_or_else(|| client_id.get_ref().clone()),
                max_context_size: raw.max_context_size,
                price,
            },
        );
    }
    models
}

fn unknown_provider(name: &str, declared: &BTreeSet<String>) -> String {
    if declared.is_empty() {
        format!(
            "unknown provider `{name}`; no providers are configured (add a `[providers.NAME]` table)"
        )
    } else {
        format!(
            "unknown provider `{name}`; known: {}",
            backticked(declared.iter().map(String::as_str))
        )
    }
}

fn backticked<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
