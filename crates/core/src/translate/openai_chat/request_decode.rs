//! Client → canonical: an OpenAI chat completions request as Continue, Aider, Cline and the
//! openai SDK send it (legacy `functions` / `function_call` included).

use serde_json::{Map, Value};

use crate::error::GatewayError;
use crate::translate::{
    Block, ChatRequest, Dialect, ImageSource, Message, Reasoning, Role, Tool, ToolChoice,
};

/// Decodes a `/v1/chat/completions` body. Unknown top-level fields (`n`, `seed`, `logprobs`…)
/// are ignored; a field of the wrong shape is a `BadRequest` naming it.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| GatewayError::bad_request(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(root) = value else {
        return Err(GatewayError::bad_request(
            "request body: expected a JSON object",
        ));
    };
    let model = match root.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => return Err(bad("model", "`model`: expected the model id as a string")),
    };
    let mut request = ChatRequest {
        model,
        ..ChatRequest::default()
    };
    decode_messages(&root, &mut request)?;
    decode_tools(&root, &mut request)?;
    decode_options(&root, &mut request)?;
    Ok(request)
}

/// Whether a streamed request asked for the final usage chunk (`stream_options.include_usage`),
/// which the client's `OpenAiStreamEncoder` needs to know.
pub fn include_usage(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| {
        v.pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true)
    })
}

fn bad(param: &'static str, message: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest {
        message: message.into(),
        param: Some(param),
    }
}

fn messages_error(message: String) -> GatewayError {
    bad("messages", message)
}

fn decode_messages(
    root: &Map<String, Value>,
    request: &mut ChatRequest,
) -> Result<(), GatewayError> {
    let messages = match root.get("messages") {
        Some(Value::Array(messages)) if !messages.is_empty() => messages,
        Some(Value::Array(_)) => {
            return Err(messages_error(
                "`messages`: empty; expected at least one message".to_owned(),
            ));
        }
        _ => {
            return Err(messages_error(
                "`messages`: expected an array of messages".to_owned(),
            ));
        }
    };
    // Legacy `function_call`s carry no id: each gets one, and the `function` message that
    // answers it (by name) finds it again.
    let mut legacy_calls: Vec<(String, String)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let Value::Object(message) = message else {
            return Err(messages_error(format!("`{path}`: expected an object")));
        };
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "system" | "developer" => {
                let text = text_content(message.get("content"), &path)?;
                request.system.push(text);
            }
            "user" => {
                let content = user_content(message.get("content"), &path)?;
                request.messages.push(Message {
                    role: Role::User,
                    content,
                });
            }
            "assistant" => {
                let content = assistant_content(message, &path, i, &mut legacy_calls)?;
                request.messages.push(Message {
                    role: Role::Assistant,
                    content,
                });
            }
            "tool" | "function" => {
                let call_id = if role == "tool" {
                    match message.get("tool_call_id") {
                        Some(Value::String(id)) => id.clone(),
                        _ => {
                            return Err(messages_error(format!(
                                "`{path}.tool_call_id`: expected the id of the tool call this \
                                 message answers"
                            )));
                        }
                    }
                } else {
                    let name = message.get("name").and_then(Value::as_str).unwrap_or("");
                    legacy_calls
                        .iter()
                        .rev()
                        .find(|(call_name, _)| call_name == name)
                        .map_or_else(|| format!("call_{name}"), |(_, id)| id.clone())
                };
                let text = text_content(message.get("content"), &path)?;
                let result = Block::ToolResult {
                    call_id,
                    content: vec![Block::Text { text }],
                    is_error: false,
                };
                // Consecutive tool messages answer one assistant turn: one canonical user turn.
                Message::push_tool_result(&mut request.messages, result);
            }
            other => {
                return Err(messages_error(format!(
                    "`{path}.role`: unknown role `{other}`; expected `system`, `developer`, \
                     `user`, `assistant` or `tool`"
                )));
            }
        }
    }
    Ok(())
}

/// Text of a system, tool or function message: a string, or text parts joined.
fn text_content(content: Option<&Value>, path: &str) -> Result<String, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => {
            let mut text = String::new();
            for (k, part) in parts.iter().enumerate() {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        text.push_str(part_text(part, &format!("{path}.content[{k}]"))?)
                    }
                    other => {
                        return Err(messages_error(format!(
                            "`{path}.content[{k}]`: unsupported part type `{}` here; expected \
                             `text`",
                            other.unwrap_or("")
                        )));
                    }
                }
            }
            Ok(text)
        }
        Some(_) => Err(messages_error(format!(
            "`{path}.content`: expected a string or an array of text parts"
        ))),
    }
}

fn part_text<'v>(part: &'v Value, path: &str) -> Result<&'v str, GatewayError> {
    part.get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| messages_error(format!("`{path}.text`: expected a string")))
}

