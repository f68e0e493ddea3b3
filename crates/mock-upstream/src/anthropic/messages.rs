//! `POST /v1/messages`: a `message` object, or (with `stream`) the SSE events of [`super::stream`].

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::request::{self, Betas, Cache, Endpoint, Valid};
use super::{THINKING_SIGNATURE, internal_error, invalid_request, stream};
use crate::config::RequestOptions;
use crate::recording::{Usage, UsageDetails};
use crate::reply::{JSON, Outcome, Reply};
use crate::server::Incoming;
use crate::synth;
use crate::turn::{self, Stop, Turn, TurnBody, TurnRequest};

/// The `message` object (also the skeleton `message_start` carries).
#[derive(Serialize)]
pub(super) struct MessageObject<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: Vec<ContentBlock<'a>>,
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<&'a str>,
    pub usage: WireUsage,
}

/// A content block, whole or (in `content_block_start`) empty.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentBlock<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
}

/// Anthropic's `usage`: `input_tokens` excludes the cached part of the prompt.
#[derive(Clone, Copy, Serialize)]
pub(super) struct WireUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
}

/// What the reply carries besides its turn: ids, model and usage.
pub(super) struct Envelope<'a> {
    pub id: &'a str,
    pub tool_id: &'a str,
    pub model: &'a str,
    pub usage: WireUsage,
}

/// Handles one Messages API request.
pub(crate) fn messages(incoming: &Incoming, options: &RequestOptions) -> Outcome {
    let request = match request::parse(&incoming.body) {
        Ok(request) => request,
        Err(message) => return invalid_request(&message),
    };
    let betas = Betas::from_headers(&incoming.headers);
    let valid = match request::validate(&request, Endpoint::Messages, betas) {
        Ok(valid) => valid,
        Err(message) => return invalid_request(&message),
    };
    let turn = turn::plan(TurnRequest {
        seed: valid.seed(),
        tool: valid.tool(),
        thinking: valid.thinking(),
        max_tokens: valid.max_tokens(),
        stop_sequences: valid.stop_sequences(),
        chunks: options.chunks,
        refusal: options.refusal,
    });
    let (usage, details, wire) = usage_of(&valid, &turn);
    let hash = synth::fnv1a(&incoming.body);
    let id = format!("msg_mock{hash:016x}");
    let tool_id = format!("toolu_mock{:016x}", hash.rotate_left(17));
    let reply = Envelope {
        id: &id,
        tool_id: &tool_id,
        model: valid.model,
        usage: wire,
    };
    let encoded = if valid.stream() {
        stream::encode(&reply, &turn).map(Reply::Sse)
    } else {
        encode_message(&reply, &turn).map(|body| Reply::Json {
            status: StatusCode::OK,
            content_type: JSON,
            body,
        })
    };
    match encoded {
        Ok(reply) => Outcome::with_details(reply, usage, details),
        Err(e) => internal_error(&e),
    }
}

/// The usage recorded (OpenAI terms), its breakdown, and the usage on the wire.
fn usage_of(valid: &Valid<'_>, turn: &Turn<'_>) -> (Usage, UsageDetails, WireUsage) {
    let prompt = valid.prompt_tokens();
    let cached = valid.cached_tokens();
    let (read, write) = match valid.cache() {
        Cache::None => (0, 0),
        Cache::Read => (cached, 0),
        Cache::Write => (0, cached),
    };
    let output = turn.output_tokens();
    let details = UsageDetails {
        cache_read_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: turn.thinking_tokens(),
    };
    let wire = WireUsage {
        input_tokens: prompt - read - write,
        cache_creation_input_tokens: write,
        cache_read_input_tokens: read,
        output_tokens: output,
    };
    (Usage::new(prompt, output), details, wire)
}

/// `stop_reason` and `stop_sequence` of a turn.
pub(super) fn stop_reason(stop: &Stop) -> (&'static str, Option<&str>) {
    match stop {
        Stop::EndTurn => ("end_turn", None),
        Stop::ToolUse => ("tool_use", None),
        Stop::MaxTokens => ("max_tokens", None),
        Stop::Sequence(sequence) => ("stop_sequence", Some(sequence)),
        Stop::Refusal => ("refusal", None),
    }
}

fn encode_message(reply: &Envelope<'_>, turn: &Turn<'_>) -> Result<Bytes, serde_json::Error> {
    let thinking = turn.thinking_text();
    let mut content = Vec::with_capacity(2);
    if let Some(thinking) = &thinking {
        content.push(ContentBlock::Thinking {
            thinking,
            signature: THINKING_SIGNATURE,
        });
    }
    content.push(match &turn.body {
        TurnBody::Text { text, .. } => ContentBlock::Text { text },
        TurnBody::ToolCall {
            name, arguments, ..
        } => ContentBlock::ToolUse {
            id: reply.tool_id,
            name,
            input: arguments,
        },
    });
    let (stop_reason, stop_sequence) = stop_reason(&turn.stop);
    let message = MessageObject {
        id: reply.id,
        kind: "message",
        role: "assistant",
        model: reply.model,
        content,
        stop_reason: Some(stop_reason),
        stop_sequence,
        usage: reply.usage,
    };
    serde_json::to_vec(&message).map(Bytes::from)
}
