//! The proxy path for JSON endpoints (chat completions, embeddings): parse just enough to route,
//! rewrite the model, send upstream with the provider's key, and answer — streamed or whole.
//! Everything before the first byte reaches the client returns a `GatewayError`, so retries and
//! fallbacks can wrap `send` without touching the rest.

mod request;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use secrecy::ExposeSecret;
use tokio::time::Instant;

use crate::error::GatewayError;
use crate::outcome::{Endpoint, OutcomeStatus, RequestRecorder};
use crate::server::LiveState;
use crate::upstream::{self, LiveProvider};
use crate::usage;

pub use request::ClientBody;
pub use stream::{EventInfo, inspect};

/// The largest non-streamed provider response accepted.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Handles one proxied request; every outcome, success or not, is reported by `recorder`.
pub async fn forward(
    live: Arc<LiveState>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Bytes,
    mut recorder: RequestRecorder,
) -> Response {
    let request_id = HeaderValue::from_str(recorder.id()).ok();
    recorder.set_request_body(body.clone());
    let mut response = match forward_inner(&live, endpoint, &headers, &body, &mut recorder).await {
        Ok(response) => response,
        Err(err) => {
            let status = match err.side() {
                crate::error::Side::Upstream => OutcomeStatus::UpstreamError,
                _ => OutcomeStatus::GatewayError,
            };
            recorder.finish_err(status, err.status().as_u16(), err.to_string());
            axum::response::IntoResponse::into_response(err)
        }
    };
    if let Some(id) = request_id {
        response
            .headers_mut()
            .insert("x-switchboard-request-id", id);
    }
    response
}

