//! `ChatRequest` → the body of a Messages API request to an Anthropic upstream, keeping
//! Anthropic's rules: `max_tokens` always set, roles alternating, tool results first in their
//! turn, only Anthropic-issued thinking sent back, thinking only where Anthropic accepts it.

use serde::Serialize;
use serde_json::{Value, json};

use super::wire::{OutBlock, tool_id, tool_input};
use crate::error::GatewayError;
use crate::translate::canonical::{
    Block, ChatRequest, Dialect, ImageSource, Reasoning, Role, ToolChoice,
};

/// Anthropic's smallest `thinking.budget_tokens`.
const MIN_THINKING_BUDGET: u64 = 1024;

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Value>,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
}

#[derive(Serialize)]
struct WireMessage {
    role: &'static str,
    content: Vec<OutBlock>,
}

/// Canonical → Anthropic upstream body.
pub fn encode_request(
    request: &ChatRequest,
    default_max_tokens: u64,
) -> Result<Vec<u8>, GatewayError> {
    let messages = encode_messages(request);
    if messages.is_empty() {
        return Err(GatewayError::BadRequest {
            message: "`messages`: nothing left to send to Anthropic; expected at least one \
                      message with text, image or tool content"
                .to_owned(),
            param: Some("messages"),
        });
    }
    let max_tokens = request.max_tokens.unwrap_or(default_max_tokens).max(1);
    let forced_tool = matches!(
        request.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Named(_))
    );
    let mut thinking = request
        .reasoning
        .as_ref()
        .and_then(|reasoning| thinking_config(reasoning, max_tokens));
    // Anthropic refuses thinking with a forced tool, and refuses it when the tool turn being
    // answered did not start with (Anthropic's) thinking, e.g. one another provider produced.
    if thinking_is_on(thinking.as_ref())
        && (forced_tool || !tool_turn_leads_with_thinking(&messages))
    {
        thinking = None;
    }
    let thinking_on = thinking_is_on(thinking.as_ref());
    let messages = if thinking_on {
        messages
    } else {
        without_final_thinking(messages)
    };
    let (temperature, top_p) = sampling(request, thinking_on);
    let body = WireRequest {
        model: &request.model,
        max_tokens,
        system: request
            .system
            .iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| json!({"type": "text", "text": text}))
            .collect(),
        messages,
        tools: request
            .tools
            .iter()
            .map(|tool| {
                let mut value = json!({"name": tool.name, "input_schema": tool.parameters});
                if let Some(description) = &tool.description {
                    value["description"] = Value::String(description.clone());
                }
                value
            })
            .collect(),
        tool_choice: tool_choice(request),
        thinking,
        temperature,
        top_p,
        stop_sequences: &request.stop,
        stream: request.stream,
        metadata: request.user.as_ref().map(|user| json!({"user_id": user})),
    };
    serde_json::to_vec(&body)
        .map_err(|e| GatewayError::Internal(format!("cannot serialize the Anthropic request: {e}")))
}

/// Messages in Anthropic's shape: blocks it cannot take dropped, empty turns left out,
/// consecutive turns of one role merged, tool results first in a user turn.
fn encode_messages(request: &ChatRequest) -> Vec<WireMessage> {
    let mut messages: Vec<WireMessage> = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        let blocks: Vec<OutBlock> = message.content.iter().filter_map(encode_block).collect();
        if blocks.is_empty() {
            continue;
        }
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(WireMessage {
                role,
                content: blocks,
            }),
        }
    }
    for message in &mut messages {
        if message.role == "user" {
            // A stable partition: results in call order, then whatever the user added.
            let (mut results, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut message.content)
                .into_iter()
                .partition(OutBlock::is_tool_result);
            results.extend(rest);
            message.content = results;
        }
    }
    messages
}

fn encode_block(block: &Block) -> Option<OutBlock> {
    match block {
        // Anthropic rejects empty and whitespace-only text blocks.
        Block::Text { text } if text.trim().is_empty() => None,
        Block::Text { text } => Some(OutBlock::Text { text: text.clone() }),
        Block::Image { source } => Some(OutBlock::Image {
            source: image_source(source),
        }),
        Block::ToolCall {
            id,
            name,
            arguments,
        } => Some(OutBlock::ToolUse {
            id: tool_id(id),
            name: name.clone(),
            input: tool_input(arguments),
        }),
        Block::ToolResult {
            call_id,
            content,
            is_error,
        } => Some(OutBlock::ToolResult {
            tool_use_id: tool_id(call_id),
            content: content
                .iter()
                .filter(|b| {
                    matches!(
                        b,
                        Block::Text { .. } | Block::Image { .. } | Block::Unknown { .. }
                    )
                })
                .filter_map(encode_block)
                .collect(),
            is_error: *is_error,
        }),
        // Only Anthropic's own signatures are accepted; other reasoning stays behind.
        Block::Thinking {
            text,
            signature: Some(signature),
        } if signature.dialect == Dialect::Anthropic => Some(OutBlock::Thinking {
            thinking: text.clone(),
            signature: signature.value.clone(),
        }),
        Block::Thinking { .. } => None,
        Block::RedactedThinking { data } => Some(OutBlock::RedactedThinking { data: data.clone() }),
        Block::Unknown {
            dialect: Dialect::Anthropic,
            value,
        } => Some(OutBlock::Raw(value.clone())),
        Block::Unknown { .. } => None,
    }
}

