//! Live events for the UI: a request started (sent by the request path), and — after the
//! writer has committed them — finished requests and opened or closed sessions.

use serde::Serialize;

use super::rows::{RequestRow, SessionRow};

/// One event, serialized with its name in `type` (`{"type":"request.finished", …}`).
///
/// The payloads are boxed: the event channel (`broadcast`, 4,096 slots) allocates and writes
/// every slot up front, so the size of this enum is memory every gateway holds from its start
/// (the rows inline made a slot 336 bytes, 1.3 MiB in all; boxed it is 16 bytes).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type")]
pub enum LiveEvent {
    /// Sent by the request path as soon as a request is read; nothing is stored yet.
    #[serde(rename = "request.started")]
    RequestStarted(Box<RequestStarted>),
    /// The stored request row, with its session, usage and cost.
    #[serde(rename = "request.finished")]
    RequestFinished(Box<RequestRow>),
    /// A new session, or a closed one reopened by a client-provided session id.
    #[serde(rename = "session.opened")]
    SessionOpened(Box<SessionRow>),
    /// `status` says why: `idle_closed` or `closed_by_user`.
    #[serde(rename = "session.closed")]
    SessionClosed(Box<SessionRow>),
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

#[cfg(test)]
mod tests {
    use super::LiveEvent;

    #[test]
    fn an_event_is_two_words() {
        // Every slot of the event channel holds one, allocated at start (see `LiveEvent`).
        assert_eq!(size_of::<LiveEvent>(), 2 * size_of::<usize>());
    }
}
