//! The `input` of a `/v1/responses` request → canonical messages: message items, function and
//! custom tool calls and their outputs, shell calls, and reasoning items.
//!
//! Layout rules: consecutive model-side items (assistant messages, reasoning, calls) form one
//! assistant message; consecutive tool outputs form one user message. System and developer
//! messages before the conversation become `system`; later ones (Codex inserts some mid-way)
//! become user text in place, so the prompt prefix stays stable for provider caches.
//! Items that carry no conversation content (hosted tool records such as `web_search_call`,
//! `compaction`, `item_reference`, and types we do not know) are skipped.

use serde_json::{Value, json};

use super::{ReasoningEnvelope, qualified_tool_name};
use crate::error::GatewayError;
use crate::translate::canonical::{Block, ImageSource, Message, Role};

pub(super) fn decode_input(
    input: &Value,
    system: &mut Vec<String>,
) -> Result<Vec<Message>, GatewayError> {
    let items = match input {
        Value::String(text) => {
            return Ok(vec![Message {
                role: Role::User,
                content: vec![Block::Text { text: text.clone() }],
            }]);
        }
        Value::Array(items) => items,
        _ => {
            return Err(bad(
                "`input` must be a string or an array of items".to_owned()
            ));
        }
    };
    let mut conversation = Conversation {
        messages: Vec::new(),
        system,
    };
    for (index, item) in items.iter().enumerate() {
        conversation.add_item(item, &format!("input[{index}]"))?;
    }
    Ok(conversation.messages)
}

fn bad(message: String) -> GatewayError {
    GatewayError::BadRequest {
        message,
        param: Some("input"),
    }
}

struct Conversation<'a> {
    messages: Vec<Message>,
    system: &'a mut Vec<String>,
}

impl Conversation<'_> {
    fn add_item(&mut self, item: &Value, path: &str) -> Result<(), GatewayError> {
        if !item.is_object() {
            return Err(bad(format!("{path}: each input item must be an object")));
        }
        let kind = match item.get("type").and_then(Value::as_str) {
            Some(kind) => kind,
            // An "easy" input message: `{"role": …, "content": …}` without a type.
            None if item.get("role").is_some() => "message",
            None => {
                return Err(bad(format!(
                    "{path}: the item needs a string `type` (`message`, `function_call`, \
                     `function_call_output`, `reasoning`…)"
                )));
            }
        };
        match kind {
            "message" => self.add_message(item, path),
            "function_call" => {
                let name = call_name(item, path)?;
                let arguments = match item.get("arguments") {
                    Some(Value::String(arguments)) => arguments.clone(),
                    None | Some(Value::Null) => "{}".to_owned(),
                    // Tolerate clients that send the arguments already parsed.
                    Some(other) => other.to_string(),
                };
                let id = required_str(item, "call_id", kind, path)?.to_owned();
                self.push_model_block(Block::ToolCall {
                    id,
                    name,
                    arguments,
                });
                Ok(())
            }
            "custom_tool_call" => {
                let name = call_name(item, path)?;
                let input = item
                    .get("input")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let id = required_str(item, "call_id", kind, path)?.to_owned();
                self.push_model_block(Block::ToolCall {
                    id,
                    name,
                    arguments: json!({ "input": input }).to_string(),
                });
                Ok(())
            }
            "local_shell_call" => {
                let id = item
                    .get("call_id")
                    .or_else(|| item.get("id"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{path}: `local_shell_call` needs a `call_id`")))?
                    .to_owned();
                let action = item.get("action").cloned().unwrap_or(Value::Null);
                let arguments = json!({
                    "command": action.get("command").cloned().unwrap_or_else(|| json!([])),
                    "workdir": action.get("working_directory").cloned().unwrap_or(Value::Null),
                    "timeout_ms": action.get("timeout_ms").cloned().unwrap_or(Value::Null),
                });
                self.push_model_block(Block::ToolCall {
                    id,
                    name: "local_shell".to_owned(),
                    arguments: arguments.to_string(),
                });
                Ok(())
            }
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                let call_id = item
                    .get("call_id")
                    .or_else(|| item.get("id"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{path}: `{kind}` needs a string `call_id`")))?
                    .to_owned();
                let (content, is_error) = tool_output(item.get("output"), path)?;
                self.push_tool_result(Block::ToolResult {
                    call_id,
                    content,
                    is_error,
                });
                Ok(())
            }
            "reasoning" => {
                if let Some(block) = reasoning_block(item) {
                    self.push_model_block(block);
                }
                Ok(())
            }
            _ => {
                tracing::debug!("{path}: skipping input item of type `{kind}`");
                Ok(())
            }
        }
    }

    fn add_message(&mut self, item: &Value, path: &str) -> Result<(), GatewayError> {
        let role = item.get("role").and_then(Value::as_str).unwrap_or_default();
        let content = message_content(item.get("content"), path)?;
        match role {
            "user" => self.messages.push(Message {
                role: Role::User,
                content,
            }),
            "assistant" => {
                for block in content {
                    self.push_model_block(block);
                }
            }
            "system" | "developer" if self.messages.is_empty() => {
                for block in content {
                    match block {
                        Block::Text { text } => self.system.push(text),
                        _ => {
                            return Err(bad(format!(
                                "{path}: `{role}` messages may only contain text"
                            )));
                        }
                    }
                }
            }
            "system" | "developer" => self.messages.push(Message {
                role: Role::User,
                content,
            }),
            _ => {
                return Err(bad(format!(
                    "{path}: unknown role `{role}`; expected `user`, `assistant`, `system` or \
                     `developer`"
                )));
            }
        }
        Ok(())
    }

    /// Adds a model-side block to the assistant message being built, or starts one.
    fn push_model_block(&mut self, block: Block) {
        match self.messages.last_mut() {
            Some(last) if last.role == Role::Assistant => last.content.push(block),
            _ => self.messages.push(Message {
                role: Role::Assistant,
                content: vec![block],
            }),
        }
    }

    /// Adds a tool result to the run of tool results being built, or starts one.
    fn push_tool_result(&mut self, block: Block) {
        Message::push_tool_result(&mut self.messages, block);
    }
}

fn required_str<'a>(
    item: &'a Value,
    key: &str,
    kind: &str,
    path: &str,
) -> Result<&'a str, GatewayError> {
    match item.get(key).and_then(Value::as_str) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(bad(format!(
            "{path}: `{kind}` needs a non-empty string `{key}`"
        ))),
    }
}

