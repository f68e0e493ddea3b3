//! The proxy path for JSON endpoints: parse just enough to route, then either pass the request
//! through to a provider of the client's own dialect (rewriting only `model`) or translate it
//! through the canonical model; send it with the provider's key, and answer — streamed or whole.
//! Everything before the first byte reaches the client returns a `GatewayError`, so retries and
//! fallbacks can wrap `send` without touching the rest.

mod count_tokens;
mod passthrough;
mod request;
mod stream;
mod translated;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use eventsource_stream::{Event, Eventsource};
use futures::StreamExt;
use secrecy::ExposeSecret;
use tokio::time::Instant;

use crate::config::Api;
use crate::error::GatewayError;
use crate::outcome::{Endpoint, OutcomeStatus, RequestRecorder};
use crate::routing::Route;
use crate::server::LiveState;
use crate::upstream::client::{self, UpstreamResponse};
use crate::upstream::{self, LiveProvider};

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
            err.into_dialect_response(endpoint.dialect())
        }
    };
    if let Some(id) = request_id {
        response
            .headers_mut()
            .insert("x-switchboard-request-id", id);
    }
    response
}

/// What every path needs to know about one routed request.
struct Call<'a> {
    live: &'a LiveState,
    endpoint: Endpoint,
    headers: &'a HeaderMap,
    body: &'a [u8],
    request: ClientBody,
    route: Route,
    provider: &'a LiveProvider,
    stream: bool,
}

async fn forward_inner(
    live: &Arc<LiveState>,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: &[u8],
    recorder: &mut RequestRecorder,
) -> Result<Response, GatewayError> {
    let request = ClientBody::parse(body)?;
    let stream = request.stream && endpoint != Endpoint::Embeddings;
    recorder.set_request(&request.model, stream);
    let route = live
        .router
        .resolve(&request.model)
        .map_err(|e| GatewayError::UnknownModel(e.to_string()))?;
    let provider = &live.providers[route.provider];
    recorder.set_route(&provider.config.name, &route.upstream_model);
    let call = Call {
        live,
        endpoint,
        headers,
        body,
        request,
        route,
        provider,
        stream,
    };
    match (endpoint, provider.config.api) {
        (Endpoint::CountTokens, _) => count_tokens::answer(call, recorder).await,
        (Endpoint::Embeddings, Api::OpenAi) => passthrough::openai(call, recorder).await,
        (Endpoint::Embeddings, api) => Err(GatewayError::bad_request(format!(
            "provider `{}` speaks the {} API, which has no embeddings endpoint Switchboard can use; route `{}` to an OpenAI-compatible provider",
            provider.config.name,
            api.as_str(),
            call.request.model
        ))),
        (Endpoint::ChatCompletions, Api::OpenAi) => passthrough::openai(call, recorder).await,
        (Endpoint::Messages, Api::Anthropic) => passthrough::anthropic(call, recorder).await,
        _ => translated::answer(call, recorder).await,
    }
}

