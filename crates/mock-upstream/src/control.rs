//! The control API under `/_mock/*` (for the binary and non-Rust tests): recordings, faults, config.
//! These requests are neither recorded nor faulted.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::StatusCode;

use crate::config::MockConfig;
use crate::faults::Fault;
use crate::recording::RecordedRequestView;
use crate::server::Shared;

type AppState = State<Arc<Shared>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/requests", get(list_requests).delete(clear_requests))
        .route("/faults", post(push_fault).delete(clear_faults))
        .route("/config", get(get_config).put(put_config))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "unknown mock-upstream control endpoint\n",
            )
        })
}

/// `GET /_mock/requests`: every recorded request, oldest first.
async fn list_requests(State(shared): AppState) -> Response {
    let records = shared.recorder.snapshot();
    let views: Vec<RecordedRequestView<'_>> = records.iter().map(Into::into).collect();
    Json(views).into_response()
}

/// `DELETE /_mock/requests`.
async fn clear_requests(State(shared): AppState) -> StatusCode {
    shared.recorder.clear();
    StatusCode::NO_CONTENT
}

/// `POST /_mock/faults` with a JSON [`Fault`]: queued for the next request.
async fn push_fault(State(shared): AppState, body: Bytes) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => {
            shared.faults.push(fault);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => invalid_body(&e),
    }
}

/// `DELETE /_mock/faults`: drops every queued fault.
async fn clear_faults(State(shared): AppState) -> StatusCode {
    shared.faults.clear();
    StatusCode::NO_CONTENT
}

/// `GET /_mock/config`.
async fn get_config(State(shared): AppState) -> Response {
    Json(MockConfig::clone(&shared.config.load())).into_response()
}

/// `PUT /_mock/config` with a JSON [`MockConfig`] (missing fields take their defaults).
async fn put_config(State(shared): AppState, body: Bytes) -> Response {
    match serde_json::from_slice::<MockConfig>(&body) {
        Ok(config) => {
            shared.config.store(Arc::new(config.clone()));
            Json(config).into_response()
        }
        Err(e) => invalid_body(&e),
    }
}

fn invalid_body(error: &serde_json::Error) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("mock-upstream: invalid control body: {error}\n"),
    )
        .into_response()
}
