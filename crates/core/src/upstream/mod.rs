//! Talking to providers: the shared HTTP client, per-provider endpoint URLs and auth, the header
//! hygiene between client and provider, and turning transport failures and error bodies into
//! `GatewayError`s that keep the provider's status and message.

pub mod client;
pub mod connect;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use secrecy::ExposeSecret;

use crate::config::{Api, AuthStyle, ProviderConfig};
use crate::error::GatewayError;
use crate::translate::openai_chat::OpenAiQuirks;

/// The Anthropic API version sent when the client named none.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// A provider ready for requests: URLs parsed and auth header built once.
#[derive(Debug)]
pub struct LiveProvider {
    pub config: ProviderConfig,
    /// OpenAI `…/chat/completions`, Anthropic `…/v1/messages`; Gemini's URL names the model,
    /// see [`LiveProvider::chat_url`].
    chat_url: Uri,
    /// OpenAI `…/embeddings`, Anthropic `…/v1/messages/count_tokens`.
    pub embeddings_url: Uri,
    pub count_tokens_url: Uri,
    /// Auth and configured extra headers, applied after the client's forwarded headers.
    pub fixed_headers: HeaderMap,
    /// Vendor quirks of OpenAI-compatible providers, known from the preset or the host.
    pub quirks: OpenAiQuirks,
}

impl LiveProvider {
    pub fn new(config: ProviderConfig) -> Result<LiveProvider, String> {
        let url = |path: &str| {
            parse_uri(&format!("{}{path}", config.base_url))
                .map_err(|e| format!("provider `{}`: bad base_url: {e}", config.name))
        };
        let mut fixed_headers = HeaderMap::new();
        let auth = match config.auth {
            AuthStyle::Bearer => Some((header::AUTHORIZATION, "Bearer ")),
            AuthStyle::XApiKey => Some((HeaderName::from_static("x-api-key"), "")),
            AuthStyle::GoogApiKey => Some((HeaderName::from_static("x-goog-api-key"), "")),
            AuthStyle::None => None,
        };
        if let (Some((name, scheme)), Some(key)) = (auth, &config.api_key) {
            let mut value = HeaderValue::from_str(&format!("{scheme}{}", key.expose_secret()))
                .map_err(|_| {
                    format!(
                        "provider `{}`: the api key contains characters that cannot be sent in an HTTP header",
                        config.name
                    )
                })?;
            value.set_sensitive(true);
            fixed_headers.insert(name, value);
        }
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("provider `{}`: header `{name}`: {e}", config.name))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| format!("provider `{}`: header `{name}`: {e}", config.name))?;
            fixed_headers.insert(name, value);
        }
        // Anthropic base URLs are the SDK's (`https://api.anthropic.com`); one that already ends
        // in `/v1` is accepted too.
        let anthropic_v1 = if config.base_url.ends_with("/v1") {
            ""
        } else {
            "/v1"
        };
        let (chat_url, embeddings_url, count_tokens_url) = match config.api {
            Api::OpenAi | Api::Gemini => (
                url("/chat/completions")?,
                url("/embeddings")?,
                url("/messages/count_tokens")?,
            ),
            Api::Anthropic => (
                url(&format!("{anthropic_v1}/messages"))?,
                url("/embeddings")?,
                url(&format!("{anthropic_v1}/messages/count_tokens"))?,
            ),
        };
        Ok(LiveProvider {
            chat_url,
            embeddings_url,
            count_tokens_url,
            quirks: quirks_of(&config),
            config,
            fixed_headers,
        })
    }

    /// Where a chat request for `upstream_model` goes.
    pub fn chat_url(&self, upstream_model: &str, stream: bool) -> Result<Uri, GatewayError> {
        match self.config.api {
            Api::OpenAi | Api::Anthropic => Ok(self.chat_url.clone()),
            Api::Gemini => {
                let path = crate::translate::gemini::generate_path(upstream_model, stream);
                parse_uri(&format!("{}/{path}", self.config.base_url)).map_err(|e| {
                    GatewayError::Internal(format!(
                        "provider `{}`: cannot build the URL for model `{upstream_model}`: {e}",
                        self.config.name
                    ))
                })
            }
        }
    }
}

