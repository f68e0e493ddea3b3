//! Canonical `StreamEvent`s → the SSE events an Anthropic client expects: exactly one
//! `message_start`, content blocks opened and closed as the kind of content changes (balanced,
//! with increasing indices), then `message_delta` (stop reason, full usage) and `message_stop`.

use std::io::Write as _;

use bytes::{BufMut, BytesMut};
use serde::Serialize;

use super::response::client_message_id;
use super::wire::{ClientUsage, stop_reason_for, tool_id};
use super::{invented_signature, signature_for_client};
use crate::translate::canonical::{Dialect, FinishReason, Signature, StreamEvent};
use crate::translate::{StreamEncoder, StreamError};
use crate::usage::Usage;

/// Error `type`s Anthropic clients know; any other code becomes `api_error`.
const KNOWN_ERROR_TYPES: [&str; 10] = [
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
];

/// The block currently open in the client's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenBlock {
    Text,
    /// `signed` once a signature was sent: more thinking then needs a new block.
    Thinking {
        signed: bool,
    },
    /// The canonical tool call (its `index`) this `tool_use` block carries.
    ToolUse {
        call: usize,
    },
}

/// Writes an Anthropic client's stream. Holds `message_start` back until content, the finish or
/// a failure arrives, so that usage reported at the start of the upstream stream is in it.
pub struct AnthropicStreamEncoder {
    model: String,
    id: Option<String>,
    started: bool,
    open: Option<OpenBlock>,
    next_index: usize,
    usage: Usage,
    finish: Option<FinishReason>,
    saw_tool_call: bool,
    /// Whose thinking this is when it arrives unsigned (the last foreign signature seen).
    thinking_dialect: Dialect,
    done: bool,
}

#[derive(Serialize)]
struct StartPayload<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: StartMessage<'a>,
}

#[derive(Serialize)]
struct StartMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [(); 0],
    stop_reason: Option<()>,
    stop_sequence: Option<()>,
    usage: ClientUsage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock<'a> {
    Text {
        text: &'static str,
    },
    Thinking {
        thinking: &'static str,
        signature: &'static str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: EmptyInput,
    },
}

/// A tool call's `input` at its start: `{}`, the arguments follow as `input_json_delta`s.
#[derive(Serialize)]
struct EmptyInput {}