/// The provider's response headers worth passing on, and which provider answered.
fn response_headers(upstream_response: &UpstreamResponse, provider: &LiveProvider) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in upstream_response.headers() {
        if upstream::is_forwarded_response_header(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(&provider.config.name) {
        headers.insert("x-switchboard-provider", value);
    }
    headers
}

fn content_type(upstream_response: &UpstreamResponse) -> String {
    upstream_response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Reads a whole answer: JSON, within the total timeout and the size limit.
async fn read_json_answer(
    live: &LiveState,
    provider: &LiveProvider,
    url: &Uri,
    upstream_response: UpstreamResponse,
    started: Instant,
) -> Result<Bytes, GatewayError> {
    let content_type = content_type(&upstream_response);
    // A 200 that is not JSON (a captive portal, a proxy's HTML page) is not an answer.
    if !content_type.is_empty() && !content_type.contains("json") {
        return Err(GatewayError::UpstreamProtocol(format!(
            "provider `{}` answered with content type `{content_type}` instead of JSON",
            provider.config.name
        )));
    }
    let total = live.config.timeouts.total;
    let remaining = total.saturating_sub(started.elapsed());
    tokio::time::timeout(remaining, read_limited(upstream_response, provider, url))
        .await
        .map_err(|_| timeout_error(provider, "timeouts.total", total))?
}

/// Frames the provider's stream and waits for its first event: failures until then stay proper
/// HTTP errors (the 200 is not committed yet).
async fn first_event(
    live: &LiveState,
    provider: &LiveProvider,
    upstream_response: UpstreamResponse,
    started: Instant,
) -> Result<(stream::UpstreamEvents, Event), GatewayError> {
    let content_type = content_type(&upstream_response);
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
    let mut events = client::body_stream(upstream_response).eventsource().boxed();
    let first_byte = live.config.timeouts.first_byte;
    match tokio::time::timeout_at(started + first_byte, events.next()).await {
        Err(_) => Err(timeout_error(provider, "timeouts.first_byte", first_byte)),
        Ok(None) => Err(GatewayError::UpstreamProtocol(format!(
            "provider `{}` closed the stream before sending anything",
            provider.config.name
        ))),
        Ok(Some(Err(err))) => Err(GatewayError::UpstreamProtocol(format!(
            "provider `{}` sent a broken stream: {err}",
            provider.config.name
        ))),
        Ok(Some(Ok(event))) => Ok((events, event)),
    }
}

/// Handles the first event and, unless it is an error, commits the 200 and relays the rest.
fn start_relay(
    call: &Call<'_>,
    events: stream::UpstreamEvents,
    first: Event,
    mut handler: stream::EventHandler,
    mut headers: HeaderMap,
    recorder: &mut RequestRecorder,
) -> Result<Response, GatewayError> {
    let handled = handler.handle(&first, recorder);
    if let Some(error) = handled.error {
        return Err(GatewayError::Upstream {
            status: StatusCode::BAD_GATEWAY,
            message: format!(
                "provider `{}` answered with an error: {error}",
                call.provider.config.name
            ),
            error_type: None,
            code: None,
            retry_after: None,
        });
    }
    recorder.first_byte(200);
    let relay = stream::Relay {
        events,
        first: handled.out,
        handler,
        recorder: std::mem::replace(recorder, RequestRecorder::detached()),
        timeouts: call.live.config.timeouts,
        provider: call.provider.config.name.clone(),
    };
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let mut response = Response::new(Body::from_stream(relay.into_stream()));
    *response.headers_mut() = headers;
    Ok(response)
}

fn json_response(body: impl Into<Body>, mut headers: HeaderMap) -> Response {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut response = Response::new(body.into());
    *response.headers_mut() = headers;
    response
}

/// Sends the request and waits for the status line; a non-2xx answer becomes an error that keeps
/// the provider's status and message. Nothing has reached the client yet, so this is where a
/// retry or fallback would go.
async fn send(
    live: &LiveState,
    provider: &LiveProvider,
    url: &Uri,
    client_headers: &HeaderMap,
    body: Vec<u8>,
    stream: bool,
) -> Result<UpstreamResponse, GatewayError> {
    let timeouts = live.config.timeouts;
    let headers = upstream::upstream_headers(client_headers, provider, stream);
    let request = live.http.post(url, headers, body.into());
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
    response: UpstreamResponse,
    provider: &LiveProvider,
    url: &Uri,
) -> Result<Bytes, GatewayError> {
    if client::content_length(&response).is_some_and(|len| len <= MAX_RESPONSE_BYTES as u64) {
        // The length is known and within the limit (hyper holds the provider to it): take the
        // body as it arrives, without copying it into a buffer of our own.
        return client::body_bytes(response)
            .await
            .map_err(|e| upstream::send_error(&provider.config.name, url, &e));
    }
    let mut body = bytes::BytesMut::new();
    let mut stream = std::pin::pin!(client::body_stream(response));
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