fn image_source(source: &ImageSource) -> Value {
    match source {
        ImageSource::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        // OpenAI clients send inline images as data URLs; Anthropic's `url` source wants http(s).
        ImageSource::Url { url } => match parse_data_url(url) {
            Some((media_type, data)) => {
                json!({"type": "base64", "media_type": media_type, "data": data})
            }
            None => json!({"type": "url", "url": url}),
        },
    }
}

/// `data:<media type>;base64,<data>` → (media type, data).
fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (header, data) = rest.split_once(',')?;
    let media_type = header.strip_suffix(";base64")?;
    Some((media_type, data))
}

fn tool_choice(request: &ChatRequest) -> Option<Value> {
    if request.tools.is_empty() {
        // Anthropic rejects `tool_choice` without `tools`; `none` is what no tools means anyway.
        return None;
    }
    let disable_parallel = request.parallel_tool_calls == Some(false);
    let mut choice = match &request.tool_choice {
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        Some(ToolChoice::None) => return Some(json!({"type": "none"})),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Named(name)) => json!({"type": "tool", "name": name}),
        None if disable_parallel => json!({"type": "auto"}),
        None => return None,
    };
    if disable_parallel {
        choice["disable_parallel_tool_use"] = Value::Bool(true);
    }
    Some(choice)
}

/// The thinking budget for an effort word. Each level roughly doubles the last; budgets above
/// 32k are documented to be rarely used in full.
fn budget_for_effort(effort: &str) -> u64 {
    match effort {
        "minimal" | "none" => 1024,
        "low" => 4096,
        "high" => 24_576,
        "xhigh" | "max" => 32_768,
        _ => 12_288,
    }
}

/// `thinking` for the request: an explicit budget as asked (kept under `max_tokens`), an effort
/// turned into a budget that leaves at least half of `max_tokens` for the answer. `None` when
/// the budget cannot fit (Anthropic requires 1024 ≤ budget < max_tokens).
fn thinking_config(reasoning: &Reasoning, max_tokens: u64) -> Option<Value> {
    if !reasoning.enabled {
        return Some(json!({"type": "disabled"}));
    }
    let budget = match reasoning.budget_tokens {
        Some(budget) => budget.min(max_tokens.saturating_sub(1)),
        None => {
            let effort = reasoning.effort.as_deref().unwrap_or("medium");
            budget_for_effort(effort).min(max_tokens / 2)
        }
    }
    .max(MIN_THINKING_BUDGET);
    (budget < max_tokens).then(|| json!({"type": "enabled", "budget_tokens": budget}))
}

fn thinking_is_on(thinking: Option<&Value>) -> bool {
    thinking
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|kind| kind == "enabled")
}

/// With thinking on, Anthropic wants the assistant turn whose tool calls the last user turn
/// answers to start with a thinking block. True when that holds or there is no such turn.
fn tool_turn_leads_with_thinking(messages: &[WireMessage]) -> bool {
    let [.., assistant, last] = messages else {
        return true;
    };
    let answers_tools = last.role == "user" && last.content.iter().any(OutBlock::is_tool_result);
    if !answers_tools || assistant.role != "assistant" {
        return true;
    }
    if !assistant.content.iter().any(OutBlock::is_tool_use) {
        return true;
    }
    assistant.content.first().is_some_and(OutBlock::is_thinking)
}

/// With thinking off, Anthropic refuses thinking in a final (prefilled) assistant turn.
fn without_final_thinking(mut messages: Vec<WireMessage>) -> Vec<WireMessage> {
    if let Some(last) = messages.last_mut()
        && last.role == "assistant"
    {
        last.content.retain(|block| !block.is_thinking());
        if last.content.is_empty() {
            messages.pop();
        }
    }
    messages
}

/// Temperature and top_p as Anthropic takes them: with thinking only `top_p` in [0.95, 1];
/// recent models refuse both at once, so temperature wins.
fn sampling(request: &ChatRequest, thinking_on: bool) -> (Option<f64>, Option<f64>) {
    if thinking_on {
        let top_p = request.top_p.filter(|p| (0.95..=1.0).contains(p));
        return (None, top_p);
    }
    match (request.temperature, request.top_p) {
        (Some(temperature), _) => (Some(temperature.clamp(0.0, 1.0)), None),
        (None, top_p) => (None, top_p),
    }
}
