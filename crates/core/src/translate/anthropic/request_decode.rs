//! A client's Messages API request → `ChatRequest`. Accepts everything Claude Code sends; blocks
//! the canonical model does not know (documents, server tool results…) are kept as
//! `Block::Unknown` for an Anthropic upstream. Prompt-caching markers are not kept.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::signature_from_client;
use super::wire::compact_json;
use crate::error::GatewayError;
use crate::translate::canonical::{
    Block, ChatRequest, Dialect, ImageSource, Message, Reasoning, Role, Tool, ToolChoice,
};

#[derive(Deserialize)]
struct WireRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    messages: Option<Vec<WireMessage>>,
    #[serde(default)]
    system: Option<Box<RawValue>>,
    #[serde(default)]
    tools: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    thinking: Option<Value>,
    #[serde(default)]
    output_config: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    stream: Option<bool>,
}

#[derive(Deserialize)]
struct WireMessage {
    role: String,
    content: Box<RawValue>,
}

/// A content block's fields; which ones must be present depends on `type`.
#[derive(Deserialize)]
struct WireBlock {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    input: Option<Box<RawValue>>,
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    content: Option<Box<RawValue>>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    source: Option<Value>,
}

#[derive(Deserialize)]
struct WireTool {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input_schema: Option<Value>,
}

fn bad(message: String) -> GatewayError {
    GatewayError::bad_request(message)
}

fn bad_param(message: String, param: &'static str) -> GatewayError {
    GatewayError::BadRequest {
        message,
        param: Some(param),
    }
}

