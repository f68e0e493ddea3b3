//! The admin API under `/admin/api/` for the UI and the tray: status, sessions, requests, usage
//! and live events. Every call needs the admin token (`Authorization: Bearer …`, or `?token=`
//! where headers cannot be set, as with `EventSource`); no cross-origin caller is served.

mod events;
mod handlers;
pub mod params;
pub mod token;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::server::AppState;

pub(crate) fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/api/status", get(handlers::status))
        .route("/admin/api/sessions", get(handlers::sessions))
        .route("/admin/api/sessions/cleanup", post(handlers::cleanup))
        .route(
            "/admin/api/sessions/{id}",
            get(handlers::session).delete(handlers::delete_session),
        )
        .route(
            "/admin/api/sessions/{id}/close",
            post(handlers::close_session),
        )
        .route("/admin/api/requests", get(handlers::requests))
        .route("/admin/api/usage", get(handlers::usage))
        .route("/admin/api/events", get(events::events))
        .route_layer(axum::middleware::from_fn_with_state(state, require_admin))
}

/// An admin API error: `{"error":{"message","code"}}` with its status.
pub(crate) struct AdminError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl AdminError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AdminError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_param(message: impl Into<String>) -> Self {
        AdminError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "message": self.message, "code": self.code } });
        (self.status, axum::Json(body)).into_response()
    }
}

fn presented_token(request: &Request) -> Option<String> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned());
    bearer.or_else(|| {
        request.uri().query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("token=").map(|t| t.to_owned()))
        })
    })
}

async fn require_admin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(accounting) = state.accounting.as_ref() else {
        return AdminError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_data_dir",
            "the admin API needs a data directory; start the gateway with one",
        )
        .into_response();
    };
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let allowed_hosts = state.live.load().config.server.allowed_hosts.clone();
        if !crate::server::is_local_origin(origin, &allowed_hosts) {
            return AdminError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                format!("the admin API is not served to other web pages (Origin `{origin}`)"),
            )
            .into_response();
        }
    }
    let ok = presented_token(&request).is_some_and(|t| token::matches(&accounting.admin_token, &t));
    if !ok {
        return AdminError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_admin_token",
            "the admin API needs the admin token (`Authorization: Bearer TOKEN`); it is in the \
             data dir's `admin-token` file, and in the dashboard URL `switchboard serve` prints",
        )
        .into_response();
    }
    next.run(request).await
}