/// An absolute http(s) URI (`base_url` is checked to be one when the config is loaded),
/// normalized as a URL first: an international host name becomes its ASCII form, a space in a
/// path is percent-encoded.
fn parse_uri(text: &str) -> Result<Uri, String> {
    let url = url::Url::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{text}` is not an absolute http(s) URL"));
    }
    url.as_str().parse().map_err(|e| format!("`{text}`: {e}"))
}

/// `scheme://host:port` of a URI, for messages (never its userinfo, path or query).
fn origin(uri: &Uri) -> String {
    let host = uri.host().unwrap_or_default();
    match uri.port_u16() {
        Some(port) => format!("{}://{host}:{port}", uri.scheme_str().unwrap_or("http")),
        None => format!("{}://{host}", uri.scheme_str().unwrap_or("http")),
    }
}

/// Mistral wants 9-character tool-call ids; DeepSeek and Kimi want their reasoning back on
/// tool-call turns; OpenAI wants `max_completion_tokens`. Known by preset, or by host for
/// providers configured by hand.
fn quirks_of(config: &ProviderConfig) -> OpenAiQuirks {
    let host = config
        .base_url
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    let is = |preset: &str, domain: &str| {
        config.preset == Some(preset) || host == domain || host.ends_with(&format!(".{domain}"))
    };
    OpenAiQuirks {
        short_tool_ids: is("mistral", "mistral.ai"),
        reasoning_content: is("deepseek", "deepseek.com")
            || is("moonshot", "moonshot.ai")
            || is("moonshot", "moonshot.cn"),
        max_completion_tokens: is("openai", "api.openai.com"),
    }
}

/// Client headers never sent upstream: hop-by-hop headers, the client's own credentials, and
/// headers that describe the client's connection rather than the request.
const DROPPED_REQUEST_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "content-type",
    "accept",
    "accept-encoding",
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "origin",
    "referer",
    "forwarded",
    "x-real-ip",
    "openai-organization",
    "openai-project",
];

fn is_dropped(name: &HeaderName, connection_listed: &[String]) -> bool {
    let name = name.as_str();
    DROPPED_REQUEST_HEADERS.contains(&name)
        || name.starts_with("x-forwarded-")
        || name.starts_with("x-switchboard-")
        || name.starts_with("sec-")
        || connection_listed.iter().any(|listed| listed == name)
}

/// The headers to send upstream: the client's end-to-end headers, then ours.
pub fn upstream_headers(client: &HeaderMap, provider: &LiveProvider, stream: bool) -> HeaderMap {
    let anthropic = provider.config.api == Api::Anthropic;
    // Headers named in `Connection` are hop-by-hop too (RFC 9110 §7.6.1).
    let connection_listed: Vec<String> = client
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let mut headers = HeaderMap::with_capacity(client.len() + 4);
    for (name, value) in client {
        // `anthropic-version` / `anthropic-beta` mean something to Anthropic APIs only.
        let foreign = !anthropic && name.as_str().starts_with("anthropic-");
        if !foreign && !is_dropped(name, &connection_listed) {
            headers.append(name.clone(), value.clone());
        }
    }
    if anthropic && !headers.contains_key("anthropic-version") {
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    for (name, value) in &provider.fixed_headers {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

/// Provider response headers worth showing the client (request ids, rate limits).
pub fn is_forwarded_response_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    name == "x-request-id"
        || name == "request-id"
        || name == "retry-after"
        || name.starts_with("x-ratelimit-")
        || name.starts_with("openai-")
}

/// A transport failure (nothing or nothing complete came back): connecting, sending, or reading
/// the body.
pub fn send_error(
    provider: &str,
    url: &Uri,
    err: &(dyn std::error::Error + 'static),
) -> GatewayError {
    let origin = origin(url);
    if is_timeout(err) {
        GatewayError::Timeout(format!(
            "provider `{provider}` at {origin} did not answer in time"
        ))
    } else if is_connect(err) {
        GatewayError::UpstreamUnreachable(format!(
            "cannot connect to provider `{provider}` at {origin}: {}",
            root_cause(err)
        ))
    } else {
        GatewayError::UpstreamUnreachable(format!(
            "request to provider `{provider}` at {origin} failed: {}",
            root_cause(err)
        ))
    }
}

fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

fn is_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    causes(err).any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || e.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
    })
}

