//! The rows the store hands out (requests, sessions, usage totals) and the queries that select
//! them. All serialize with snake_case fields and times in Unix milliseconds.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Row, ToSql};
use serde::{Deserialize, Serialize};

use crate::outcome::OutcomeStatus;
use crate::usage::Usage;

/// Why a session is or is not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    /// Closed by the gateway after `sessions.idle_timeout` without a request.
    IdleClosed,
    /// Closed from the UI or the admin API.
    ClosedByUser,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::IdleClosed => "idle_closed",
            SessionStatus::ClosedByUser => "closed_by_user",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<SessionStatus> {
        match text {
            "active" => Some(SessionStatus::Active),
            "idle_closed" => Some(SessionStatus::IdleClosed),
            "closed_by_user" => Some(SessionStatus::ClosedByUser),
            _ => None,
        }
    }
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Ok,
    UpstreamError,
    ClientDisconnected,
    GatewayError,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Ok => "ok",
            RequestStatus::UpstreamError => "upstream_error",
            RequestStatus::ClientDisconnected => "client_disconnected",
            RequestStatus::GatewayError => "gateway_error",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<RequestStatus> {
        match text {
            "ok" => Some(RequestStatus::Ok),
            "upstream_error" => Some(RequestStatus::UpstreamError),
            "client_disconnected" => Some(RequestStatus::ClientDisconnected),
            "gateway_error" => Some(RequestStatus::GatewayError),
            _ => None,
        }
    }
}

impl From<OutcomeStatus> for RequestStatus {
    fn from(status: OutcomeStatus) -> RequestStatus {
        match status {
            OutcomeStatus::Ok => RequestStatus::Ok,
            OutcomeStatus::UpstreamError => RequestStatus::UpstreamError,
            OutcomeStatus::ClientDisconnected => RequestStatus::ClientDisconnected,
            OutcomeStatus::GatewayError => RequestStatus::GatewayError,
        }
    }
}

/// One stored request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestRow {
    /// The gateway's request id (`req_…`).
    pub id: String,
    /// `None` for requests that were never routed (unreadable body, unknown model).
    pub session_id: Option<String>,
    pub started_at: i64,
    /// The client program, from its user agent (`claude-cli/2.1.197`), or `unknown`.
    pub client: String,
    pub client_model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub endpoint: String,
    pub stream: bool,
    pub status: RequestStatus,
    pub http_status: u16,
    pub error: Option<String>,
    pub ttfb_ms: Option<u64>,
    pub duration_ms: u64,
    pub usage: Usage,
    /// `reported` (by the provider), `estimated:<tokenizer>`, or `none`.
    pub usage_source: String,
    /// `None` when the cost is unknown (no price for the model, or no usage); never a guessed 0.
    pub cost_usd: Option<f64>,
}

/// One session: a client's consecutive requests to one model, with running totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub client: String,
    pub client_model: String,
    /// The provider of the latest request.
    pub provider: String,
    /// Start of its earliest request.
    pub created_at: i64,
    /// End of the latest request.
    pub last_active_at: i64,
    pub closed_at: Option<i64>,
    pub status: SessionStatus,
    pub request_count: u64,
    pub error_count: u64,
    pub usage: Usage,
    /// Sum of the known costs; see `unpriced_requests` for how many are missing from it.
    pub cost_usd: f64,
    pub unpriced_requests: u64,
    /// Input tokens of the latest request that reported or estimated usage.
    pub last_input_tokens: u64,
    /// The model's context window: `models.<id>.max_context_size`, else the price table's.
    pub context_limit: Option<u64>,
    /// `last_input_tokens / context_limit`.
    pub context_fill: Option<f64>,
}

/// Usage totals for one group (model, provider, day or session).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UsageRow {
    /// The model id, provider name, `YYYY-MM-DD` (UTC) or session id; `""` groups requests that
    /// have none (e.g. never routed).
    pub key: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
    /// Sum of the known costs.
    pub cost_usd: f64,
    /// Requests whose cost is unknown, so not in `cost_usd`.
    pub unpriced_requests: u64,
}

/// One page of a list, newest first; pass `next_cursor` back for the next page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The most rows one page holds.
pub const MAX_PAGE: u32 = 500;
const DEFAULT_PAGE: u32 = 50;

pub(crate) fn page_limit(limit: u32) -> u32 {
    match limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    }
}