fn user_content(content: Option<&Value>, path: &str) -> Result<Vec<Block>, GatewayError> {
    match content {
        Some(Value::String(text)) => Ok(vec![Block::Text { text: text.clone() }]),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for (k, part) in parts.iter().enumerate() {
                let part_path = format!("{path}.content[{k}]");
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => blocks.push(Block::Text {
                        text: part_text(part, &part_path)?.to_owned(),
                    }),
                    Some("image_url") => blocks.push(image_block(part, &part_path)?),
                    // Audio and files: kept for an OpenAI upstream, which understands them.
                    Some("input_audio" | "file") => blocks.push(Block::Unknown {
                        dialect: Dialect::OpenAiChat,
                        value: part.clone(),
                    }),
                    other => {
                        return Err(messages_error(format!(
                            "`{part_path}.type`: unknown part type `{}`; expected `text`, \
                             `image_url`, `input_audio` or `file`",
                            other.unwrap_or("")
                        )));
                    }
                }
            }
            Ok(blocks)
        }
        _ => Err(messages_error(format!(
            "`{path}.content`: expected a string or an array of content parts"
        ))),
    }
}

/// `{"type":"image_url","image_url":{"url":…}}` (or the older `"image_url": "…"`): a `data:` URL
/// becomes base64 data, anything else stays a URL.
fn image_block(part: &Value, path: &str) -> Result<Block, GatewayError> {
    let url = match part.get("image_url") {
        Some(Value::String(url)) => url.as_str(),
        Some(object) => object.get("url").and_then(Value::as_str).unwrap_or(""),
        None => "",
    };
    if url.is_empty() {
        return Err(messages_error(format!(
            "`{path}.image_url.url`: expected an http(s) or `data:` URL"
        )));
    }
    Ok(Block::Image {
        source: image_source(url),
    })
}

/// `data:<media type>;base64,<data>` → base64 source; any other URL as is.
pub(crate) fn image_source(url: &str) -> ImageSource {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((header, data)) = rest.split_once(',')
        && let Some(media_type) = header.strip_suffix(";base64")
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

fn assistant_content(
    message: &Map<String, Value>,
    path: &str,
    index: usize,
    legacy_calls: &mut Vec<(String, String)>,
) -> Result<Vec<Block>, GatewayError> {
    let mut blocks = Vec::new();
    // DeepSeek / Kimi send `reasoning_content` back; OpenRouter and vLLM call it `reasoning`.
    let reasoning = message
        .get("reasoning_content")
        .or_else(|| message.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty());
    if let Some(text) = reasoning {
        blocks.push(Block::Thinking {
            text: text.to_owned(),
            signature: None,
        });
    }
    match message.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            if !text.is_empty() {
                blocks.push(Block::Text { text: text.clone() });
            }
        }
        Some(Value::Array(parts)) => {
            for (k, part) in parts.iter().enumerate() {
                let part_path = format!("{path}.content[{k}]");
                let text = match part.get("type").and_then(Value::as_str) {
                    Some("text") => part_text(part, &part_path)?,
                    Some("refusal") => part.get("refusal").and_then(Value::as_str).unwrap_or(""),
                    other => {
                        return Err(messages_error(format!(
                            "`{part_path}.type`: unknown part type `{}`; expected `text` or \
                             `refusal`",
                            other.unwrap_or("")
                        )));
                    }
                };
                blocks.push(Block::Text {
                    text: text.to_owned(),
                });
            }
        }
        Some(_) => {
            return Err(messages_error(format!(
                "`{path}.content`: expected a string, an array of parts, or null"
            )));
        }
    }
    if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
        let Value::Array(calls) = calls else {
            return Err(messages_error(format!(
                "`{path}.tool_calls`: expected an array"
            )));
        };
        for (k, call) in calls.iter().enumerate() {
            let call_path = format!("{path}.tool_calls[{k}]");
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| messages_error(format!("`{call_path}.id`: expected a string")))?;
            let (name, arguments) = function_fields(call.get("function"), &call_path)?;
            blocks.push(Block::ToolCall {
                id: id.to_owned(),
                name,
                arguments,
            });
        }
    }
    if let Some(call) = message.get("function_call").filter(|v| !v.is_null()) {
        let (name, arguments) = function_fields(Some(call), path)?;
        let id = format!("call_{index}");
        legacy_calls.push((name.clone(), id.clone()));
        blocks.push(Block::ToolCall {
            id,
            name,
            arguments,
        });
    }
    Ok(blocks)
}

/// `{"name":…, "arguments":"…"}` of a tool call; arguments sent as an object are re-serialized.
fn function_fields(function: Option<&Value>, path: &str) -> Result<(String, String), GatewayError> {
    let name = function
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| messages_error(format!("`{path}.function.name`: expected a string")))?;
    let arguments = match function.and_then(|f| f.get("arguments")) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(arguments)) => arguments.clone(),
        Some(other) => other.to_string(),
    };
    Ok((name.to_owned(), arguments))
}