fn is_connect(err: &(dyn std::error::Error + 'static)) -> bool {
    causes(err).any(|e| {
        e.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(hyper_util::client::legacy::Error::is_connect)
    })
}

/// The innermost error's text, e.g. "Connection refused (os error 111)".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Builds the error for a non-2xx answer from its status and body, keeping the provider's message.
pub fn status_error(
    provider: &str,
    status: axum::http::StatusCode,
    retry_after: Option<HeaderValue>,
    body: &[u8],
) -> GatewayError {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let error = parsed.as_ref().map(|v| v.get("error").unwrap_or(v));
    let text = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let provider_message = match error {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(e) => text(e.get("message")).or_else(|| text(e.get("detail"))),
        None => None,
    }
    .or_else(|| {
        let raw = String::from_utf8_lossy(body);
        let raw = raw.trim();
        (!raw.is_empty()).then(|| raw.chars().take(500).collect())
    });
    let reason = status.canonical_reason().unwrap_or("error");
    let message = match provider_message {
        Some(m) => format!(
            "provider `{provider}` answered {} {reason}: {m}",
            status.as_u16()
        ),
        None => format!(
            "provider `{provider}` answered {} {reason}",
            status.as_u16()
        ),
    };
    GatewayError::Upstream {
        status,
        message,
        error_type: error.and_then(|e| text(e.get("type"))),
        code: error.and_then(|e| text(e.get("code"))),
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(preset: Option<&'static str>, api: Api, base_url: &str) -> LiveProvider {
        LiveProvider::new(ProviderConfig {
            name: "p".into(),
            preset,
            api,
            base_url: base_url.into(),
            auth: api.auth(),
            api_key_ref: None,
            api_key: Some(secrecy::SecretString::from("sk-test")),
            model_prefix: None,
            headers: Vec::new(),
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn base_urls_are_normalized_like_urls() {
        let idn = provider(None, Api::OpenAi, "https://bücher.example/v1");
        assert_eq!(
            idn.embeddings_url.to_string(),
            "https://xn--bcher-kva.example/v1/embeddings"
        );
        assert_eq!(origin(&idn.embeddings_url), "https://xn--bcher-kva.example");
        let local = provider(None, Api::OpenAi, "http://127.0.0.1:11434/v1");
        assert_eq!(origin(&local.embeddings_url), "http://127.0.0.1:11434");
    }

    #[test]
    fn urls_and_auth_follow_the_api() {
        let anthropic = provider(None, Api::Anthropic, "https://api.anthropic.com");
        assert_eq!(
            anthropic.chat_url("m", true).map(|u| u.to_string()).ok(),
            Some("https://api.anthropic.com/v1/messages".into())
        );
        assert_eq!(
            anthropic.count_tokens_url.to_string(),
            "https://api.anthropic.com/v1/messages/count_tokens"
        );
        assert!(anthropic.fixed_headers.contains_key("x-api-key"));
        // A base URL that already ends in /v1 does not get a second one.
        let kimi = provider(None, Api::Anthropic, "https://example.com/anthropic/v1");
        assert_eq!(
            kimi.chat_url("m", false).map(|u| u.to_string()).ok(),
            Some("https://example.com/anthropic/v1/messages".into())
        );
        let gemini = provider(None, Api::Gemini, "https://g.example/v1beta");
        assert_eq!(
            gemini
                .chat_url("gemini-2.5-flash", true)
                .map(|u| u.to_string())
                .ok(),
            Some(
                "https://g.example/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
                    .into()
            )
        );
        assert!(gemini.fixed_headers.contains_key("x-goog-api-key"));
        let headers = upstream_headers(&HeaderMap::new(), &anthropic, true);
        assert_eq!(headers["anthropic-version"], ANTHROPIC_VERSION);
        let mut client = HeaderMap::new();
        client.insert("anthropic-beta", HeaderValue::from_static("x"));
        assert!(!upstream_headers(&client, &gemini, true).contains_key("anthropic-beta"));
        assert!(upstream_headers(&client, &anthropic, true).contains_key("anthropic-beta"));
    }

    #[test]
    fn quirks_come_from_the_preset_or_the_host() {
        let quirks = |preset, url| provider(preset, Api::OpenAi, url).quirks;
        assert!(quirks(Some("mistral"), "https://api.mistral.ai/v1").short_tool_ids);
        assert!(quirks(None, "https://eu.api.mistral.ai/v1").short_tool_ids);
        assert!(quirks(None, "https://api.deepseek.com/v1").reasoning_content);
        assert!(quirks(Some("moonshot"), "https://api.moonshot.ai/v1").reasoning_content);
        assert!(quirks(Some("openai"), "https://api.openai.com/v1").max_completion_tokens);
        assert_eq!(
            quirks(None, "https://notmistral.ai.example/v1"),
            OpenAiQuirks::default()
        );
    }
}
