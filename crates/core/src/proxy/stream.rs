//! Relaying a provider's SSE stream to the client: events are framed by `eventsource-stream` and
//! handled one by one as they arrive (never buffered): passed through as sent while a copy is
//! read for usage, completion and errors, or translated into the client's dialect. Keep-alives
//! cover provider silence; a failure after the first byte becomes one error event in the
//! client's dialect and a clean end.

use bytes::{BufMut, Bytes, BytesMut};
use eventsource_stream::{Event, EventStreamError};
use futures::{Stream, StreamExt};
use memchr::memmem;
use std::pin::Pin;
use std::sync::LazyLock;
use tokio::time::Instant;

use crate::config::{Timeouts, seconds};
use crate::outcome::{OutcomeStatus, RequestRecorder};
use crate::translate::{StreamDecoder, StreamEncoder, StreamError, StreamEvent};
use crate::usage::{OpenAiProbe, Usage};

pub type UpstreamEvents =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<hyper::Error>>> + Send>>;

/// What one event tells the gateway.
#[derive(Debug, Default, PartialEq)]
pub struct EventInfo {
    pub done: bool,
    pub finished: bool,
    pub usage: Option<Usage>,
    /// A chunk that carries only usage (`"choices": []`), as requested by `include_usage`.
    pub usage_only: bool,
    pub error: Option<String>,
    /// The data was parsed as JSON here (so it is known to be valid).
    pub parsed: bool,
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
    let may_have_usage = has_usage(bytes);
    let may_have_error = ERROR_KEY.find(bytes).is_some();
    if (may_have_usage || may_have_error)
        && let Ok(probe) = serde_json::from_str::<OpenAiProbe>(data)
    {
        info.parsed = true;
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

static USAGE_KEY: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\"usage\""));
static ERROR_KEY: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\"error\""));
static FINISH_REASON_KEY: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"\"finish_reason\""));

/// True when some `"usage"` in the chunk is not followed by `: null` — OpenAI sends
/// `"usage": null` in every chunk once usage is requested, and those need no parse. (Inside a
/// string, `"usage"` can only be followed by `,`, `}`, `]` or `:`-less text, so a stray one
/// only ever causes a parse, never skips one.)
fn has_usage(data: &[u8]) -> bool {
    USAGE_KEY.find_iter(data).any(|at| {
        let rest = &data[at + b"\"usage\"".len()..];
        let mut rest = rest.iter().skip_while(|b| b.is_ascii_whitespace());
        if rest.next() != Some(&b':') {
            return true;
        }
        let mut rest = rest.skip_while(|b| b.is_ascii_whitespace());
        !b"null".iter().all(|expected| rest.next() == Some(expected))
    })
}

