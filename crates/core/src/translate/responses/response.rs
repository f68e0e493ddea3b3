//! Canonical answer → Responses API `response` object: output items (reasoning, message,
//! function call), status, usage. The stream encoder builds its final object here too.

use serde_json::{Value, json};

use super::{ReasoningEnvelope, item_id, response_id, split_tool_name, unix_now};
use crate::translate::canonical::{Block, ChatResponse, FinishReason};
use crate::usage::Usage;

/// Canonical → the body of a non-streamed `/v1/responses` answer.
pub fn encode_response(response: &ChatResponse) -> Vec<u8> {
    let id = response_id(&response.id);
    let mut items: Vec<OutputItem> = Vec::new();
    for block in &response.content {
        let index = items.len();
        match block {
            Block::Text { text } => match items.last_mut() {
                Some(OutputItem::Message { text: open, .. }) => open.push_str(text),
                _ => items.push(OutputItem::Message {
                    id: item_id("msg", &id, index),
                    text: text.clone(),
                    status: ItemStatus::Completed,
                }),
            },
            Block::Thinking { text, signature } => items.push(OutputItem::Reasoning {
                id: item_id("rs", &id, index),
                text: text.clone(),
                encrypted: signature
                    .clone()
                    .map(|s| ReasoningEnvelope::Signature(s).encode()),
            }),
            Block::RedactedThinking { data } => items.push(OutputItem::Reasoning {
                id: item_id("rs", &id, index),
                text: String::new(),
                encrypted: Some(ReasoningEnvelope::Redacted(data.clone()).encode()),
            }),
            Block::ToolCall {
                id: call_id,
                name,
                arguments,
            } => items.push(OutputItem::FunctionCall {
                id: item_id("fc", &id, index),
                call_id: call_id.clone(),
                name: name.clone(),
                arguments: arguments.clone(),
                status: ItemStatus::Completed,
            }),
            // Not something a model outputs in this API; nothing to show.
            Block::Image { .. } | Block::ToolResult { .. } | Block::Unknown { .. } => {}
        }
    }
    if response.finish == FinishReason::Length
        && let Some(last) = items.last_mut()
    {
        last.mark_incomplete();
    }
    let output: Vec<Value> = items.iter().map(OutputItem::to_json).collect();
    let terminal = Terminal::from_finish(&response.finish);
    response_object(
        &id,
        &response.model,
        unix_now(),
        &terminal,
        output,
        response.usage.as_ref(),
    )
    .to_string()
    .into_bytes()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ItemStatus {
    InProgress,
    Completed,
    Incomplete,
}

impl ItemStatus {
    fn as_str(self) -> &'static str {
        match self {
            ItemStatus::InProgress => "in_progress",
            ItemStatus::Completed => "completed",
            ItemStatus::Incomplete => "incomplete",
        }
    }
}

/// One output item, as sent in `output_item.added`/`done` and in the final `output`.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum OutputItem {
    Message {
        id: String,
        text: String,
        status: ItemStatus,
    },
    Reasoning {
        id: String,
        text: String,
        /// Our envelope (signature or redacted thinking), when there is one.
        encrypted: Option<String>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        /// The canonical name; a qualified name is split into `namespace` and `name`.
        name: String,
        arguments: String,
        status: ItemStatus,
    },
}

impl OutputItem {
    pub(super) fn mark_incomplete(&mut self) {
        match self {
            OutputItem::Message { status, .. } | OutputItem::FunctionCall { status, .. } => {
                *status = ItemStatus::Incomplete;
            }
            OutputItem::Reasoning { .. } => {}
        }
    }

    pub(super) fn set_status(&mut self, new: ItemStatus) {
        match self {
            OutputItem::Message { status, .. } | OutputItem::FunctionCall { status, .. } => {
                *status = new;
            }
            OutputItem::Reasoning { .. } => {}
        }
    }

    pub(super) fn to_json(&self) -> Value {
        match self {
            OutputItem::Message { id, text, status } => {
                // An item just opened has no parts yet; parts arrive with `content_part.added`.
                let content = if *status == ItemStatus::InProgress {
                    json!([])
                } else {
                    json!([output_text_part(text)])
                };
                json!({
                    "type": "message",
                    "id": id,
                    "status": status.as_str(),
                    "role": "assistant",
                    "content": content,
                })
            }
            OutputItem::Reasoning {
                id,
                text,
                encrypted,
            } => {
                let summary = if text.is_empty() {
                    json!([])
                } else {
                    json!([{"type": "summary_text", "text": text}])
                };
                let mut item = json!({"type": "reasoning", "id": id, "summary": summary});
                if let Some(encrypted) = encrypted {
                    item["encrypted_content"] = json!(encrypted);
                }
                item
            }
            OutputItem::FunctionCall {
                id,
                call_id,
                name,
                arguments,
                status,
            } => {
                let (namespace, bare) = split_tool_name(name);
                let mut item = json!({
                    "type": "function_call",
                    "id": id,
                    "call_id": call_id,
                    "name": bare,
                    "arguments": arguments,
                    "status": status.as_str(),
                });
                if let Some(namespace) = namespace {
                    item["namespace"] = json!(namespace);
                }
                item
            }
        }
    }
}

pub(super) fn output_text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// How a response ended, as the `response` object says it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Terminal {
    InProgress,
    Completed,
    /// `incomplete_details.reason`: `max_output_tokens` or `content_filter`.
    Incomplete(&'static str),
    Failed {
        code: String,
        message: String,
    },
}

impl Terminal {
    pub(super) fn from_finish(finish: &FinishReason) -> Terminal {
        match finish {
            FinishReason::Length => Terminal::Incomplete("max_output_tokens"),
            FinishReason::ContentFilter => Terminal::Incomplete("content_filter"),
            FinishReason::Stop
            | FinishReason::StopSequence(_)
            | FinishReason::ToolCalls
            | FinishReason::Other(_) => Terminal::Completed,
        }
    }
}

pub(super) fn response_object(
    id: &str,
    model: &str,
    created_at: u64,
    terminal: &Terminal,
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    let (status, incomplete_details, error) = match terminal {
        Terminal::InProgress => ("in_progress", Value::Null, Value::Null),
        Terminal::Completed => ("completed", Value::Null, Value::Null),
        Terminal::Incomplete(reason) => ("incomplete", json!({ "reason": reason }), Value::Null),
        Terminal::Failed { code, message } => (
            "failed",
            Value::Null,
            json!({"code": code, "message": message}),
        ),
    };
    json!({
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": incomplete_details,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "metadata": {},
        "usage": usage.map(usage_json),
    })
}

/// OpenAI's usage shape; `total_tokens` is input plus output, as OpenAI counts it.
pub(super) fn usage_json(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}
