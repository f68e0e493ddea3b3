//! Whole (non-streamed) Messages API responses: an Anthropic upstream's body → `ChatResponse`,
//! and `ChatResponse` → the `message` object an Anthropic client expects.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::wire::{
    ClientUsage, OutBlock, WireUsage, compact_json, finish_from_stop_reason, stop_reason_for,
    tool_id, tool_input,
};
use super::{invented_signature, signature_for_client};
use crate::translate::canonical::{Block, ChatResponse, Dialect, FinishReason, Signature};

#[derive(Deserialize)]
struct WireResponse {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireBlock {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Box<RawValue>>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

/// Anthropic upstream whole response → canonical.
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, String> {
    let wire: WireResponse = serde_json::from_slice(body)
        .map_err(|e| format!("Anthropic response is not a valid message object: {e}"))?;
    if wire.kind.as_deref() == Some("error") || wire.error.is_some() {
        let field = |name: &str| {
            wire.error
                .as_ref()
                .and_then(|e| e.get(name))
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned()
        };
        return Err(format!(
            "Anthropic response is an error: {} ({})",
            field("message"),
            field("type")
        ));
    }
    let content = wire
        .content
        .ok_or("Anthropic response has no `content` array")?
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            decode_block(raw).map_err(|e| format!("Anthropic response content[{i}]: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let finish = match wire.stop_reason.as_deref() {
        Some(reason) => finish_from_stop_reason(reason, wire.stop_sequence),
        None => FinishReason::Stop,
    };
    Ok(ChatResponse {
        id: wire.id.unwrap_or_default(),
        model: wire.model.unwrap_or_default(),
        content,
        finish,
        usage: wire.usage.map(WireUsage::to_canonical),
    })
}

fn decode_block(raw: &RawValue) -> Result<Block, String> {
    let block: WireBlock =
        serde_json::from_str(raw.get()).map_err(|e| format!("invalid content block: {e}"))?;
    let missing = |field: &str| format!("`{}` block without `{field}`", block.kind);
    Ok(match block.kind.as_str() {
        "text" => Block::Text {
            text: block.text.clone().ok_or_else(|| missing("text"))?,
        },
        "tool_use" => Block::ToolCall {
            id: block.id.clone().ok_or_else(|| missing("id"))?,
            name: block.name.clone().ok_or_else(|| missing("name"))?,
            arguments: block
                .input
                .as_ref()
                .map_or_else(|| "{}".to_owned(), |input| compact_json(input.get())),
        },
        "thinking" => Block::Thinking {
            text: block.thinking.clone().unwrap_or_default(),
            signature: block
                .signature
                .clone()
                .filter(|s| !s.is_empty())
                .map(|value| Signature {
                    dialect: Dialect::Anthropic,
                    value,
                }),
        },
        "redacted_thinking" => Block::RedactedThinking {
            data: block.data.clone().ok_or_else(|| missing("data"))?,
        },
        _ => Block::Unknown {
            dialect: Dialect::Anthropic,
            value: serde_json::from_str(raw.get())
                .map_err(|e| format!("invalid content block: {e}"))?,
        },
    })
}

#[derive(Serialize)]
struct ClientMessage<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<OutBlock>,
    stop_reason: &'a str,
    stop_sequence: Option<&'a str>,
    usage: ClientUsage,
}

/// The message id an Anthropic client sees: the upstream's when it is Anthropic-shaped.
pub(super) fn client_message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{}", crate::ids::fresh_hex())
    }
}

/// Canonical → Anthropic client response.
pub fn encode_response(response: &ChatResponse) -> Vec<u8> {
    let (stop_reason, stop_sequence) = stop_reason_for(&response.finish);
    let message = ClientMessage {
        id: client_message_id(&response.id),
        kind: "message",
        role: "assistant",
        model: &response.model,
        content: response.content.iter().filter_map(client_block).collect(),
        stop_reason,
        stop_sequence,
        usage: ClientUsage::from(response.usage.unwrap_or_default()),
    };
    // A struct of strings, numbers and JSON values always serializes.
    serde_json::to_vec(&message).unwrap_or_default()
}

/// One content block of a client response; blocks a response cannot carry are left out.
fn client_block(block: &Block) -> Option<OutBlock> {
    Some(match block {
        Block::Text { text } => OutBlock::Text { text: text.clone() },
        Block::ToolCall {
            id,
            name,
            arguments,
        } => OutBlock::ToolUse {
            id: tool_id(id),
            name: name.clone(),
            input: tool_input(arguments),
        },
        Block::Thinking { text, signature } => OutBlock::Thinking {
            thinking: text.clone(),
            signature: match signature {
                Some(signature) => signature_for_client(signature),
                // Thinking without a signature never comes from Anthropic.
                None => invented_signature(Dialect::OpenAiChat, ""),
            },
        },
        Block::RedactedThinking { data } => OutBlock::RedactedThinking { data: data.clone() },
        Block::Unknown {
            dialect: Dialect::Anthropic,
            value,
        } => OutBlock::Raw(value.clone()),
        Block::Image { .. } | Block::ToolResult { .. } | Block::Unknown { .. } => return None,
    })
}
