//! Admin API handlers: parse parameters, ask the store (readers off the async runtime, changes
//! through the single writer), render JSON.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AdminError;
use super::params::{ParamError, Params};
use crate::accounting::service::Accounting;
use crate::server::AppState;
use crate::store::{
    CommandReply, GroupBy, RequestQuery, RequestStatus, SessionQuery, SessionStatus, StoreError,
    StoreReader, WriterCommand,
};

type Result<T> = std::result::Result<T, AdminError>;

impl From<ParamError> for AdminError {
    fn from(err: ParamError) -> Self {
        AdminError::bad_param(err.0)
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::SessionNotFound(_) => {
                AdminError::new(StatusCode::NOT_FOUND, "not_found", err.to_string())
            }
            StoreError::InvalidCursor(_) => {
                AdminError::bad_param(format!("`cursor` is not one this API handed out: {err}"))
            }
            other => AdminError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                other.to_string(),
            ),
        }
    }
}

fn accounting(state: &AppState) -> Result<&Accounting> {
    state.accounting.as_deref().ok_or_else(|| {
        AdminError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_data_dir",
            "no usage database",
        )
    })
}

/// Runs a read on its own connection, off the async runtime.
async fn read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&StoreReader) -> std::result::Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    let store = accounting(state)?.store.clone();
    tokio::task::spawn_blocking(move || f(&store.reader()?))
        .await
        .map_err(|e| AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(AdminError::from)
}

fn session_status(params: &Params) -> Result<Option<SessionStatus>> {
    Ok(params
        .choice("status", &["active", "idle_closed", "closed_by_user"])?
        .map(|s| match s {
            "active" => SessionStatus::Active,
            "idle_closed" => SessionStatus::IdleClosed,
            _ => SessionStatus::ClosedByUser,
        }))
}

fn request_status(params: &Params) -> Result<Option<RequestStatus>> {
    Ok(params
        .choice(
            "status",
            &[
                "ok",
                "upstream_error",
                "client_disconnected",
                "gateway_error",
            ],
        )?
        .map(|s| match s {
            "ok" => RequestStatus::Ok,
            "upstream_error" => RequestStatus::UpstreamError,
            "client_disconnected" => RequestStatus::ClientDisconnected,
            _ => RequestStatus::GatewayError,
        }))
}

pub(super) async fn status(State(state): State<Arc<AppState>>) -> Result<Response> {
    let requests_today = read(&state, |r| r.requests_today()).await?;
    let live = state.live.load();
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
        "listen": state.listen.to_string(),
        "base_url": format!("http://{}", state.listen),
        "config_path": live.config.path.as_ref().map(|p| p.display().to_string()),
        "data_dir": state.accounting.as_ref().map(|a| a.data_dir.display().to_string()),
        "provider_count": live.config.providers.len(),
        "model_count": live.config.models.len(),
        "sessions": {
            "idle_timeout_secs": live.config.sessions.idle_timeout.as_secs(),
            "retention_days": live.config.sessions.retention_days,
        },
        "requests_today": requests_today,
    }))
    .into_response())
}

pub(super) async fn sessions(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response> {
    let params = Params::new(query);
    let query = SessionQuery {
        status: session_status(&params)?,
        model: params.text("model").map(str::to_owned),
        limit: params.limit(50, 500)?,
        cursor: params.text("cursor").map(str::to_owned),
    };
    let page = read(&state, move |r| r.sessions(&query)).await?;
    Ok(Json(page).into_response())
}

pub(super) async fn session(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response> {
    let wanted = id.clone();
    match read(&state, move |r| r.session(&wanted)).await? {
        Some((session, requests)) => {
            Ok(Json(json!({ "session": session, "requests": requests })).into_response())
        }
        None => Err(AdminError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("unknown session `{id}`"),
        )),
    }
}

pub(super) async fn close_session(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response> {
    match accounting(&state)?
        .writer
        .command(WriterCommand::CloseSession(id))
        .await?
    {
        CommandReply::SessionClosed(session) => {
            Ok(Json(json!({ "session": session })).into_response())
        }
        other => Ok(Json(json!({ "result": format!("{other:?}") })).into_response()),
    }
}

pub(super) async fn delete_session(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response> {
    match accounting(&state)?
        .writer
        .command(WriterCommand::DeleteSession(id.clone()))
        .await?
    {
        CommandReply::SessionDeleted { deleted_requests } => Ok(Json(json!({
            "deleted_session": id,
            "deleted_requests": deleted_requests,
        }))
        .into_response()),
        other => Ok(Json(json!({ "result": format!("{other:?}") })).into_response()),
    }
}

/// Closes idle sessions now and deletes closed ones older than `older_than_days` (default: the
/// configured `sessions.retention_days`).
pub(super) async fn cleanup(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response> {
    let params = Params::new(query);
    let days = match params.text("older_than_days") {
        None => None,
        Some(raw) => Some(raw.parse::<u32>().map_err(|_| {
            AdminError::bad_param(format!(
                "`older_than_days` must be a whole number of days, not `{raw}`"
            ))
        })?),
    };
    let accounting = accounting(&state)?;
    let days = days.unwrap_or(accounting.config.load().sessions.retention_days);
    let command = WriterCommand::Cleanup {
        close_idle: true,
        delete_closed_older_than_days: Some(days),
    };
    match accounting.writer.command(command).await? {
        CommandReply::Cleanup(report) => Ok(Json(json!({
            "closed_sessions": report.closed_sessions,
            "deleted_sessions": report.deleted_sessions,
            "deleted_requests": report.deleted_requests,
            "older_than_days": days,
        }))
        .into_response()),
        other => Ok(Json(json!({ "result": format!("{other:?}") })).into_response()),
    }
}

pub(super) async fn requests(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response> {
    let params = Params::new(query);
    let query = RequestQuery {
        session: params.text("session").map(str::to_owned),
        model: params.text("model").map(str::to_owned),
        status: request_status(&params)?,
        since: params.time("since")?,
        limit: params.limit(50, 500)?,
        cursor: params.text("cursor").map(str::to_owned),
    };
    let page = read(&state, move |r| r.requests(&query)).await?;
    Ok(Json(page).into_response())
}

pub(super) async fn usage(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response> {
    let params = Params::new(query);
    let group_by = match params.choice("group_by", &["model", "provider", "day", "session"])? {
        None | Some("model") => GroupBy::Model,
        Some("provider") => GroupBy::Provider,
        Some("day") => GroupBy::Day,
        Some(_) => GroupBy::Session,
    };
    let since = params.time("since")?;
    let until = params.time("until")?;
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        return Err(AdminError::bad_param("`since` must not be after `until`"));
    }
    let rows = read(&state, move |r| r.usage(group_by, since, until)).await?;
    Ok(
        Json(json!({ "group_by": params.text("group_by").unwrap_or("model"), "rows": rows }))
            .into_response(),
    )
}
