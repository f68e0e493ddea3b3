//! Translation between dialects through one canonical model (DESIGN §3). Each dialect module
//! decodes and encodes requests, whole responses and stream events; the proxy does the I/O.
//!
//! | dialect | request | response | stream |
//! | --- | --- | --- | --- |
//! | `openai_chat` | decode (client) · encode (upstream) | decode · encode | decoder · encoder |
//! | `anthropic` | decode (client) · encode (upstream) | decode · encode | decoder · encoder |
//! | `gemini` | encode (upstream) | decode | decoder |
//! | `responses` | decode (client) | encode | encoder |

pub mod anthropic;
pub mod canonical;
pub mod gemini;
pub mod openai_chat;
pub mod responses;

pub use canonical::{
    Block, ChatRequest, ChatResponse, Dialect, FinishReason, ImageSource, Message, Reasoning, Role,
    Signature, StreamEvent, Tool, ToolChoice,
};

use std::cell::RefCell;

use bytes::BytesMut;

/// A failure inside a stream: the provider's error event, or an event that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StreamError {
    pub message: String,
    /// A short machine-readable code for the client's error event (`upstream_error`,
    /// `malformed_event`, `overloaded_error`…).
    pub code: String,
}

impl StreamError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> StreamError {
        StreamError {
            message: message.into(),
            code: code.into(),
        }
    }
}

/// Turns one provider's SSE events into canonical events. Stateful: tool-call buffers, block
/// indices and ids live here.
pub trait StreamDecoder: Send {
    /// Decodes one SSE event: its `event:` name (empty when absent) and its `data`.
    fn decode(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamError>;

    /// Whether the provider has said the answer is complete, so that the end of the stream now
    /// is a normal end and not an interruption.
    fn is_complete(&self) -> bool;

    /// Whether the provider has sent its last event (OpenAI's `[DONE]`, Anthropic's
    /// `message_stop`): the relay then ends the client's stream at once instead of waiting for
    /// the provider's connection to signal the end of the body.
    fn is_done(&self) -> bool {
        false
    }
}

/// Turns canonical events into a client's SSE bytes, keeping its protocol's invariants (one
/// start, balanced blocks, a final usage, a terminator).
pub trait StreamEncoder: Send {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut);

    /// The provider finished normally: close what is open and end the stream.
    fn finish(&mut self, out: &mut BytesMut);

    /// The stream failed after the first byte: one error in the client's dialect, then the end.
    fn fail(&mut self, error: &StreamError, out: &mut BytesMut);

    /// What to send while the provider is silent (an SSE comment, or Anthropic's `ping`).
    fn keepalive(&self) -> &'static [u8];
}

thread_local! {
    /// Where stream encoders serialize one event before it is copied out whole: the output then
    /// grows once per event, not once per JSON token.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Appends the `prefix` parts, `value` as JSON and the `suffix` parts to `out`.
pub(crate) fn write_json(
    out: &mut BytesMut,
    prefix: &[&[u8]],
    value: &impl serde::Serialize,
    suffix: &[&[u8]],
) {
    SCRATCH.with_borrow_mut(|json| {
        json.clear();
        // Events are built from strings, numbers and raw JSON: serializing them cannot fail.
        if serde_json::to_writer(&mut *json, value).is_err() {
            return;
        }
        let parts_len: usize = prefix.iter().chain(suffix).map(|part| part.len()).sum();
        out.reserve(parts_len + json.len());
        for part in prefix {
            out.extend_from_slice(part);
        }
        out.extend_from_slice(json);
        for part in suffix {
            out.extend_from_slice(part);
        }
        // A huge event does not keep its buffer for the thread's lifetime.
        if json.capacity() > 64 * 1024 {
            *json = Vec::new();
        }
    });
}