/// The canonical tool name of a call: qualified when the call names its namespace.
fn call_name(item: &Value, path: &str) -> Result<String, GatewayError> {
    let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
    let name = required_str(item, "name", kind, path)?;
    Ok(match item.get("namespace").and_then(Value::as_str) {
        Some(namespace) if !namespace.is_empty() => qualified_tool_name(namespace, name),
        _ => name.to_owned(),
    })
}

/// A message's `content`: a string, or an array of parts.
fn message_content(content: Option<&Value>, path: &str) -> Result<Vec<Block>, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![Block::Text { text: text.clone() }]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(index, part)| content_part(part, &format!("{path}.content[{index}]")))
            .collect(),
        Some(_) => Err(bad(format!(
            "{path}.content: expected a string or an array of content parts"
        ))),
    }
}

fn content_part(part: &Value, path: &str) -> Result<Block, GatewayError> {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
    let text_of = |key: &str| -> Result<Block, GatewayError> {
        match part.get(key).and_then(Value::as_str) {
            Some(text) => Ok(Block::Text {
                text: text.to_owned(),
            }),
            None => Err(bad(format!("{path}: `{kind}` needs a string `{key}`"))),
        }
    };
    match kind {
        "input_text" | "output_text" | "text" => text_of("text"),
        "refusal" => text_of("refusal"),
        "input_image" => {
            let url = match part.get("image_url") {
                Some(Value::String(url)) => url.as_str(),
                Some(Value::Object(fields)) => fields
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                _ => "",
            };
            if url.is_empty() {
                return Err(bad(format!(
                    "{path}: `input_image` needs an `image_url` (a data URL or an https URL); \
                     `file_id` images are not supported"
                )));
            }
            Ok(Block::Image {
                source: image_source(url),
            })
        }
        _ => Err(bad(format!(
            "{path}: unsupported content type `{kind}`; expected `input_text`, `output_text`, \
             `input_image` or `refusal`"
        ))),
    }
}

/// `data:<media type>;base64,<data>` → base64 source; anything else is a URL.
fn image_source(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((meta, data)) = rest.split_once(',')
        && let Some(media_type) = meta.strip_suffix(";base64")
    {
        return ImageSource::Base64 {
            media_type: media_type.to_owned(),
            data: data.to_owned(),
        };
    }
    ImageSource::Url {
        url: url.to_owned(),
    }
}

/// A tool output: a string, an array of content parts, or the legacy `{content, success}`.
fn tool_output(output: Option<&Value>, path: &str) -> Result<(Vec<Block>, bool), GatewayError> {
    match output {
        None | Some(Value::Null) => Ok((Vec::new(), false)),
        Some(Value::String(text)) => Ok((vec![Block::Text { text: text.clone() }], false)),
        Some(Value::Array(parts)) => {
            let blocks = parts
                .iter()
                .enumerate()
                .map(|(index, part)| content_part(part, &format!("{path}.output[{index}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((blocks, false))
        }
        Some(Value::Object(fields)) => {
            let is_error = fields.get("success").and_then(Value::as_bool) == Some(false);
            let (content, _) = tool_output(fields.get("content"), path)?;
            Ok((content, is_error))
        }
        Some(_) => Err(bad(format!(
            "{path}.output: expected a string or an array of content parts"
        ))),
    }
}

/// A reasoning item → thinking. The summary is the readable text (the raw `content`, when a
/// client sends it, stands in for an empty summary). `encrypted_content` only means something
/// when we wrote it (a signature or redacted thinking); OpenAI's own blobs are dropped.
fn reasoning_block(item: &Value) -> Option<Block> {
    let texts = |key: &str| -> Vec<String> {
        item.get(key)
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut text = texts("summary").join("\n\n");
    if text.is_empty() {
        text = texts("content").join("\n\n");
    }
    let envelope = item
        .get("encrypted_content")
        .and_then(Value::as_str)
        .and_then(ReasoningEnvelope::decode);
    match envelope {
        Some(ReasoningEnvelope::Redacted(data)) => Some(Block::RedactedThinking { data }),
        Some(ReasoningEnvelope::Signature(signature)) => Some(Block::Thinking {
            text,
            signature: Some(signature),
        }),
        None if text.is_empty() => None,
        None => Some(Block::Thinking {
            text,
            signature: None,
        }),
    }
}
