//! Canonical → Gemini `generateContent` request body.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::SKIP_SIGNATURE_VALIDATOR;
use super::schema::{function_parameters, response_schema};
use crate::error::GatewayError;
use crate::translate::{
    Block, ChatRequest, Dialect, ImageSource, Message, Reasoning, Role, Signature, ToolChoice,
};

/// Encodes `request` as a `generateContent` body (the model goes in the path, see
/// `generate_path`).
pub fn encode_request(request: &ChatRequest) -> Result<Vec<u8>, GatewayError> {
    let mut body = Map::new();
    let system: Vec<Value> = request
        .system
        .iter()
        .filter(|text| !text.is_empty())
        .map(|text| json!({"text": text}))
        .collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    body.insert(
        "contents".into(),
        Value::Array(contents(&request.messages)?),
    );
    let declarations: Vec<Value> = request
        .tools
        .iter()
        .map(|tool| {
            let mut declaration = Map::new();
            declaration.insert("name".into(), json!(tool.name));
            if let Some(description) = &tool.description {
                declaration.insert("description".into(), json!(description));
            }
            if let Some(parameters) = function_parameters(&tool.parameters) {
                declaration.insert("parameters".into(), parameters);
            }
            Value::Object(declaration)
        })
        .collect();
    if !declarations.is_empty() {
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    let generation = generation_config(request);
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    serde_json::to_vec(&Value::Object(body))
        .map_err(|e| GatewayError::Internal(format!("cannot serialize the Gemini request: {e}")))
}

fn generation_config(request: &ChatRequest) -> Map<String, Value> {
    let mut config = Map::new();
    if let Some(limit) = request.max_tokens {
        config.insert("maxOutputTokens".into(), json!(limit));
    }
    if let Some(temperature) = request.temperature {
        config.insert("temperature".into(), json!(temperature));
    }
    if let Some(top_p) = request.top_p {
        config.insert("topP".into(), json!(top_p));
    }
    if !request.stop.is_empty() {
        config.insert("stopSequences".into(), json!(request.stop));
    }
    if let Some(thinking) = request
        .reasoning
        .as_ref()
        .and_then(|r| thinking_config(r, &request.model))
    {
        config.insert("thinkingConfig".into(), thinking);
    }
    if let Some(format) = &request.response_format {
        match format.get("type").and_then(Value::as_str) {
            Some("json_object") => {
                config.insert("responseMimeType".into(), json!("application/json"));
            }
            Some("json_schema") => {
                config.insert("responseMimeType".into(), json!("application/json"));
                if let Some(schema) = format.pointer("/json_schema/schema") {
                    config.insert("responseSchema".into(), response_schema(schema));
                }
            }
            _ => {}
        }
    }
    config
}

/// Gemini 2.x takes a `thinkingBudget`; Gemini 3 takes a `thinkingLevel` (and rejects both
/// together). Budgets win when the client gave one; efforts map to levels, or to budgets on 2.x.
fn thinking_config(reasoning: &Reasoning, model: &str) -> Option<Value> {
    let gemini_2 = model
        .strip_prefix("models/")
        .unwrap_or(model)
        .starts_with("gemini-2");
    if !reasoning.enabled {
        // Gemini 3 cannot turn thinking off; 2.x Flash can, with a zero budget.
        return gemini_2.then(|| json!({"thinkingBudget": 0}));
    }
    if let Some(budget) = reasoning.budget_tokens {
        return Some(json!({"includeThoughts": true, "thinkingBudget": budget}));
    }
    let effort = reasoning.effort.as_deref();
    if gemini_2 {
        let budget = match effort {
            Some("minimal") => 512,
            Some("low") => 1024,
            Some("medium") => 8192,
            Some(_) => 24576,
            // Dynamic thinking.
            None => -1,
        };
        return Some(json!({"includeThoughts": true, "thinkingBudget": budget}));
    }
    let level = match effort {
        Some(level @ ("minimal" | "low" | "medium" | "high")) => Some(level),
        Some(_) => Some("high"),
        None => None,
    };
    Some(match level {
        Some(level) => json!({"includeThoughts": true, "thinkingLevel": level}),
        None => json!({"includeThoughts": true}),
    })
}

fn bad(message: String) -> GatewayError {
    GatewayError::BadRequest {
        message,
        param: Some("messages"),
    }
}

/// The `contents`: roles `user` / `model`, consecutive turns of one role merged (Gemini wants
/// a function response turn right after its call turn), empty turns left out.
fn contents(messages: &[Message]) -> Result<Vec<Value>, GatewayError> {
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let (role, parts) = match message.role {
            Role::User => ("user", user_parts(message, i, &call_names)?),
            Role::Assistant => {
                for block in &message.content {
                    if let Block::ToolCall { id, name, .. } = block {
                        call_names.insert(id, name);
                    }
                }
                ("model", model_parts(message))
            }
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some((last_role, last_parts)) if *last_role == role => last_parts.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    Ok(contents
        .into_iter()
        .map(|(role, mut parts)| {
            if role == "model" {
                ensure_call_signature(&mut parts);
            }
            json!({"role": role, "parts": parts})
        })
        .collect())
}

fn inline_image(source: &ImageSource, path: &str) -> Result<Value, GatewayError> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            Ok(json!({"inlineData": {"mimeType": media_type, "data": data}}))
        }
        ImageSource::Url { url } => Err(bad(format!(
            "`{path}`: image URL `{url}` cannot be sent to Gemini, which needs images inline; \
             send it as a `data:` URL with base64 data"
        ))),
    }
}