async fn forward_inner(
    live: &Arc<LiveState>,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: &[u8],
    recorder: &mut RequestRecorder,
) -> Result<Response, GatewayError> {
    let mut request = ClientBody::parse(body)?;
    let stream = request.stream && endpoint == Endpoint::ChatCompletions;
    recorder.set_request(&request.model, stream);
    let route = live
        .router
        .resolve(&request.model)
        .map_err(|e| GatewayError::UnknownModel(e.to_string()))?;
    let provider = &live.providers[route.provider];
    recorder.set_route(&provider.config.name, &route.upstream_model);
    request.set_model(&route.upstream_model)?;
    let hide_usage_chunk = stream && !request.wants_stream_usage();
    if hide_usage_chunk {
        request.request_stream_usage()?;
    }
    let url = match endpoint {
        Endpoint::ChatCompletions => &provider.chat_url,
        Endpoint::Embeddings => &provider.embeddings_url,
    };
    let started = Instant::now();
    let upstream_response = send(live, provider, url, headers, request.to_bytes()?, stream).await?;
    let timeouts = live.config.timeouts;
    let mut response_headers = HeaderMap::new();
    for (name, value) in upstream_response.headers() {
        if upstream::is_forwarded_response_header(name) {
            response_headers.append(name.clone(), value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(&provider.config.name) {
        response_headers.insert("x-switchboard-provider", value);
    }

    let content_type = upstream_response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !stream {
        // A 200 that is not JSON (a captive portal, a proxy's HTML page) is not an answer.
        if !content_type.is_empty() && !content_type.contains("json") {
            return Err(GatewayError::UpstreamProtocol(format!(
                "provider `{}` answered with content type `{content_type}` instead of JSON",
                provider.config.name
            )));
        }
        let remaining = timeouts.total.saturating_sub(started.elapsed());
        recorder.first_byte(200);
        let body = tokio::time::timeout(remaining, read_limited(upstream_response, provider, url))
            .await
            .map_err(|_| timeout_error(provider, "timeouts.total", timeouts.total))??;
        match usage::from_openai_body(&body) {
            Some(usage) => recorder.set_usage(usage),
            None => recorder.capture_whole_response(body.clone()),
        }
        recorder.finish_ok(200);
        response_headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let mut response = Response::new(Body::from(body));
        *response.headers_mut() = response_headers;
        return Ok(response);
    }

    if !content_type.starts_with("text/event-stream") {
        return Err(GatewayError::UpstreamProtocol(format!(
            "provider `{}` answered a streaming request with content type `{}` instead of `text/event-stream`",
            provider.config.name,
            if content_type.is_empty() {
                "none"
            } else {
                &content_type
            }
        )));
    }
    let mut events = upstream_response.bytes_stream().eventsource().boxed();
    // Commit the 200 only once the first event is here: earlier failures stay proper HTTP errors.
    let first_deadline = started + timeouts.first_byte;
    let first = match tokio::time::timeout_at(first_deadline, events.next()).await {
        Err(_) => {
            return Err(timeout_error(
                provider,
                "timeouts.first_byte",
                timeouts.first_byte,
            ));
        }
        Ok(None) => {
            return Err(GatewayError::UpstreamProtocol(format!(
                "provider `{}` closed the stream before sending anything",
                provider.config.name
            )));
        }
        Ok(Some(Err(err))) => {
            return Err(GatewayError::UpstreamProtocol(format!(
                "provider `{}` sent a broken stream: {err}",
                provider.config.name
            )));
        }
        Ok(Some(Ok(event))) => event,
    };
    if let Some(message) = inspect(&first.data).error {
        return Err(GatewayError::Upstream {
            status: StatusCode::BAD_GATEWAY,
            message: format!(
                "provider `{}` answered with an error: {message}",
                provider.config.name
            ),
            error_type: None,
            code: None,
            retry_after: None,
        });
    }
    recorder.first_byte(200);
    let relay = stream::Relay {
        events,
        first,
        recorder: std::mem::replace(recorder, RequestRecorder::detached()),
        timeouts,
        hide_usage_chunk,
        provider: provider.config.name.clone(),
    };
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let mut response = Response::new(Body::from_stream(relay.into_stream()));
    *response.headers_mut() = response_headers;
    Ok(response)
}

/// Sends the request and waits for the status line; a non-2xx answer becomes an error that keeps
/// the provider's status and message. Nothing has reached the client yet, so this is where a
/// retry or fallback would go.
async fn send(
    live: &LiveState,
    provider: &LiveProvider,
    url: &reqwest::Url,
    client_headers: &HeaderMap,
    body: Vec<u8>,
    stream: bool,
) -> Result<reqwest::Response, GatewayError> {
    let timeouts = live.config.timeouts;
    let request = live
        .http
        .post(url.clone())
        .headers(upstream::upstream_headers(client_headers, provider, stream))
        .body(body)
        .send();
    let response = tokio::time::timeout(timeouts.first_byte, request)
        .await
        .map_err(|_| timeout_error(provider, "timeouts.first_byte", timeouts.first_byte))?
        .map_err(|e| upstream::send_error(&provider.config.name, url, &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
    let body = tokio::time::timeout(
        Duration::from_secs(10),
        read_limited(response, provider, url),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .unwrap_or_default();
    let mut err = upstream::status_error(&provider.config.name, status, retry_after, &body);
    if let (GatewayError::Upstream { message, .. }, Some(key)) =
        (&mut err, &provider.config.api_key)
    {
        // Some providers quote the key they were given back in their error message.
        let key = key.expose_secret();
        if !key.is_empty() && message.contains(key) {
            *message = message.replace(key, "[redacted]");
        }
    }
    Err(err)
}

/// Reads a whole (non-streamed) provider response, refusing one larger than the limit.
async fn read_limited(
    response: reqwest::Response,
    provider: &LiveProvider,
    url: &reqwest::Url,
) -> Result<Bytes, GatewayError> {
    let mut body = bytes::BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| upstream::send_error(&provider.config.name, url, &e))?;
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(GatewayError::UpstreamProtocol(format!(
                "provider `{}` sent a response larger than {} MiB",
                provider.config.name,
                MAX_RESPONSE_BYTES / (1024 * 1024)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn timeout_error(provider: &LiveProvider, setting: &str, limit: Duration) -> GatewayError {
    GatewayError::Timeout(format!(
        "provider `{}` did not answer within {} (`{setting}`)",
        provider.config.name,
        crate::config::seconds(limit)
    ))
}