/// True when a `"finish_reason"` in the chunk has a string value (not `null`).
fn has_finish_reason(data: &[u8]) -> bool {
    FINISH_REASON_KEY.find_iter(data).any(|at| {
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

/// How the provider's events are read, and whether its bytes reach the client unchanged.
pub enum Reader {
    /// OpenAI to an OpenAI client: bytes pass through; a cheap `inspect` reads each event.
    OpenAi {
        /// Drop the usage-only chunk: the gateway asked for it, the client did not.
        hide_usage_chunk: bool,
    },
    /// Same dialect on both sides (Anthropic): bytes pass through; a decoder reads a copy.
    Passthrough(Box<dyn StreamDecoder>),
    /// Different dialects: the decoder's canonical events are re-encoded for the client.
    Translate(Box<dyn StreamDecoder>),
}

/// What one provider event became.
#[derive(Default)]
pub struct Handled {
    /// Bytes for the client, if any.
    pub out: Option<Bytes>,
    /// The provider signalled an error (its event still passes through when not translating).
    pub error: Option<StreamError>,
    /// The stream cannot go on: the client gets one error in its dialect instead of the event
    /// (always when translating; for passthrough, an event that is not what its dialect allows).
    pub fatal: bool,
    /// Nothing more will come (`[DONE]`, `message_stop`): the relay ends without waiting for
    /// the provider's end of body.
    pub done: bool,
}

/// Reads provider events, feeds usage and captures to the recorder, and renders the client's
/// bytes. Shared by the first event (checked before the 200 is committed) and the relay.
/// The code decoders give an event that is not what its dialect allows (e.g. not JSON).
const MALFORMED: &str = "malformed_event";

pub struct EventHandler {
    pub reader: Reader,
    /// The client's dialect: keep-alives and failures, and all output when translating.
    pub client: Box<dyn StreamEncoder>,
    pub completed: bool,
    canonical: Vec<StreamEvent>,
    buffer: BytesMut,
}

impl EventHandler {
    pub fn new(reader: Reader, client: Box<dyn StreamEncoder>) -> EventHandler {
        EventHandler {
            reader,
            client,
            completed: false,
            canonical: Vec::new(),
            buffer: BytesMut::new(),
        }
    }

    pub fn handle(&mut self, event: &Event, recorder: &mut RequestRecorder) -> Handled {
        match &mut self.reader {
            Reader::OpenAi { hide_usage_chunk } => {
                if event.data.trim().is_empty() {
                    return Handled::default(); // an empty event says nothing: not relayed
                }
                let info = inspect(&event.data);
                // Validated once: `inspect` already parsed chunks that may carry usage or errors.
                if !info.done
                    && !info.parsed
                    && serde_json::from_str::<serde::de::IgnoredAny>(&event.data).is_err()
                {
                    return Handled {
                        error: Some(StreamError::new(
                            "malformed_event",
                            "OpenAI chat stream: an event is not valid JSON",
                        )),
                        fatal: true,
                        ..Handled::default()
                    };
                }
                match info.usage {
                    Some(usage) => recorder.set_usage(usage),
                    None => recorder.capture_stream_event(&event.data),
                }
                self.completed |= info.done || info.finished;
                let hidden = *hide_usage_chunk && info.usage_only;
                Handled {
                    out: (!hidden).then(|| encode(event)),
                    error: info
                        .error
                        .map(|message| StreamError::new("upstream_error", message)),
                    fatal: false,
                    done: info.done,
                }
            }
            Reader::Passthrough(decoder) => {
                self.canonical.clear();
                let result = decoder.decode(&event.event, &event.data, &mut self.canonical);
                self.completed = decoder.is_complete();
                record_usage(&self.canonical, recorder);
                // The provider's own error event is already in the client's dialect: it passes.
                // An event the client could not parse does not.
                if result.as_ref().is_err_and(|e| e.code == MALFORMED) {
                    return Handled {
                        error: result.err(),
                        fatal: true,
                        ..Handled::default()
                    };
                }
                recorder.capture_stream_event(&event.data);
                Handled {
                    out: Some(encode(event)),
                    error: result.err(),
                    fatal: false,
                    done: decoder.is_done(),
                }
            }
            Reader::Translate(decoder) => {
                self.canonical.clear();
                let result = decoder.decode(&event.event, &event.data, &mut self.canonical);
                self.completed = decoder.is_complete();
                let done = decoder.is_done();
                record_usage(&self.canonical, recorder);
                for canonical in self.canonical.drain(..) {
                    self.client.encode(canonical, &mut self.buffer);
                }
                let out = self.take_output(recorder);
                let error = result.err();
                Handled {
                    out,
                    fatal: error.is_some(),
                    error,
                    done,
                }
            }
        }
    }

    fn translating(&self) -> bool {
        matches!(self.reader, Reader::Translate(_))
    }

    /// The encoder's pending bytes; their `data:` lines are kept for an estimate.
    fn take_output(&mut self, recorder: &mut RequestRecorder) -> Option<Bytes> {
        if self.buffer.is_empty() {
            return None;
        }
        let out = self.buffer.split().freeze();
        if recorder.wants_stream_capture() {
            let mut rest = &out[..];
            while !rest.is_empty() {
                let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
                if let Some(data) = rest[..end].strip_prefix(b"data: ")
                    && let Ok(data) = std::str::from_utf8(data)
                {
                    recorder.capture_stream_event(data);
                }
                rest = rest.get(end + 1..).unwrap_or_default();
            }
        }
        Some(out)
    }

    /// The end of a complete answer (translating: close what is open).
    fn finish(&mut self, recorder: &mut RequestRecorder) -> Option<Bytes> {
        if !self.translating() {
            return None;
        }
        self.client.finish(&mut self.buffer);
        self.take_output(recorder)
    }

    /// One error in the client's dialect.
    fn fail(&mut self, error: &StreamError) -> Bytes {
        let mut out = BytesMut::new();
        self.client.fail(error, &mut out);
        out.freeze()
    }
}

fn record_usage(events: &[StreamEvent], recorder: &mut RequestRecorder) {
    for event in events {
        if let StreamEvent::Usage { usage } = event {
            recorder.set_usage(*usage);
        }
    }
}

pub struct Relay {
    pub events: UpstreamEvents,
    /// The first event's output, already handled before the 200 was committed.
    pub first: Option<Bytes>,
    pub handler: EventHandler,
    pub recorder: RequestRecorder,
    pub timeouts: Timeouts,
    pub provider: String,
}

impl Relay {
    /// The client-facing body stream. Dropping it (client gone) drops the upstream response,
    /// which closes the provider connection, and the recorder reports the partial usage.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
        let Relay {
            mut events,
            first,
            mut handler,
            mut recorder,
            timeouts,
            provider,
        } = self;
        async_stream::stream! {
            let deadline = Instant::now() + timeouts.total;
            if let Some(first) = first {
                yield Ok(first);
            }
            let mut last_event = Instant::now();
            loop {
                let now = Instant::now();
                let idle_deadline = last_event + timeouts.idle;
                let wake = (now + timeouts.keepalive).min(idle_deadline).min(deadline);
                let event = match tokio::time::timeout_at(wake, events.next()).await {
                    Ok(Some(Ok(event))) => event,
                    Ok(None) => break,
                    Ok(Some(Err(err))) => {
                        let message = format!("the stream from provider `{provider}` broke off: {}", describe(&err));
                        recorder.set_error(OutcomeStatus::UpstreamError, message.clone());
                        yield Ok(handler.fail(&StreamError::new("stream_interrupted", message)));
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
                            yield Ok(handler.fail(&StreamError::new("upstream_timeout", message)));
                            recorder.report();
                            return;
                        }
                        yield Ok(Bytes::from_static(handler.client.keepalive()));
                        continue;
                    }
                };
                last_event = Instant::now();
                let handled = handler.handle(&event, &mut recorder);
                if let Some(out) = handled.out {
                    yield Ok(out);
                }
                if let Some(error) = handled.error {
                    let message = format!("provider `{provider}` sent an error in the stream: {error}");
                    recorder.set_error(OutcomeStatus::UpstreamError, message.clone());
                    if handled.fatal {
                        yield Ok(handler.fail(&StreamError::new(error.code, message)));
                        recorder.report();
                        return;
                    }
                }
                if handled.done {
                    break;
                }
            }
            if handler.completed {
                if let Some(out) = handler.finish(&mut recorder) {
                    yield Ok(out);
                }
                recorder.finish_ok(200);
            } else {
                let message = format!("the stream from provider `{provider}` ended before the response was complete");
                recorder.set_error(OutcomeStatus::UpstreamError, message.clone());
                yield Ok(handler.fail(&StreamError::new("stream_interrupted", message)));
                recorder.report();
            }
        }
    }
}

fn describe(err: &EventStreamError<hyper::Error>) -> String {
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
    fn null_usage_needs_no_parse_and_any_other_does() {
        assert!(!has_usage(br#"{"choices":[],"usage":null}"#));
        assert!(!has_usage(br#"{"choices":[],"usage" :  null }"#));
        assert!(has_usage(br#"{"choices":[],"usage":{"prompt_tokens":1}}"#));
        assert!(has_usage(br#"{"usage":null,"x":{"usage":{}}}"#));
        // Text that ends in `"usage` inside a string: a parse, which finds no usage.
        assert!(has_usage(br#"{"content":"say "usage","n":1}"#));
        assert_eq!(
            inspect(r#"{"content":"say "usage","n":1}"#),
            EventInfo::default()
        );
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
