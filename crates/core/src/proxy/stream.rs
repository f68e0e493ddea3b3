//! Relaying an OpenAI-style SSE stream to the client: events are framed by `eventsource-stream`,
//! re-emitted one by one as they arrive (never buffered), and inspected on the way for usage,
//! completion and errors. Keep-alive comments cover provider silence; a failure after the first
//! byte becomes one error event and a clean end.

use bytes::{BufMut, Bytes, BytesMut};
use eventsource_stream::{Event, EventStreamError};
use futures::{Stream, StreamExt};
use memchr::memmem;
use std::pin::Pin;
use tokio::time::Instant;

use crate::config::{Timeouts, seconds};
use crate::outcome::{OutcomeStatus, RequestRecorder};
use crate::usage::{OpenAiProbe, Usage};

pub type UpstreamEvents =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// What one event tells the gateway.
#[derive(Debug, Default, PartialEq)]
pub struct EventInfo {
    pub done: bool,
    pub finished: bool,
    pub usage: Option<Usage>,
    /// A chunk that carries only usage (`"choices": []`), as requested by `include_usage`.
    pub usage_only: bool,
    pub error: Option<String>,
}

/// Looks at one event's data cheaply: JSON is parsed only when it may carry usage or an error.
pub fn inspect(data: &str) -> EventInfo {
    if data == "[DONE]" {
        return EventInfo {
            done: true,
            ..EventInfo::default()
        };
    }
    let bytes = data.as_bytes();
    let mut info = EventInfo {
        finished: has_finish_reason(bytes),
        ..EventInfo::default()
    };
    let may_have_usage = memmem::find(bytes, b"\"usage\"").is_some();
    let may_have_error = memmem::find(bytes, b"\"error\"").is_some();
    if (may_have_usage || may_have_error)
        && let Ok(probe) = serde_json::from_str::<OpenAiProbe>(data)
    {
        info.usage_only =
            probe.usage.is_some() && probe.choices.as_ref().is_some_and(Vec::is_empty);
        info.usage = probe.usage.map(Usage::from);
        info.error = probe.error.map(|e| {
            e.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string())
        });
    }
    info
}

/// True when a `"finish_reason"` in the chunk has a string value (not `null`).
fn has_finish_reason(data: &[u8]) -> bool {
    memmem::find_iter(data, b"\"finish_reason\"").any(|at| {
        let rest = &data[at + b"\"finish_reason\"".len()..];
        let rest = rest
            .iter()
            .skip_while(|b| b.is_ascii_whitespace() || **b == b':');
        rest.take(1).any(|b| *b == b'"')
    })
}

/// SSE encoding of one event, as the provider sent it (standard `data:` framing).
pub fn encode(event: &Event) -> Bytes {
    let mut out = BytesMut::with_capacity(event.data.len() + 16);
    if !event.event.is_empty() && event.event != "message" {
        out.put_slice(b"event: ");
        out.put_slice(event.event.as_bytes());
        out.put_u8(b'\n');
    }
    if !event.id.is_empty() {
        out.put_slice(b"id: ");
        out.put_slice(event.id.as_bytes());
        out.put_u8(b'\n');
    }
    for line in event.data.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
    out.freeze()
}

/// One OpenAI-shaped error event.
pub fn error_event(message: &str, code: &str) -> Bytes {
    let body = serde_json::json!({
        "error": { "message": message, "type": "upstream_error", "param": null, "code": code }
    });
    Bytes::from(format!("data: {body}\n\n"))
}

const KEEPALIVE: &[u8] = b": keep-alive\n\n";

pub struct Relay {
    pub events: UpstreamEvents,
    pub first: Event,
    pub recorder: RequestRecorder,
    pub timeouts: Timeouts,
    /// Drop the usage-only chunk: the gateway asked for it, the client did not.
    pub hide_usage_chunk: bool,
    pub provider: String,
}

