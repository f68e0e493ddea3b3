//! Thin HTTP handlers: read the request, call the core, render the answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use crate::error::GatewayError;
use crate::outcome::{Endpoint, OutcomeStatus, RequestRecorder};
use crate::proxy;

pub(super) async fn health(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
    }))
    .into_response()
}

/// Every configured client id, in OpenAI's list shape — or in Anthropic's, for clients that
/// send `anthropic-version`.
pub(super) async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let live = state.live.load();
    if headers.contains_key("anthropic-version") {
        let data: Vec<_> = live
            .config
            .models
            .keys()
            .map(|id| {
                json!({ "type": "model", "id": id, "display_name": id, "created_at": "1970-01-01T00:00:00Z" })
            })
            .collect();
        let first_id = live.config.models.keys().next();
        let last_id = live.config.models.keys().next_back();
        return Json(
            json!({ "data": data, "has_more": false, "first_id": first_id, "last_id": last_id }),
        )
        .into_response();
    }
    let data: Vec<_> = live
        .config
        .models
        .iter()
        .map(|(id, model)| {
            json!({ "id": id, "object": "model", "created": 0, "owned_by": model.provider })
        })
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

pub(super) async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy_json(state, Endpoint::ChatCompletions, headers, body).await
}

pub(super) async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy_json(state, Endpoint::Messages, headers, body).await
}

pub(super) async fn count_tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy_json(state, Endpoint::CountTokens, headers, body).await
}

pub(super) async fn responses(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy_json(state, Endpoint::Responses, headers, body).await
}

pub(super) async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    proxy_json(state, Endpoint::Embeddings, headers, body).await
}

async fn proxy_json(
    state: Arc<AppState>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let live = state.live.load_full();
    let mut recorder = RequestRecorder::start(state.outcomes.clone(), endpoint, &headers);
    let limit = live.config.server.max_request_bytes;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(err) => {
            let err = if is_length_limit(&err) {
                GatewayError::PayloadTooLarge { limit }
            } else {
                GatewayError::bad_request(format!("could not read the request body: {err}"))
            };
            recorder.finish_err(
                OutcomeStatus::GatewayError,
                err.status().as_u16(),
                err.to_string(),
            );
            return err.into_dialect_response(endpoint.dialect());
        }
    };
    proxy::forward(live, endpoint, headers, body, recorder).await
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

pub(super) async fn not_found(method: Method, uri: Uri) -> Response {
    GatewayError::NotFound(format!(
        "no such endpoint: {method} {}; Switchboard serves /v1/chat/completions, /v1/messages, /v1/messages/count_tokens, /v1/responses, /v1/embeddings, /v1/models and /health",
        uri.path()
    ))
    .into_response()
}

pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let mut response =
        GatewayError::bad_request(format!("{method} is not supported on {}", uri.path()))
            .into_response();
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    response
}