/// Which sessions to list (newest activity first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SessionQuery {
    pub status: Option<SessionStatus>,
    pub model: Option<String>,
    /// 1 to 500; 0 means the default (50).
    pub limit: u32,
    pub cursor: Option<String>,
}

/// Which requests to list (newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RequestQuery {
    pub session: Option<String>,
    pub model: Option<String>,
    pub status: Option<RequestStatus>,
    /// Only requests started at or after this time (Unix ms).
    pub since: Option<i64>,
    /// 1 to 500; 0 means the default (50).
    pub limit: u32,
    pub cursor: Option<String>,
}

/// How `StoreReader::usage` groups its totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Model,
    Provider,
    Day,
    Session,
}

impl ToSql for SessionStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for SessionStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        SessionStatus::parse(value.as_str()?).ok_or(FromSqlError::InvalidType)
    }
}

impl ToSql for RequestStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for RequestStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        RequestStatus::parse(value.as_str()?).ok_or(FromSqlError::InvalidType)
    }
}

/// The `sessions` columns in the order `SessionRow::from_sql` reads them.
pub(crate) const SESSION_COLUMNS: &str = "id, client, client_model, provider, created_at, \
    last_active_at, closed_at, status, request_count, error_count, input_tokens, output_tokens, \
    cached_input_tokens, cache_write_tokens, reasoning_tokens, cost_usd, unpriced_requests, \
    last_input_tokens, context_limit, context_fill";

impl SessionRow {
    pub(crate) fn from_sql(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
        Ok(SessionRow {
            id: row.get(0)?,
            client: row.get(1)?,
            client_model: row.get(2)?,
            provider: row.get(3)?,
            created_at: row.get(4)?,
            last_active_at: row.get(5)?,
            closed_at: row.get(6)?,
            status: row.get(7)?,
            request_count: row.get(8)?,
            error_count: row.get(9)?,
            usage: Usage {
                input_tokens: row.get(10)?,
                output_tokens: row.get(11)?,
                cached_input_tokens: row.get(12)?,
                cache_write_tokens: row.get(13)?,
                reasoning_tokens: row.get(14)?,
            },
            cost_usd: row.get(15)?,
            unpriced_requests: row.get(16)?,
            last_input_tokens: row.get(17)?,
            context_limit: row.get(18)?,
            context_fill: row.get(19)?,
        })
    }
}

/// The `requests` columns in the order `RequestRow::from_sql` reads them.
pub(crate) const REQUEST_COLUMNS: &str = "request_uid, session_id, started_at, client, \
    client_model, provider, upstream_model, endpoint, stream, status, http_status, error, ttfb_ms, \
    duration_ms, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, \
    reasoning_tokens, usage_source, cost_usd";

/// How many columns `REQUEST_COLUMNS` has; queries may select more after them.
pub(crate) const REQUEST_COLUMN_COUNT: usize = 21;

impl RequestRow {
    pub(crate) fn from_sql(row: &Row<'_>) -> rusqlite::Result<RequestRow> {
        Ok(RequestRow {
            id: row.get(0)?,
            session_id: row.get(1)?,
            started_at: row.get(2)?,
            client: row.get(3)?,
            client_model: row.get(4)?,
            provider: row.get(5)?,
            upstream_model: row.get(6)?,
            endpoint: row.get(7)?,
            stream: row.get(8)?,
            status: row.get(9)?,
            http_status: row.get(10)?,
            error: row.get(11)?,
            ttfb_ms: row.get(12)?,
            duration_ms: row.get(13)?,
            usage: Usage {
                input_tokens: row.get(14)?,
                output_tokens: row.get(15)?,
                cached_input_tokens: row.get(16)?,
                cache_write_tokens: row.get(17)?,
                reasoning_tokens: row.get(18)?,
            },
            usage_source: row.get(19)?,
            cost_usd: row.get(20)?,
        })
    }
}

impl UsageRow {
    /// Reads `key, requests, errors, <five token counts>, cost_usd, unpriced_requests`.
    pub(crate) fn from_sql(row: &Row<'_>) -> rusqlite::Result<UsageRow> {
        Ok(UsageRow {
            key: row.get(0)?,
            requests: row.get(1)?,
            errors: row.get(2)?,
            input_tokens: row.get(3)?,
            output_tokens: row.get(4)?,
            cached_input_tokens: row.get(5)?,
            cache_write_tokens: row.get(6)?,
            reasoning_tokens: row.get(7)?,
            cost_usd: row.get(8)?,
            unpriced_requests: row.get(9)?,
        })
    }
}
