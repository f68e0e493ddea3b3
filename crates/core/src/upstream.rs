//! Talking to providers: the shared HTTP client, per-provider endpoint URLs and auth, the header
//! hygiene between client and provider, and turning transport failures and error bodies into
//! `GatewayError`s that keep the provider's status and message.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use secrecy::ExposeSecret;

use crate::config::{AuthStyle, ProviderConfig, Timeouts};
use crate::error::GatewayError;

/// One shared, pooled client per live state (DESIGN §4.1). Timeouts other than connect are
/// applied per phase by the proxy, since a whole-request timeout would cut long streams.
pub fn build_client(timeouts: &Timeouts) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A provider ready for requests: URLs parsed and auth header built once.
#[derive(Debug)]
pub struct LiveProvider {
    pub config: ProviderConfig,
    pub chat_url: reqwest::Url,
    pub embeddings_url: reqwest::Url,
    /// Auth and configured extra headers, applied after the client's forwarded headers.
    pub fixed_headers: HeaderMap,
}

impl LiveProvider {
    pub fn new(config: ProviderConfig) -> Result<LiveProvider, String> {
        let url = |path: &str| {
            reqwest::Url::parse(&format!("{}{path}", config.base_url))
                .map_err(|e| format!("provider `{}`: bad base_url: {e}", config.name))
        };
        let mut fixed_headers = HeaderMap::new();
        if let (AuthStyle::Bearer, Some(key)) = (config.auth, &config.api_key) {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                .map_err(|_| {
                    format!(
                        "provider `{}`: the api key contains characters that cannot be sent in an HTTP header",
                        config.name
                    )
                })?;
            value.set_sensitive(true);
            fixed_headers.insert(header::AUTHORIZATION, value);
        }
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("provider `{}`: header `{name}`: {e}", config.name))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| format!("provider `{}`: header `{name}`: {e}", config.name))?;
            fixed_headers.insert(name, value);
        }
        Ok(LiveProvider {
            chat_url: url("/chat/completions")?,
            embeddings_url: url("/embeddings")?,
            config,
            fixed_headers,
        })
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
        if !is_dropped(name, &connection_listed) {
            headers.append(name.clone(), value.clone());
        }
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

/// A transport failure (nothing or nothing complete came back).
pub fn send_error(provider: &str, url: &reqwest::Url, err: &reqwest::Error) -> GatewayError {
    let origin = url.origin().ascii_serialization();
    if err.is_timeout() {
        GatewayError::Timeout(format!(
            "provider `{provider}` at {origin} did not answer in time"
        ))
    } else if err.is_connect() {
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
    status: reqwest::StatusCode,
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