impl Relay {
    /// The client-facing body stream. Dropping it (client gone) drops the upstream response,
    /// which closes the provider connection, and the recorder reports the partial usage.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
        let Relay {
            mut events,
            first,
            mut recorder,
            timeouts,
            hide_usage_chunk,
            provider,
        } = self;
        async_stream::stream! {
            let deadline = Instant::now() + timeouts.total;
            let mut completed = false;
            let mut pending = Some(first);
            let mut last_event = Instant::now();
            loop {
                let event = match pending.take() {
                    Some(event) => event,
                    None => {
                        let now = Instant::now();
                        let idle_deadline = last_event + timeouts.idle;
                        let wake = (now + timeouts.keepalive).min(idle_deadline).min(deadline);
                        match tokio::time::timeout_at(wake, events.next()).await {
                            Ok(Some(Ok(event))) => event,
                            Ok(None) => break,
                            Ok(Some(Err(err))) => {
                                let message = format!("the stream from provider `{provider}` broke off: {}", describe(&err));
                                recorder.set_error(OutcomeStatus::UpstreamError, message.clone());
                                yield Ok(error_event(&message, "stream_interrupted"));
                                recorder.report();
                                return;
                            }
                            Err(_) => {
                                let now = Instant::now();
                                if now >= deadline || now >= idle_deadline {
                                    let message = if now >= deadline {
                                        format!("provider `{provider}` did not finish within {} (`timeouts.total`)", seconds(timeouts.total))
                                    } else {
                                        format!("provider `{provider}` sent nothing for {} (`timeouts.idle`)", seconds(timeouts.idle))
                                    };
                                    recorder.set_error(OutcomeStatus::UpstreamError, message.clone());
                                    yield Ok(error_event(&message, "upstream_timeout"));
                                    recorder.report();
                                    return;
                                }
                                yield Ok(Bytes::from_static(KEEPALIVE));
                                continue;
                            }
                        }
                    }
                };
                last_event = Instant::now();
                let info = inspect(&event.data);
                match info.usage {
                    Some(usage) => recorder.set_usage(usage),
                    None => recorder.capture_stream_event(&event.data),
                }
                if let Some(error) = &info.error {
                    recorder.set_error(OutcomeStatus::UpstreamError, format!("provider `{provider}` sent an error in the stream: {error}"));
                }
                completed |= info.done || info.finished;
                if !(hide_usage_chunk && info.usage_only) {
                    yield Ok(encode(&event));
                }
                if info.done {
                    break;
                }
            }
            if completed {
                recorder.finish_ok(200);
            } else {
                let message = format!("the stream from provider `{provider}` ended before the response was complete");
                recorder.set_error(OutcomeStatus::UpstreamError, message.clone());
                yield Ok(error_event(&message, "stream_interrupted"));
                recorder.report();
            }
        }
    }
}

fn describe(err: &EventStreamError<reqwest::Error>) -> String {
    match err {
        EventStreamError::Utf8(e) => format!("invalid UTF-8 ({e})"),
        EventStreamError::Parser(e) => format!("malformed event ({e})"),
        EventStreamError::Transport(e) => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                text = inner.to_string();
                source = inner.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspect_reads_usage_finish_done_and_errors() {
        assert!(inspect("[DONE]").done);
        let chunk = r#"{"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
        assert_eq!(inspect(chunk), EventInfo::default());
        let finish = r#"{"choices":[{"index":0,"delta":{},"finish_reason": "stop"}]}"#;
        assert!(inspect(finish).finished);
        let usage_only =
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
        let info = inspect(usage_only);
        assert!(info.usage_only);
        assert_eq!(
            info.usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((5, 7))
        );
        let deepseek = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7}}"#;
        let info = inspect(deepseek);
        assert!(info.finished && !info.usage_only && info.usage.is_some());
        let null_usage = r#"{"choices":[{"delta":{"content":"x"}}],"usage":null}"#;
        assert_eq!(inspect(null_usage).usage, None);
        let error = r#"{"error":{"message":"overloaded","code":"529"}}"#;
        assert_eq!(inspect(error).error.as_deref(), Some("overloaded"));
    }

    #[test]
    fn encode_writes_standard_framing() {
        let event = Event {
            event: "message".into(),
            data: "{\"a\":1}".into(),
            id: String::new(),
            retry: None,
        };
        assert_eq!(&encode(&event)[..], b"data: {\"a\":1}\n\n");
        let event = Event {
            event: "error".into(),
            data: "a\nb".into(),
            id: "7".into(),
            retry: None,
        };
        assert_eq!(
            &encode(&event)[..],
            b"event: error\nid: 7\ndata: a\ndata: b\n\n"
        );
    }
}