fn user_parts(
    message: &Message,
    i: usize,
    call_names: &HashMap<&str, &str>,
) -> Result<Vec<Value>, GatewayError> {
    let mut parts = Vec::new();
    let mut result_images = Vec::new();
    for (k, block) in message.content.iter().enumerate() {
        let path = format!("messages[{i}].content[{k}]");
        match block {
            Block::Text { text } if !text.is_empty() => parts.push(json!({"text": text})),
            Block::Image { source } => parts.push(inline_image(source, &path)?),
            Block::ToolResult {
                call_id,
                content,
                is_error,
            } => {
                let Some(name) = call_names.get(call_id.as_str()) else {
                    return Err(bad(format!(
                        "`{path}`: tool result for `{call_id}`, but no earlier assistant turn \
                         has a tool call with that id; Gemini needs the call's function name"
                    )));
                };
                let mut text = String::new();
                for inner in content {
                    match inner {
                        Block::Text { text: t } => text.push_str(t),
                        Block::Image { source } => {
                            result_images.push(inline_image(source, &path)?);
                        }
                        _ => {}
                    }
                }
                parts.push(json!({"functionResponse": {
                    "name": name,
                    "response": function_response(text, *is_error),
                }}));
            }
            Block::Unknown {
                dialect: Dialect::Gemini,
                value,
            } => parts.push(value.clone()),
            _ => {}
        }
    }
    // Images a tool returned follow its response as parts of the same turn.
    parts.extend(result_images);
    Ok(parts)
}

/// The `response` object: a result that is a JSON object goes as it is, other text as
/// `{"result": …}` (`{"error": …}` for a failed call, the key Google documents for errors).
fn function_response(text: String, is_error: bool) -> Value {
    if !is_error && let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&text) {
        return Value::Object(object);
    }
    if is_error {
        json!({"error": text})
    } else {
        json!({"result": text})
    }
}

/// A model turn. A Gemini-signed thinking block hands its signature to the part after it (the
/// function call or text it was issued with); thinking without a Gemini signature is left out,
/// since Gemini cannot use it.
fn model_parts(message: &Message) -> Vec<Value> {
    let mut parts: Vec<Value> = Vec::new();
    let mut pending: Option<&str> = None;
    for block in &message.content {
        let mut part = match block {
            Block::Thinking {
                text,
                signature:
                    Some(Signature {
                        dialect: Dialect::Gemini,
                        value,
                    }),
            } => {
                if let Some(earlier) = pending.take() {
                    // Two signatures in a row: the first stays on the thought it closed.
                    attach_to_last_thought(&mut parts, earlier);
                }
                if !text.is_empty() {
                    parts.push(json!({"text": text, "thought": true}));
                }
                pending = Some(value);
                continue;
            }
            Block::Text { text } if !text.is_empty() => json!({"text": text}),
            Block::ToolCall {
                name, arguments, ..
            } => json!({"functionCall": {"name": name, "args": call_args(arguments)}}),
            Block::Unknown {
                dialect: Dialect::Gemini,
                value,
            } => value.clone(),
            _ => continue,
        };
        if let (Some(signature), Some(object)) = (pending.take(), part.as_object_mut()) {
            object.insert("thoughtSignature".into(), json!(signature));
        }
        parts.push(part);
    }
    if let Some(signature) = pending {
        attach_to_last_thought(&mut parts, signature);
    }
    parts
}

fn attach_to_last_thought(parts: &mut [Value], signature: &str) {
    let last_thought = parts
        .iter_mut()
        .rev()
        .find(|p| p.get("thought").and_then(Value::as_bool) == Some(true));
    if let Some(Value::Object(part)) = last_thought
        && !part.contains_key("thoughtSignature")
    {
        part.insert("thoughtSignature".into(), json!(signature));
    }
}

/// Gemini 3 rejects a model turn whose function calls carry no signature; when the history
/// has none to give (another model's turn, or a client that cannot keep them), Google's
/// documented sentinel goes on the first call.
fn ensure_call_signature(parts: &mut [Value]) {
    let calls = || {
        parts
            .iter()
            .filter(|p| p.get("functionCall").is_some())
            .collect::<Vec<_>>()
    };
    if calls().is_empty() || calls().iter().any(|p| p.get("thoughtSignature").is_some()) {
        return;
    }
    if let Some(Value::Object(first)) = parts.iter_mut().find(|p| p.get("functionCall").is_some()) {
        first.insert("thoughtSignature".into(), json!(SKIP_SIGNATURE_VALIDATOR));
    }
}

/// Gemini's `args` is an object: the model's JSON text parsed; empty text is `{}`, and anything
/// that is not an object is wrapped so that the turn is still accepted.
fn call_args(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(object)) => Value::Object(object),
        Ok(other) => json!({"value": other}),
        Err(_) => json!({"arguments": arguments}),
    }
}
