//! Fault injection: the [`Fault`] kinds, their FIFO queue, and how each one bends a reply.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::reply::{BodyPlan, Reply, with_content_type};

/// A misbehaviour to inject into one response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// An error status with a body in the dialect's error shape, plus `retry-after` when given.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<u64>,
        #[serde(default)]
        message: Option<String>,
    },
    /// Sleep this long before sending the response headers.
    DelayFirstByte { ms: u64 },
    /// Send this many SSE events (half of a JSON body), then abort the connection: no `[DONE]`.
    DisconnectAfter { chunks: usize },
    /// After this many good SSE events send one whose data is `{not json`, then continue (a JSON
    /// body is invalid).
    MalformedChunk { after: usize },
    /// After this many good SSE events send the dialect's mid-stream error and end the stream:
    /// Anthropic `event: error` (`overloaded_error`), OpenAI `data: {"error":{…}}`, Gemini
    /// `data: {"error":{…}}` (`UNAVAILABLE`). A JSON reply becomes that error with its status.
    StreamError { after: usize },
    /// The model stops early for safety: the reply carries the first half of its text (never a
    /// tool call) and ends with OpenAI `finish_reason: "content_filter"`, Anthropic
    /// `stop_reason: "refusal"`, or Gemini `finishReason: "SAFETY"`.
    Refusal,
    /// `200 OK` with `content-type: text/html` and an HTML page, like a misconfigured proxy.
    WrongContentType,
    /// Never answer, until the client gives up or the mock shuts down.
    Hang,
}

/// How one wire format spells errors and broken streams; faults bend replies with it.
pub(crate) struct Dialect {
    /// An error response in the dialect's native shape.
    pub error_response: fn(StatusCode, &str) -> Response,
    /// The event [`Fault::MalformedChunk`] inserts: framed like the dialect's events, data `{not json`.
    pub malformed_event: &'static [u8],
    /// The event [`Fault::StreamError`] ends a stream with.
    pub stream_error_event: &'static [u8],
    /// The status a JSON reply gets under [`Fault::StreamError`].
    pub stream_error_status: u16,
}

/// Queued faults; each request outside `/_mock/*` takes the oldest one.
#[derive(Default)]
pub(crate) struct FaultQueue {
    queue: Mutex<VecDeque<Fault>>,
    /// Mirrors the queue's length so that the hot path skips the lock when nothing is queued.
    pending: AtomicUsize,
}

impl FaultQueue {
    pub fn push(&self, fault: Fault) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.push_back(fault);
        self.pending.store(queue.len(), Ordering::Release);
    }

    pub fn pop(&self) -> Option<Fault> {
        if self.pending.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let fault = queue.pop_front();
        self.pending.store(queue.len(), Ordering::Release);
        fault
    }

    pub fn clear(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.clear();
        self.pending.store(0, Ordering::Release);
    }
}

/// Turns a planned reply into the response, bent by `fault` when there is one.
pub(crate) async fn respond(
    reply: Reply,
    fault: Option<Fault>,
    gap: Duration,
    dialect: &Dialect,
    shutdown: &CancellationToken,
) -> Response {
    let Some(fault) = fault else {
        return reply.into_response(gap, BodyPlan::Clean);
    };
    match fault {
        // The dialect handler already shaped the reply.
        Fault::Refusal => reply.into_response(gap, BodyPlan::Clean),
        Fault::Status {
            status,
            retry_after,
            message,
        } => status_response(
            status,
            retry_after,
            message.as_deref(),
            dialect.error_response,
        ),
        Fault::DelayFirstByte { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            reply.into_response(gap, BodyPlan::Clean)
        }
        Fault::DisconnectAfter { chunks } => {
            reply.into_response(gap, BodyPlan::DisconnectAfter(chunks))
        }
        Fault::MalformedChunk { after } => reply.into_response(
            gap,
            BodyPlan::MalformedAfter(after, dialect.malformed_event),
        ),
        Fault::StreamError { after } => match reply {
            Reply::Sse(_) => {
                reply.into_response(gap, BodyPlan::ErrorAfter(after, dialect.stream_error_event))
            }
            Reply::Json { .. } => status_response(
                dialect.stream_error_status,
                None,
                None,
                dialect.error_response,
            ),
        },
        Fault::WrongContentType => with_content_type(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Body::from(WRONG_CONTENT_PAGE),
        ),
        Fault::Hang => {
            shutdown.cancelled().await;
            (dialect.error_response)(
                StatusCode::SERVICE_UNAVAILABLE,
                "mock-upstream is shutting down",
            )
        }
    }
}

const WRONG_CONTENT_PAGE: &str = "<html>\r\n<head><title>Welcome</title></head>\r\n\
<body><h1>It works!</h1><p>This is not the API you are looking for.</p></body>\r\n</html>\r\n";

fn status_response(
    status: u16,
    retry_after: Option<u64>,
    message: Option<&str>,
    render_error: fn(StatusCode, &str) -> Response,
) -> Response {
    let Ok(status) = StatusCode::from_u16(status) else {
        return render_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("mock-upstream: fault status `{status}` is not an HTTP status code"),
        );
    };
    let message = message.unwrap_or_else(|| default_message(status));
    let mut response = render_error(status, message);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request (injected by mock-upstream).",
        401 => "Incorrect API key provided (injected by mock-upstream).",
        403 => "Forbidden (injected by mock-upstream).",
        404 => "Not found (injected by mock-upstream).",
        429 => "Rate limit reached (injected by mock-upstream).",
        503 | 529 => "The server is overloaded (injected by mock-upstream).",
        _ if status.is_server_error() => "The server had an error (injected by mock-upstream).",
        _ => "Injected error (mock-upstream).",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_is_fifo() {
        let queue = FaultQueue::default();
        assert_eq!(queue.pop(), None);
        queue.push(Fault::Hang);
        queue.push(Fault::WrongContentType);
        assert_eq!(queue.pop(), Some(Fault::Hang));
        assert_eq!(queue.pop(), Some(Fault::WrongContentType));
        assert_eq!(queue.pop(), None);
        queue.push(Fault::Hang);
        queue.clear();
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn wire_names_are_kebab_case() {
        let fault: Fault =
            serde_json::from_str(r#"{"kind":"status","status":429,"retry_after":2}"#).unwrap();
        assert_eq!(
            fault,
            Fault::Status {
                status: 429,
                retry_after: Some(2),
                message: None
            }
        );
        let json = serde_json::to_string(&Fault::DisconnectAfter { chunks: 2 }).unwrap();
        assert_eq!(json, r#"{"kind":"disconnect-after","chunks":2}"#);
        let json = serde_json::to_string(&Fault::WrongContentType).unwrap();
        assert_eq!(json, r#"{"kind":"wrong-content-type"}"#);
        let json = serde_json::to_string(&Fault::StreamError { after: 3 }).unwrap();
        assert_eq!(json, r#"{"kind":"stream-error","after":3}"#);
    }
}
