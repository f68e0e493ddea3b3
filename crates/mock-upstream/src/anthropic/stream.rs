//! The streamed form of a message: `message_start`, then `content_block_start` / `_delta` / `_stop`
//! per block with `ping`s among them, then `message_delta` (stop reason, usage) and `message_stop`.

use serde::Serialize;
use serde_json::Value;

use super::THINKING_SIGNATURE;
use super::messages::{ContentBlock, Envelope, MessageObject, WireUsage, stop_reason};
use crate::reply::SseEvents;
use crate::turn::{Turn, TurnBody};

/// A `ping` follows the first `content_block_start`, then every this many deltas.
const PING_EVERY: usize = 8;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: MessageObject<'a>,
    },
    ContentBlockStart {
        index: usize,
        content_block: ContentBlock<'a>,
    },
    Ping,
    ContentBlockDelta {
        index: usize,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta<'a>,
        usage: WireUsage,
    },
    MessageStop,
}

impl Event<'_> {
    /// The SSE `event:` name, which Anthropic sets to the payload's `type`.
    fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::Ping => "ping",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
        }
    }
}

/// A `content_block_delta` payload; its `type` is the variant's name plus `_delta`.
#[derive(Serialize)]
#[serde(tag = "type")]
enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
}

#[derive(Serialize)]
struct MessageDelta<'a> {
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
}

/// Writes events, numbering content blocks and spacing `ping`s.
struct Writer {
    events: SseEvents,
    blocks: usize,
    deltas: usize,
}

impl Writer {
    fn push(&mut self, event: &Event<'_>) -> Result<(), serde_json::Error> {
        self.events.push_named(event.name(), event)
    }

    /// Writes one whole block: start, deltas, stop.
    fn block<'d>(
        &mut self,
        start: ContentBlock<'_>,
        deltas: impl IntoIterator<Item = Delta<'d>>,
    ) -> Result<(), serde_json::Error> {
        let index = self.blocks;
        self.blocks += 1;
        self.push(&Event::ContentBlockStart {
            index,
            content_block: start,
        })?;
        if index == 0 {
            self.push(&Event::Ping)?;
        }
        for delta in deltas {
            self.push(&Event::ContentBlockDelta { index, delta })?;
            self.deltas += 1;
            if self.deltas.is_multiple_of(PING_EVERY) {
                self.push(&Event::Ping)?;
            }
        }
        self.push(&Event::ContentBlockStop { index })
    }
}

/// The whole event stream of one message.
pub(super) fn encode(
    reply: &Envelope<'_>,
    turn: &Turn<'_>,
) -> Result<SseEvents, serde_json::Error> {
    let fragments = turn.thinking.as_ref().map_or(0, Vec::len)
        + match &turn.body {
            TurnBody::Text { pieces, .. } | TurnBody::ToolCall { pieces, .. } => pieces.len(),
        };
    let mut writer = Writer {
        events: SseEvents::with_capacity(512 + fragments * 96, fragments + 12),
        blocks: 0,
        deltas: 0,
    };
    writer.push(&Event::MessageStart {
        message: MessageObject {
            id: reply.id,
            kind: "message",
            role: "assistant",
            model: reply.model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: WireUsage {
                output_tokens: 1,
                ..reply.usage
            },
        },
    })?;
    if let Some(thinking) = &turn.thinking {
        let deltas = thinking
            .iter()
            .map(|piece| Delta::Thinking { thinking: piece })
            .chain([Delta::Signature {
                signature: THINKING_SIGNATURE,
            }]);
        writer.block(
            ContentBlock::Thinking {
                thinking: "",
                signature: "",
            },
            deltas,
        )?;
    }
    match &turn.body {
        TurnBody::Text { pieces, .. } => writer.block(
            ContentBlock::Text { text: "" },
            pieces.iter().map(|piece| Delta::Text { text: piece }),
        )?,
        TurnBody::ToolCall { name, pieces, .. } => {
            let empty = Value::Object(serde_json::Map::new());
            // Anthropic opens a tool's input with an empty fragment.
            let deltas = std::iter::once("")
                .chain(pieces.iter().map(String::as_str))
                .map(|piece| Delta::InputJson {
                    partial_json: piece,
                });
            writer.block(
                ContentBlock::ToolUse {
                    id: reply.tool_id,
                    name,
                    input: &empty,
                },
                deltas,
            )?;
        }
    }
    let (stop_reason, stop_sequence) = stop_reason(&turn.stop);
    writer.push(&Event::MessageDelta {
        delta: MessageDelta {
            stop_reason,
            stop_sequence,
        },
        usage: reply.usage,
    })?;
    writer.push(&Event::MessageStop)?;
    Ok(writer.events)
}
