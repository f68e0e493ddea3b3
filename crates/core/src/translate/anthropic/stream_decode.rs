//! An Anthropic upstream's SSE events → canonical `StreamEvent`s: `message_start`, then
//! `content_block_start` / `_delta` / `_stop` per block (pings anywhere), `message_delta` with the
//! stop reason and usage, `message_stop`; or an `error` event.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::wire::{WireUsage, finish_from_stop_reason};
use crate::translate::canonical::{Dialect, Signature, StreamEvent};
use crate::translate::{StreamDecoder, StreamError};

/// What a content block index stands for, so its deltas land in the right place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    /// The `n`th tool call of the response.
    ToolUse(usize),
    /// Blocks the canonical stream does not carry (server tool use, search results…).
    Other,
}

/// Turns an Anthropic stream into canonical events. Keeps the usage `message_start` reported so
/// that `message_delta`'s (often just `output_tokens`) completes it.
#[derive(Debug, Default)]
pub struct AnthropicStreamDecoder {
    blocks: HashMap<usize, BlockKind>,
    tool_calls: usize,
    usage: WireUsage,
    complete: bool,
}

impl AnthropicStreamDecoder {
    pub fn new() -> AnthropicStreamDecoder {
        AnthropicStreamDecoder::default()
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {
        #[serde(rename = "index")]
        _index: usize,
    },
    MessageDelta {
        #[serde(default)]
        delta: Option<MessageDelta>,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorBody,
    },
    /// Anthropic may add event types; clients are told to ignore ones they do not know.
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Option<Value>,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The most common event, `content_block_delta` with a `text_delta`, read without the buffering
/// an internally tagged enum needs (serde collects such an object into an owned tree before it
/// knows which variant it is).
#[derive(Deserialize)]
struct TextDeltaEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(rename = "index")]
    _index: usize,
    #[serde(borrow)]
    delta: TextDelta<'a>,
}

#[derive(Deserialize)]
struct TextDelta<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    text: String,
}

fn malformed(message: String) -> StreamError {
    StreamError::new("malformed_event", message)
}

impl StreamDecoder for AnthropicStreamDecoder {
    fn decode(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamError> {
        if data.trim().is_empty() {
            return Ok(());
        }
        // A text delta goes into the open block whatever its index, as in `delta` below.
        if let Ok(event) = serde_json::from_str::<TextDeltaEvent<'_>>(data)
            && event.kind == "content_block_delta"
            && event.delta.kind == "text_delta"
        {
            out.push(StreamEvent::TextDelta {
                text: event.delta.text,
            });
            return Ok(());
        }
        let parsed: Event = serde_json::from_str(data).map_err(|e| {
            malformed(format!(
                "Anthropic stream: cannot read the `{event}` event: {e}"
            ))
        })?;
        match parsed {
            Event::MessageStart { message } => {
                if let Some(usage) = message.usage {
                    self.usage.merge(usage);
                }
                out.push(StreamEvent::Start {
                    id: message.id,
                    model: message.model,
                });
                if message.usage.is_some() {
                    out.push(StreamEvent::Usage {
                        usage: self.usage.to_canonical(),
                    });
                }
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => self.start_block(index, content_block, out),
            Event::ContentBlockDelta { index, delta } => self.delta(index, delta, out)?,
            Event::ContentBlockStop { .. } | Event::Ping | Event::Unknown => {}
            Event::MessageDelta { delta, usage } => {
                if let Some(reason) = delta.as_ref().and_then(|d| d.stop_reason.as_deref()) {
                    let sequence = delta.as_ref().and_then(|d| d.stop_sequence.clone());
                    out.push(StreamEvent::Finish {
                        reason: finish_from_stop_reason(reason, sequence),
                    });
                }
                if let Some(usage) = usage {
                    self.usage.merge(usage);
                    out.push(StreamEvent::Usage {
                        usage: self.usage.to_canonical(),
                    });
                }
            }
            Event::MessageStop => self.complete = true,
            Event::Error { error } => {
                return Err(StreamError::new(
                    error.kind.unwrap_or_else(|| "api_error".to_owned()),
                    error
                        .message
                        .unwrap_or_else(|| "Anthropic stream error without a message".to_owned()),
                ));
            }
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.complete
    }

    /// `message_stop` is the last event of a message.
    fn is_done(&self) -> bool {
        self.complete
    }
}

impl AnthropicStreamDecoder {
    fn start_block(&mut self, index: usize, block: StartBlock, out: &mut Vec<StreamEvent>) {
        let kind = match block {
            StartBlock::Text { text } => {
                if !text.is_empty() {
                    out.push(StreamEvent::TextDelta { text });
                }
                BlockKind::Text
            }
            StartBlock::Thinking {
                thinking,
                signature,
            } => {
                if !thinking.is_empty() {
                    out.push(StreamEvent::ThinkingDelta { text: thinking });
                }
                if !signature.is_empty() {
                    out.push(anthropic_signature(signature));
                }
                BlockKind::Thinking
            }
            StartBlock::RedactedThinking { data } => {
                out.push(StreamEvent::RedactedThinking { data });
                BlockKind::Other
            }
            StartBlock::ToolUse { id, name, input } => {
                let tool = self.tool_calls;
                self.tool_calls += 1;
                out.push(StreamEvent::ToolCallStart {
                    index: tool,
                    id,
                    name,
                });
                // The input normally arrives as deltas after an empty `{}`; a start that already
                // carries arguments is passed on as the first fragment.
                if let Some(input) = input.filter(|i| i.as_object().is_none_or(|o| !o.is_empty())) {
                    out.push(StreamEvent::ToolCallDelta {
                        index: tool,
                        arguments: input.to_string(),
                    });
                }
                BlockKind::ToolUse(tool)
            }
            StartBlock::Other => BlockKind::Other,
        };
        self.blocks.insert(index, kind);
    }

    fn delta(
        &mut self,
        index: usize,
        delta: Delta,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamError> {
        let kind = self.blocks.get(&index).copied();
        match delta {
            Delta::Text { text } => out.push(StreamEvent::TextDelta { text }),
            Delta::Thinking { thinking } => {
                out.push(StreamEvent::ThinkingDelta { text: thinking });
            }
            Delta::Signature { signature } => out.push(anthropic_signature(signature)),
            Delta::InputJson { partial_json } => match kind {
                Some(BlockKind::ToolUse(tool)) => {
                    if !partial_json.is_empty() {
                        out.push(StreamEvent::ToolCallDelta {
                            index: tool,
                            arguments: partial_json,
                        });
                    }
                }
                // Server tool inputs stream the same way; they are not canonical tool calls.
                Some(BlockKind::Other) => {}
                _ => {
                    return Err(malformed(format!(
                        "Anthropic stream: `input_json_delta` for content block {index}, which \
                         is not a `tool_use` block"
                    )));
                }
            },
            // Citations and future delta types carry nothing the canonical stream models.
            Delta::Other => {}
        }
        Ok(())
    }
}

fn anthropic_signature(value: String) -> StreamEvent {
    StreamEvent::ThinkingSignature {
        signature: Signature {
            dialect: Dialect::Anthropic,
            value,
        },
    }
}