/// Client → canonical.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let wire: WireRequest = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "request body is not a valid Messages API request: {e}"
        ))
    })?;
    let model = wire.model.ok_or_else(|| {
        bad_param(
            "`model`: missing; expected the model id as a string".to_owned(),
            "model",
        )
    })?;
    let wire_messages = wire.messages.ok_or_else(|| {
        bad_param(
            "`messages`: missing; expected an array of `user` and `assistant` messages".to_owned(),
            "messages",
        )
    })?;
    let mut system = match &wire.system {
        Some(raw) => system_texts(raw, "system")?,
        None => Vec::new(),
    };
    let mut messages = Vec::with_capacity(wire_messages.len());
    for (i, message) in wire_messages.iter().enumerate() {
        let role = match message.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            // Mid-conversation system messages (a Claude Code beta): the canonical model keeps
            // instructions in `system`, in order.
            "system" => {
                system.extend(system_texts(&message.content, &format!("messages[{i}]"))?);
                continue;
            }
            other => {
                return Err(bad(format!(
                    "messages[{i}].role: unknown role `{other}`; expected `user`, `assistant` \
                     or `system`"
                )));
            }
        };
        let content = content_blocks(&message.content, &format!("messages[{i}].content"))?;
        messages.push(Message { role, content });
    }
    let tools = match &wire.tools {
        Some(tools) => decode_tools(tools)?,
        None => Vec::new(),
    };
    let (tool_choice, parallel_tool_calls) = match &wire.tool_choice {
        Some(choice) => decode_tool_choice(choice)?,
        None => (None, None),
    };
    Ok(ChatRequest {
        model,
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens: wire.max_tokens,
        temperature: wire.temperature,
        top_p: wire.top_p,
        stop: wire.stop_sequences.unwrap_or_default(),
        stream: wire.stream.unwrap_or(false),
        reasoning: decode_thinking(wire.thinking.as_ref(), wire.output_config.as_ref())?,
        response_format: None,
        user: wire
            .metadata
            .as_ref()
            .and_then(|m| m.get("user_id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// `system` (or a `system` message's content): a string or an array of `text` blocks.
fn system_texts(raw: &RawValue, path: &str) -> Result<Vec<String>, GatewayError> {
    if let Ok(text) = serde_json::from_str::<String>(raw.get()) {
        return Ok(if text.is_empty() {
            Vec::new()
        } else {
            vec![text]
        });
    }
    let blocks: Vec<Value> = serde_json::from_str(raw.get()).map_err(|_| {
        bad(format!(
            "{path}: expected a string or an array of `text` blocks"
        ))
    })?;
    blocks
        .iter()
        .enumerate()
        .map(|(j, block)| {
            let kind = block.get("type").and_then(Value::as_str);
            match (kind, block.get("text").and_then(Value::as_str)) {
                (Some("text"), Some(text)) => Ok(text.to_owned()),
                (Some("text"), None) => {
                    Err(bad(format!("{path}[{j}].text: missing; expected a string")))
                }
                (other, _) => Err(bad(format!(
                    "{path}[{j}]: unknown block type `{}`; expected `text`",
                    other.unwrap_or("")
                ))),
            }
        })
        .collect()
}

/// A message's `content`: a string (one text block) or an array of blocks.
fn content_blocks(raw: &RawValue, path: &str) -> Result<Vec<Block>, GatewayError> {
    if let Ok(text) = serde_json::from_str::<String>(raw.get()) {
        return Ok(vec![Block::Text { text }]);
    }
    let blocks: Vec<Box<RawValue>> = serde_json::from_str(raw.get()).map_err(|_| {
        bad(format!(
            "{path}: expected a string or an array of content blocks"
        ))
    })?;
    blocks
        .iter()
        .enumerate()
        .map(|(j, block)| decode_block(block, &format!("{path}[{j}]")))
        .collect()
}

fn decode_block(raw: &RawValue, path: &str) -> Result<Block, GatewayError> {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: Option<String>,
    }
    let kind = serde_json::from_str::<Kind>(raw.get())
        .map_err(|_| bad(format!("{path}: expected a content block object")))?
        .kind
        .ok_or_else(|| {
            bad(format!(
                "{path}.type: missing; expected a block type string"
            ))
        })?;
    if !matches!(
        kind.as_str(),
        "text" | "image" | "tool_use" | "tool_result" | "thinking" | "redacted_thinking"
    ) {
        return unknown_block(raw, path);
    }
    let block: WireBlock = serde_json::from_str(raw.get())
        .map_err(|e| bad(format!("{path}: invalid `{kind}` block: {e}")))?;
    let missing =
        |field: &str, expected: &str| bad(format!("{path}.{field}: missing; expected {expected}"));
    Ok(match kind.as_str() {
        "text" => Block::Text {
            text: block.text.ok_or_else(|| missing("text", "a string"))?,
        },
        "image" => {
            let source = block
                .source
                .ok_or_else(|| missing("source", "a `base64` or `url` image source"))?;
            match image_source(&source) {
                Some(source) => Block::Image { source },
                // File references and the like only mean something to Anthropic.
                None => return unknown_block(raw, path),
            }
        }
        "tool_use" => Block::ToolCall {
            id: block.id.ok_or_else(|| missing("id", "the tool call id"))?,
            name: block.name.ok_or_else(|| missing("name", "the tool name"))?,
            arguments: block
                .input
                .map_or_else(|| "{}".to_owned(), |input| compact_json(input.get())),
        },
        "tool_result" => Block::ToolResult {
            call_id: block
                .tool_use_id
                .ok_or_else(|| missing("tool_use_id", "the id of the `tool_use` it answers"))?,
            content: match &block.content {
                Some(content) => tool_result_content(content, &format!("{path}.content"))?,
                None => Vec::new(),
            },
            is_error: block.is_error.unwrap_or(false),
        },
        "thinking" => Block::Thinking {
            text: block
                .thinking
                .ok_or_else(|| missing("thinking", "a string"))?,
            signature: block
                .signature
                .filter(|s| !s.is_empty())
                .map(|s| signature_from_client(&s)),
        },
        _ => Block::RedactedThinking {
            data: block.data.ok_or_else(|| missing("data", "a string"))?,
        },
    })
}

fn unknown_block(raw: &RawValue, path: &str) -> Result<Block, GatewayError> {
    let value = serde_json::from_str(raw.get())
        .map_err(|e| bad(format!("{path}: invalid content block: {e}")))?;
    Ok(Block::Unknown {
        dialect: Dialect::Anthropic,
        value,
    })
}

/// `{"type":"base64","media_type","data"}` or `{"type":"url","url"}`; `None` for other sources.
fn image_source(source: &Value) -> Option<ImageSource> {
    let text = |field: &str| source.get(field).and_then(Value::as_str).map(str::to_owned);
    match source.get("type").and_then(Value::as_str)? {
        "base64" => Some(ImageSource::Base64 {
            media_type: text("media_type")?,
            data: text("data")?,
        }),
        "url" => Some(ImageSource::Url { url: text("url")? }),
        _ => None,
    }
}

/// A `tool_result`'s `content`: a string or an array of text and image blocks.
fn tool_result_content(raw: &RawValue, path: &str) -> Result<Vec<Block>, GatewayError> {
    if let Ok(text) = serde_json::from_str::<String>(raw.get()) {
        return Ok(if text.is_empty() {
            Vec::new()
        } else {
            vec![Block::Text { text }]
        });
    }
    content_blocks(raw, path)
}

fn decode_tools(tools: &[Box<RawValue>]) -> Result<Vec<Tool>, GatewayError> {
    let mut decoded = Vec::with_capacity(tools.len());
    for (i, raw) in tools.iter().enumerate() {
        let tool: WireTool = serde_json::from_str(raw.get())
            .map_err(|e| bad(format!("tools[{i}]: invalid tool definition: {e}")))?;
        // Server tools (`web_search_20250305`…) run at Anthropic; no other provider can run
        // them, and the canonical model has no place for them.
        if tool.kind.as_deref().is_some_and(|kind| kind != "custom") {
            continue;
        }
        decoded.push(Tool {
            name: tool.name,
            description: tool.description,
            parameters: tool
                .input_schema
                .unwrap_or_else(|| serde_json::json!({"type": "object"})),
        });
    }
    Ok(decoded)
}

/// `tool_choice` → the canonical choice and `parallel_tool_calls`.
fn decode_tool_choice(choice: &Value) -> Result<(Option<ToolChoice>, Option<bool>), GatewayError> {
    let parallel = choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        .map(|disabled| !disabled);
    let mode = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => match choice.get("name").and_then(Value::as_str) {
            Some(name) => ToolChoice::Named(name.to_owned()),
            None => {
                return Err(bad_param(
                    "tool_choice.name: missing; expected the name of the tool to call".to_owned(),
                    "tool_choice",
                ));
            }
        },
        other => {
            return Err(bad_param(
                format!(
                    "tool_choice.type: unknown choice `{}`; expected `auto`, `any`, `tool` or \
                     `none`",
                    other.unwrap_or("")
                ),
                "tool_choice",
            ));
        }
    };
    Ok((Some(mode), parallel))
}

/// `thinking` (with `output_config.effort`, which steers adaptive thinking) → `Reasoning`.
fn decode_thinking(
    thinking: Option<&Value>,
    output_config: Option<&Value>,
) -> Result<Option<Reasoning>, GatewayError> {
    let Some(thinking) = thinking else {
        return Ok(None);
    };
    let effort = output_config
        .and_then(|c| c.get("effort"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    match thinking.get("type").and_then(Value::as_str) {
        Some("enabled") => Ok(Some(Reasoning {
            effort,
            budget_tokens: thinking.get("budget_tokens").and_then(Value::as_u64),
            enabled: true,
        })),
        Some("adaptive") => Ok(Some(Reasoning {
            effort,
            budget_tokens: None,
            enabled: true,
        })),
        Some("disabled") => Ok(Some(Reasoning {
            effort: None,
            budget_tokens: None,
            enabled: false,
        })),
        other => Err(bad_param(
            format!(
                "thinking.type: unknown type `{}`; expected `enabled`, `adaptive` or `disabled`",
                other.unwrap_or("")
            ),
            "thinking",
        )),
    }
}
