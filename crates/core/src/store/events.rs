//! Live events for the UI: a request started (sent by the request path), and — after the
//! writer has committed them — finished requests and opened or closed sessions.

use serde::Serialize;

use super::rows::{RequestRow, SessionRow};

/// One event, serialized with its name in `type` (`{"type":"request.finished", …}`).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type")]
pub enum LiveEvent {
    /// Sent by the request path as soon as a request is read; nothing is stored yet.
    #[serde(rename = "request.started")]
    RequestStarted(RequestStarted),
    /// The stored request row, with its session, usage and cost.
    #[serde(rename = "request.finished")]
    RequestFinished(RequestRow),
    /// A new session, or a closed one reopened by a client-provided session id.
    #[serde(rename = "session.opened")]
    SessionOpened(SessionRow),
    /// `status` says why: `idle_closed` or `closed_by_user`.
    #[serde(rename = "session.closed")]
    SessionClosed(SessionRow),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestStarted {
    /// The gateway's request id (`req_…`), the same as in `request.finished`.
    pub id: String,
    /// Unix ms.
    pub time: i64,
    pub client: String,
    pub client_model: Option<String>,
    pub endpoint: String,
    pub stream: bool,
}