/// What a `content_block_delta` carries (written by `AnthropicStreamEncoder::delta`).
enum Delta<'a> {
    Text { text: &'a str },
    Thinking { thinking: &'a str },
    Signature { signature: &'a str },
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Payload<'a> {
    ContentBlockStart {
        index: usize,
        content_block: StartBlock<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta<'a>,
        usage: ClientUsage,
    },
    MessageStop,
    Error {
        error: ErrorBody<'a>,
    },
}

#[derive(Serialize)]
struct MessageDelta<'a> {
    stop_reason: &'a str,
    stop_sequence: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

/// `event: <name>\ndata: <json>\n\n`.
fn write_event(out: &mut BytesMut, name: &str, payload: &impl Serialize) {
    let prefix: [&[u8]; 3] = [b"event: ", name.as_bytes(), b"\ndata: "];
    crate::translate::write_json(out, &prefix, payload, &[b"\n\n"]);
}

fn write_payload(out: &mut BytesMut, payload: &Payload<'_>) {
    let name = match payload {
        Payload::ContentBlockStart { .. } => "content_block_start",
        Payload::ContentBlockStop { .. } => "content_block_stop",
        Payload::MessageDelta { .. } => "message_delta",
        Payload::MessageStop => "message_stop",
        Payload::Error { .. } => "error",
    };
    write_event(out, name, payload);
}

impl AnthropicStreamEncoder {
    /// `model` is the name the client asked for; it is what `message_start` reports.
    pub fn new(model: String) -> AnthropicStreamEncoder {
        AnthropicStreamEncoder {
            model,
            id: None,
            started: false,
            open: None,
            next_index: 0,
            usage: Usage::default(),
            finish: None,
            saw_tool_call: false,
            thinking_dialect: Dialect::OpenAiChat,
            done: false,
        }
    }

    fn ensure_started(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let id = self.id.take().unwrap_or_else(|| client_message_id(""));
        let payload = StartPayload {
            kind: "message_start",
            message: StartMessage {
                id: &id,
                kind: "message",
                role: "assistant",
                model: &self.model,
                content: [],
                stop_reason: None,
                stop_sequence: None,
                usage: ClientUsage::from(self.usage),
            },
        };
        write_event(out, "message_start", &payload);
    }

    /// Opens a block of `kind`, closing whatever is open.
    fn open_block(&mut self, kind: OpenBlock, start: StartBlock<'_>, out: &mut BytesMut) {
        self.close_block(out);
        write_payload(
            out,
            &Payload::ContentBlockStart {
                index: self.next_index,
                content_block: start,
            },
        );
        self.open = Some(kind);
    }

    fn close_block(&mut self, out: &mut BytesMut) {
        let Some(open) = self.open.take() else {
            return;
        };
        if open == (OpenBlock::Thinking { signed: false }) {
            // Another provider's thinking: the client must be able to send it back, and we must
            // recognize it then (Anthropic would reject it).
            let signature = invented_signature(self.thinking_dialect, "");
            self.delta(
                Delta::Signature {
                    signature: &signature,
                },
                out,
            );
        }
        write_payload(
            out,
            &Payload::ContentBlockStop {
                index: self.next_index,
            },
        );
        self.next_index += 1;
    }

    /// The most frequent event of all, written without serde: only the content needs escaping.
    fn delta(&self, delta: Delta<'_>, out: &mut BytesMut) {
        let (kind, field, value) = match delta {
            Delta::Text { text } => ("text_delta", "text", text),
            Delta::Thinking { thinking } => ("thinking_delta", "thinking", thinking),
            Delta::Signature { signature } => ("signature_delta", "signature", signature),
            Delta::InputJson { partial_json } => ("input_json_delta", "partial_json", partial_json),
        };
        out.reserve(value.len() + 120);
        out.put_slice(
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
        );
        let mut digits = out.writer();
        let _ = write!(digits, "{}", self.next_index);
        let out = digits.into_inner();
        out.put_slice(b",\"delta\":{\"type\":\"");
        out.put_slice(kind.as_bytes());
        out.put_slice(b"\",\"");
        out.put_slice(field.as_bytes());
        out.put_slice(b"\":");
        // Writing a string into memory cannot fail.
        let _ = serde_json::to_writer(out.writer(), value);
        out.put_slice(b"}}\n\n");
    }

    fn thinking_signature(&mut self, signature: &Signature, out: &mut BytesMut) {
        if signature.dialect != Dialect::Anthropic {
            self.thinking_dialect = signature.dialect;
        }
        if self.open != Some(OpenBlock::Thinking { signed: false }) {
            let start = StartBlock::Thinking {
                thinking: "",
                signature: "",
            };
            self.open_block(OpenBlock::Thinking { signed: false }, start, out);
        }
        let value = signature_for_client(signature);
        self.delta(Delta::Signature { signature: &value }, out);
        self.open = Some(OpenBlock::Thinking { signed: true });
    }
}

impl StreamEncoder for AnthropicStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => {
                if !self.started && self.id.is_none() {
                    self.id = Some(client_message_id(&id));
                }
            }
            StreamEvent::Usage { usage } => self.usage = usage,
            StreamEvent::Finish { reason } => self.finish = Some(reason),
            StreamEvent::TextDelta { text } => {
                if text.is_empty() {
                    return;
                }
                self.ensure_started(out);
                if self.open != Some(OpenBlock::Text) {
                    self.open_block(OpenBlock::Text, StartBlock::Text { text: "" }, out);
                }
                self.delta(Delta::Text { text: &text }, out);
            }
            StreamEvent::ThinkingDelta { text } => {
                if text.is_empty() {
                    return;
                }
                self.ensure_started(out);
                let unsigned = OpenBlock::Thinking { signed: false };
                if self.open != Some(unsigned) {
                    let start = StartBlock::Thinking {
                        thinking: "",
                        signature: "",
                    };
                    self.open_block(unsigned, start, out);
                }
                self.delta(Delta::Thinking { thinking: &text }, out);
            }
            StreamEvent::ThinkingSignature { signature } => {
                self.ensure_started(out);
                self.thinking_signature(&signature, out);
            }
            StreamEvent::RedactedThinking { data } => {
                self.ensure_started(out);
                let start = StartBlock::RedactedThinking { data: &data };
                // Whole in its start event; the kind is irrelevant as it closes at once.
                self.open_block(OpenBlock::Text, start, out);
                self.close_block(out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.ensure_started(out);
                self.saw_tool_call = true;
                let id = tool_id(&id);
                let start = StartBlock::ToolUse {
                    id: &id,
                    name: &name,
                    input: EmptyInput {},
                };
                self.open_block(OpenBlock::ToolUse { call: index }, start, out);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                // Anthropic blocks cannot interleave: fragments of a call whose block is closed
                // have nowhere to go (OpenAI-style upstreams send calls one after another).
                if !arguments.is_empty() && self.open == Some(OpenBlock::ToolUse { call: index }) {
                    self.delta(
                        Delta::InputJson {
                            partial_json: &arguments,
                        },
                        out,
                    );
                }
            }
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.close_block(out);
        let finish = self.finish.take().unwrap_or(if self.saw_tool_call {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        });
        let (stop_reason, stop_sequence) = stop_reason_for(&finish);
        write_payload(
            out,
            &Payload::MessageDelta {
                delta: MessageDelta {
                    stop_reason,
                    stop_sequence,
                },
                usage: ClientUsage::from(self.usage),
            },
        );
        write_payload(out, &Payload::MessageStop);
        self.done = true;
    }

    fn fail(&mut self, error: &StreamError, out: &mut BytesMut) {
        if self.done {
            return;
        }
        let kind = KNOWN_ERROR_TYPES
            .iter()
            .find(|known| **known == error.code)
            .copied()
            .unwrap_or("api_error");
        write_payload(
            out,
            &Payload::Error {
                error: ErrorBody {
                    kind,
                    message: &error.message,
                },
            },
        );
        self.done = true;
    }

    fn keepalive(&self) -> &'static [u8] {
        b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_the_json_anthropic_sends() {
        let mut encoder = AnthropicStreamEncoder::new("m".into());
        encoder.next_index = 12;
        let text = "quote \" backslash \\ newline \n tab \t control \u{1} emoji 🦀";
        for (delta, kind, field) in [
            (Delta::Text { text }, "text_delta", "text"),
            (
                Delta::Thinking { thinking: text },
                "thinking_delta",
                "thinking",
            ),
            (
                Delta::Signature { signature: text },
                "signature_delta",
                "signature",
            ),
            (
                Delta::InputJson { partial_json: text },
                "input_json_delta",
                "partial_json",
            ),
        ] {
            let mut out = BytesMut::new();
            encoder.delta(delta, &mut out);
            let out = std::str::from_utf8(&out).unwrap();
            let data = out
                .strip_prefix("event: content_block_delta\ndata: ")
                .and_then(|rest| rest.strip_suffix("\n\n"))
                .unwrap();
            let expected = format!(
                r#"{{"type":"content_block_delta","index":12,"delta":{{"type":"{kind}","{field}":{}}}}}"#,
                serde_json::to_string(text).unwrap()
            );
            assert_eq!(data, expected);
            let value: serde_json::Value = serde_json::from_str(data).unwrap();
            assert_eq!(value["delta"][field], text);
        }
    }
}
