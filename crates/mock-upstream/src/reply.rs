//! Dialect-neutral reply bodies (JSON or SSE events) and how they go on the wire: pacing and body faults.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::recording::{SentUsage, Usage, UsageDetails};

/// Content type of JSON replies (OpenAI, Anthropic).
pub(crate) const JSON: &str = "application/json";
/// Content type of SSE replies as OpenAI and Anthropic send it.
const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";
/// Pause before an injected disconnect, so that the bytes already produced reach the socket first.
const FLUSH_GRACE: Duration = Duration::from_millis(10);

/// What a dialect handler produced for one request.
pub(crate) struct Outcome {
    pub reply: Reply,
    /// The usage reported, or that would have been reported; recorded with the request.
    pub usage: Option<SentUsage>,
}

impl Outcome {
    /// A JSON reply with `content-type: application/json`.
    pub fn json(status: StatusCode, body: Bytes, usage: Option<Usage>) -> Self {
        Self {
            reply: Reply::Json {
                status,
                content_type: JSON,
                body,
            },
            usage: usage.map(SentUsage::from),
        }
    }

    /// A reply whose usage comes with a dialect's breakdown.
    pub fn with_details(reply: Reply, usage: Usage, details: UsageDetails) -> Self {
        Self {
            reply,
            usage: Some(SentUsage {
                usage,
                details: Some(details),
            }),
        }
    }
}

/// A reply body as planned, before faults and pacing apply.
pub(crate) enum Reply {
    Json {
        status: StatusCode,
        content_type: &'static str,
        body: Bytes,
    },
    Sse(SseEvents),
}

/// How faults reshape a reply body on the wire.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BodyPlan {
    Clean,
    /// Send this many SSE events (or half of a JSON body), then abort the connection.
    DisconnectAfter(usize),
    /// Insert this malformed event after this many good ones (a JSON body becomes invalid).
    MalformedAfter(usize, &'static [u8]),
    /// Send this many SSE events, then this error event, then end the stream cleanly.
    /// (A JSON body has no middle to fail in; the fault machinery answers with an error instead.)
    ErrorAfter(usize, &'static [u8]),
}

/// SSE events serialized back to back in one buffer; `ends` marks where each event stops.
pub(crate) struct SseEvents {
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// What ends each line: `\n`, or `\r\n` as Google sends.
    eol: &'static [u8],
    content_type: &'static str,
}

impl SseEvents {
    /// Events ending in `\n\n`, sent as `text/event-stream; charset=utf-8`.
    pub fn with_capacity(bytes: usize, events: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(events),
            eol: b"\n",
            content_type: EVENT_STREAM,
        }
    }

    /// Ends lines with `\r\n` instead (events then end in `\r\n\r\n`).
    pub fn crlf(mut self) -> Self {
        self.eol = b"\r\n";
        self
    }

    /// Sends the stream with this `content-type`.
    pub fn content_type(mut self, content_type: &'static str) -> Self {
        self.content_type = content_type;
        self
    }

    /// Appends `data: <json>` and a blank line.
    pub fn push_json<T: Serialize>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        self.push_event(None, value)
    }

    /// Appends `event: <name>`, `data: <json>` and a blank line.
    pub fn push_named<T: Serialize>(
        &mut self,
        name: &str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        self.push_event(Some(name), value)
    }

    fn push_event<T: Serialize>(
        &mut self,
        name: Option<&str>,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        let start = self.buf.len();
        if let Some(name) = name {
            self.buf.extend_from_slice(b"event: ");
            self.buf.extend_from_slice(name.as_bytes());
            self.buf.extend_from_slice(self.eol);
        }
        self.buf.extend_from_slice(b"data: ");
        if let Err(e) = serde_json::to_writer(&mut self.buf, value) {
            self.buf.truncate(start);
            return Err(e);
        }
        self.end_event();
        Ok(())
    }

    /// Appends `data: <raw>` and a blank line, e.g. the `[DONE]` sentinel.
    pub fn push_raw(&mut self, data: &str) {
        self.buf.extend_from_slice(b"data: ");
        self.buf.extend_from_slice(data.as_bytes());
        self.end_event();
    }

    fn end_event(&mut self) {
        self.buf.extend_from_slice(self.eol);
        self.buf.extend_from_slice(self.eol);
        self.ends.push(self.buf.len());
    }

    /// The events as cheap slices of one shared buffer.
    fn into_events(self) -> VecDeque<Bytes> {
        let buf = Bytes::from(self.buf);
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let event = buf.slice(start..end);
                start = end;
                event
            })
            .collect()
    }

    fn into_bytes(self) -> Bytes {
        Bytes::from(self.buf)
    }
}

impl Reply {
    /// Renders the reply, paced by `gap` between SSE events and reshaped by `plan`.
    pub fn into_response(self, gap: Duration, plan: BodyPlan) -> Response {
        match self {
            Self::Json {
                status,
                content_type,
                body,
            } => json_response(status, content_type, body, plan),
            Self::Sse(events) => sse_response(events, gap, plan),
        }
    }
}

fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    plan: BodyPlan,
) -> Response {
    let body = match plan {
        BodyPlan::Clean | BodyPlan::ErrorAfter(..) => Body::from(body),
        BodyPlan::DisconnectAfter(_) => {
            let half = body.slice(..body.len() / 2);
            paced_body(VecDeque::from([half]), Duration::ZERO, true)
        }
        BodyPlan::MalformedAfter(..) => Body::from(Bytes::from_static(b"{not json")),
    };
    with_content_type(status, content_type, body)
}

fn sse_response(events: SseEvents, gap: Duration, plan: BodyPlan) -> Response {
    let content_type = events.content_type;
    let body = match plan {
        // The common, benchmarked case: one write, still chunked like a real stream.
        BodyPlan::Clean if gap.is_zero() => {
            paced_body(VecDeque::from([events.into_bytes()]), Duration::ZERO, false)
        }
        BodyPlan::Clean => paced_body(events.into_events(), gap, false),
        BodyPlan::DisconnectAfter(count) => {
            let mut events = events.into_events();
            events.truncate(count);
            paced_body(coalesce_if(gap.is_zero(), events), gap, true)
        }
        BodyPlan::MalformedAfter(count, malformed) => {
            let mut events = events.into_events();
            let at = count.min(events.len());
            events.insert(at, Bytes::from_static(malformed));
            paced_body(coalesce_if(gap.is_zero(), events), gap, false)
        }
        BodyPlan::ErrorAfter(count, error) => {
            let mut events = events.into_events();
            events.truncate(count);
            events.push_back(Bytes::from_static(error));
            paced_body(coalesce_if(gap.is_zero(), events), gap, false)
        }
    };
    let mut response = with_content_type(StatusCode::OK, content_type, body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub(crate) fn with_content_type(
    status: StatusCode,
    content_type: &'static str,
    body: Body,
) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn coalesce_if(coalesce: bool, events: VecDeque<Bytes>) -> VecDeque<Bytes> {
    if !coalesce || events.len() < 2 {
        return events;
    }
    let mut joined = Vec::with_capacity(events.iter().map(Bytes::len).sum());
    for event in &events {
        joined.extend_from_slice(event);
    }
    VecDeque::from([Bytes::from(joined)])
}

/// State of a streamed body: what is left to send, and whether it ends in an abort.
struct Paced {
    segments: VecDeque<Bytes>,
    gap: Duration,
    started: bool,
    fail_at_end: bool,
}

/// A chunked body sending `segments` with `gap` between them, optionally aborting at the end.
fn paced_body(segments: VecDeque<Bytes>, gap: Duration, fail_at_end: bool) -> Body {
    let state = Paced {
        segments,
        gap,
        started: false,
        fail_at_end,
    };
    Body::from_stream(futures::stream::unfold(state, |mut state| async move {
        if let Some(segment) = state.segments.pop_front() {
            if state.started && !state.gap.is_zero() {
                tokio::time::sleep(state.gap).await;
            }
            state.started = true;
            return Some((Ok(segment), state));
        }
        if state.fail_at_end {
            state.fail_at_end = false;
            tokio::time::sleep(FLUSH_GRACE).await;
            return Some((
                Err(io::Error::other("mock-upstream: injected disconnect")),
                state,
            ));
        }
        None
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_events() -> SseEvents {
        let mut events = SseEvents::with_capacity(64, 3);
        events.push_json(&serde_json::json!({"n": 1})).unwrap();
        events.push_json(&serde_json::json!({"n": 2})).unwrap();
        events.push_raw("[DONE]");
        events
    }

    #[test]
    fn events_split_on_their_boundaries() {
        let events: Vec<Bytes> = three_events().into_events().into();
        assert_eq!(
            events,
            vec![
                Bytes::from_static(b"data: {\"n\":1}\n\n"),
                Bytes::from_static(b"data: {\"n\":2}\n\n"),
                Bytes::from_static(b"data: [DONE]\n\n"),
            ]
        );
    }

    #[test]
    fn named_and_crlf_events() {
        let mut events = SseEvents::with_capacity(64, 2).crlf();
        events
            .push_named("ping", &serde_json::json!({"type": "ping"}))
            .unwrap();
        events.push_raw("x");
        let events: Vec<Bytes> = events.into_events().into();
        assert_eq!(
            events,
            vec![
                Bytes::from_static(b"event: ping\r\ndata: {\"type\":\"ping\"}\r\n\r\n"),
                Bytes::from_static(b"data: x\r\n\r\n"),
            ]
        );
    }

    #[test]
    fn coalescing_keeps_the_bytes() {
        let joined = coalesce_if(true, three_events().into_events());
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0], three_events().into_bytes());
    }
}
