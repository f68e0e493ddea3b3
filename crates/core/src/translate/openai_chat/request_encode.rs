//! Canonical → OpenAI-compatible upstream: the `/chat/completions` body for any vendor, with
//! its quirks applied.

use serde_json::{Map, Value, json};

use super::{OpenAiQuirks, short_tool_id};
use crate::error::GatewayError;
use crate::translate::{Block, ChatRequest, Dialect, ImageSource, Message, Role, ToolChoice};

/// Encodes `request` for an OpenAI-compatible provider. A stream always asks for the final
/// usage chunk (`stream_options.include_usage`): accounting needs it whatever the client asked.
pub fn encode_request(
    request: &ChatRequest,
    quirks: OpenAiQuirks,
) -> Result<Vec<u8>, GatewayError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let mut messages: Vec<Value> = request
        .system
        .iter()
        .map(|text| json!({"role": "system", "content": text}))
        .collect();
    for message in &request.messages {
        match message.role {
            Role::User => user_messages(message, &mut messages, quirks),
            Role::Assistant => messages.push(assistant_message(message, quirks)),
        }
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut function = Map::new();
                function.insert("name".into(), json!(tool.name));
                if let Some(description) = &tool.description {
                    function.insert("description".into(), json!(description));
                }
                function.insert("parameters".into(), tool.parameters.clone());
                json!({"type": "function", "function": function})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        // OpenAI rejects `parallel_tool_calls` without `tools`.
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(choice) = &request.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
        };
        body.insert("tool_choice".into(), choice);
    }
    // `max_tokens` rather than `max_completion_tokens`: every OpenAI-compatible vendor knows it,
    // and some (Mistral) reject fields they do not know. OpenAI's reasoning models are the
    // exception.
    if let Some(limit) = request.max_tokens {
        let field = if quirks.max_completion_tokens {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(field.into(), json!(limit));
    }
    if let Some(temperature) = request.temperature {
        body.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        body.insert("top_p".into(), json!(top_p));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(reasoning) = &request.reasoning {
        let effort = if !reasoning.enabled {
            Some("none".to_owned())
        } else {
            reasoning.effort.clone().or_else(|| {
                reasoning
                    .budget_tokens
                    .map(|budget| effort_for_budget(budget).to_owned())
            })
        };
        if let Some(effort) = effort {
            body.insert("reasoning_effort".into(), json!(effort));
        }
    }
    if let Some(format) = &request.response_format {
        body.insert("response_format".into(), format.clone());
    }
    if let Some(user) = &request.user {
        body.insert("user".into(), json!(user));
    }
    serde_json::to_vec(&Value::Object(body))
        .map_err(|e| GatewayError::Internal(format!("cannot serialize the OpenAI request: {e}")))
}

/// The OpenAI effort closest to a thinking budget (Anthropic-style clients send budgets).
fn effort_for_budget(budget: u64) -> &'static str {
    match budget {
        0..=2048 => "low",
        2049..=16384 => "medium",
        _ => "high",
    }
}

fn tool_id(id: &str, quirks: OpenAiQuirks) -> String {
    if quirks.short_tool_ids {
        short_tool_id(id)
    } else {
        id.to_owned()
    }
}

fn image_part(source: &ImageSource) -> Value {
    let url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url.clone(),
    };
    json!({"type": "image_url", "image_url": {"url": url}})
}

/// A user turn: each tool result becomes a `tool` message (in order), the other blocks one
/// `user` message. Images inside tool results (which `tool` messages cannot carry) follow in a
/// user message of their own.
fn user_messages(message: &Message, out: &mut Vec<Value>, quirks: OpenAiQuirks) {
    let mut parts: Vec<Value> = Vec::new();
    let mut result_images: Vec<Value> = Vec::new();
    for block in &message.content {
        match block {
            Block::Text { text } => parts.push(json!({"type": "text", "text": text})),
            Block::Image { source } => parts.push(image_part(source)),
            Block::ToolResult {
                call_id, content, ..
            } => {
                if !parts.is_empty() {
                    out.push(user_message(std::mem::take(&mut parts)));
                }
                let mut text = String::new();
                for inner in content {
                    match inner {
                        Block::Text { text: t } => text.push_str(t),
                        Block::Image { source } => result_images.push(image_part(source)),
                        _ => {}
                    }
                }
                out.push(json!({
                    "role": "tool",
                    "tool_call_id": tool_id(call_id, quirks),
                    "content": text,
                }));
            }
            Block::Unknown {
                dialect: Dialect::OpenAiChat,
                value,
            } => parts.push(value.clone()),
            _ => {}
        }
    }
    if !result_images.is_empty() {
        out.push(user_message(result_images));
    }
    if !parts.is_empty() {
        out.push(user_message(parts));
    }
}

/// One text part is sent as a plain string, which every vendor accepts.
fn user_message(mut parts: Vec<Value>) -> Value {
    if parts.len() == 1
        && parts[0].get("type").and_then(Value::as_str) == Some("text")
        && let Some(text) = parts[0].get_mut("text").map(Value::take)
    {
        return json!({"role": "user", "content": text});
    }
    json!({"role": "user", "content": parts})
}

fn assistant_message(message: &Message, quirks: OpenAiQuirks) -> Value {
    Value::Object(assistant_fields(
        &message.content,
        |id| tool_id(id, quirks),
        quirks.reasoning_content,
    ))
}

/// An assistant turn's `role`, `content`, `reasoning_content` (when `with_reasoning`) and
/// `tool_calls`, as both a request's history and a whole response carry them.
pub(super) fn assistant_fields(
    blocks: &[Block],
    call_id: impl Fn(&str) -> String,
    with_reasoning: bool,
) -> Map<String, Value> {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block {
            Block::Text { text: t } => text.push_str(t),
            Block::Thinking { text: t, .. } => reasoning.push_str(t),
            Block::ToolCall {
                id,
                name,
                arguments,
            } => calls.push(json!({
                "id": call_id(id),
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            })),
            _ => {}
        }
    }
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    // `content: null` is what OpenAI itself sends beside tool calls.
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    out.insert("content".into(), content);
    if with_reasoning && !reasoning.is_empty() {
        out.insert("reasoning_content".into(), json!(reasoning));
    }
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    out
}