fn decode_tools(root: &Map<String, Value>, request: &mut ChatRequest) -> Result<(), GatewayError> {
    if let Some(tools) = root.get("tools").filter(|v| !v.is_null()) {
        let Value::Array(tools) = tools else {
            return Err(bad("tools", "`tools`: expected an array of tools"));
        };
        for (i, tool) in tools.iter().enumerate() {
            let kind = tool
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("function");
            if kind != "function" {
                return Err(bad(
                    "tools",
                    format!("`tools[{i}].type`: unknown tool type `{kind}`; expected `function`"),
                ));
            }
            request.tools.push(tool_definition(
                tool.get("function"),
                &format!("tools[{i}].function"),
            )?);
        }
    }
    if let Some(Value::Array(functions)) = root.get("functions") {
        for (i, function) in functions.iter().enumerate() {
            request
                .tools
                .push(tool_definition(Some(function), &format!("functions[{i}]"))?);
        }
    }
    request.tool_choice = match root.get("tool_choice").filter(|v| !v.is_null()) {
        Some(choice) => Some(tool_choice(choice, "tool_choice")?),
        None => match root.get("function_call").filter(|v| !v.is_null()) {
            Some(choice) => Some(tool_choice(choice, "function_call")?),
            None => None,
        },
    };
    request.parallel_tool_calls = root.get("parallel_tool_calls").and_then(Value::as_bool);
    Ok(())
}

fn tool_definition(function: Option<&Value>, path: &str) -> Result<Tool, GatewayError> {
    let name = function
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            bad(
                "tools",
                format!("`{path}.name`: expected the function's name"),
            )
        })?;
    let description = function
        .and_then(|f| f.get("description"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let parameters = function
        .and_then(|f| f.get("parameters"))
        .filter(|p| !p.is_null())
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
    Ok(Tool {
        name: name.to_owned(),
        description,
        parameters,
    })
}

fn tool_choice(choice: &Value, param: &'static str) -> Result<ToolChoice, GatewayError> {
    match choice {
        Value::String(word) => match word.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" | "any" => Ok(ToolChoice::Required),
            other => Err(bad(
                param,
                format!(
                    "`{param}`: unknown choice `{other}`; expected `auto`, `none`, `required` or an object naming a function"
                ),
            )),
        },
        Value::Object(object) => {
            let name = object
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| object.get("name"))
                .and_then(Value::as_str);
            match name {
                Some(name) => Ok(ToolChoice::Named(name.to_owned())),
                None => Err(bad(
                    param,
                    format!("`{param}.function.name`: expected the name of the function to call"),
                )),
            }
        }
        _ => Err(bad(
            param,
            format!("`{param}`: expected a string or an object naming a function"),
        )),
    }
}

fn number(root: &Map<String, Value>, key: &'static str) -> Result<Option<f64>, GatewayError> {
    match root.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(bad(key, format!("`{key}`: expected a number"))),
    }
}

fn count(root: &Map<String, Value>, key: &'static str) -> Result<Option<u64>, GatewayError> {
    match root.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| bad(key, format!("`{key}`: expected a non-negative integer"))),
    }
}

fn decode_options(
    root: &Map<String, Value>,
    request: &mut ChatRequest,
) -> Result<(), GatewayError> {
    request.max_tokens = match count(root, "max_completion_tokens")? {
        Some(limit) => Some(limit),
        None => count(root, "max_tokens")?,
    };
    request.temperature = number(root, "temperature")?;
    request.top_p = number(root, "top_p")?;
    request.stop = match root.get("stop") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(stop)) => vec![stop.clone()],
        Some(Value::Array(stops)) => stops
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("stop", "`stop`: expected a string or an array of strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad(
                "stop",
                "`stop`: expected a string or an array of strings",
            ));
        }
    };
    request.stream = root.get("stream").and_then(Value::as_bool).unwrap_or(false);
    request.reasoning = reasoning(root)?;
    request.response_format = root
        .get("response_format")
        .filter(|v| !v.is_null())
        .cloned();
    request.user = root.get("user").and_then(Value::as_str).map(str::to_owned);
    Ok(())
}

/// `reasoning_effort` (OpenAI), or the `reasoning: {effort, max_tokens}` object OpenRouter uses.
fn reasoning(root: &Map<String, Value>) -> Result<Option<Reasoning>, GatewayError> {
    let object = root.get("reasoning").and_then(Value::as_object);
    let effort = match root.get("reasoning_effort") {
        None | Some(Value::Null) => object
            .and_then(|o| o.get("effort"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        Some(Value::String(effort)) => Some(effort.clone()),
        Some(_) => {
            return Err(bad(
                "reasoning_effort",
                "`reasoning_effort`: expected `minimal`, `low`, `medium` or `high`",
            ));
        }
    };
    let budget_tokens = object
        .and_then(|o| o.get("max_tokens"))
        .and_then(Value::as_u64);
    if effort.is_none() && budget_tokens.is_none() {
        return Ok(None);
    }
    let enabled = effort.as_deref() != Some("none")
        && object
            .and_then(|o| o.get("enabled"))
            .and_then(Value::as_bool)
            != Some(false);
    Ok(Some(Reasoning {
        effort: effort.filter(|e| e != "none"),
        budget_tokens,
        enabled,
    }))
}
