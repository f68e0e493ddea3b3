//! `/v1/responses` request → canonical `ChatRequest`: the top-level fields, tools, tool choice
//! and output format. The `input` items are read in `input.rs`.

use serde_json::{Map, Value, json};

use super::input::decode_input;
use super::qualified_tool_name;
use crate::error::GatewayError;
use crate::translate::canonical::{ChatRequest, Reasoning, Tool, ToolChoice};

/// Client → canonical. Everything Codex CLI sends is understood; fields with no canonical
/// meaning (`store`, `include`, `prompt_cache_key`, `metadata`, `client_metadata`,
/// `service_tier`, `truncation`, `text.verbosity`, `reasoning.summary`…) are ignored.
/// `previous_response_id` and `conversation` are refused: the gateway stores no responses,
/// so it cannot rebuild the history they point to.
pub fn decode_request(body: &[u8]) -> Result<ChatRequest, GatewayError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| GatewayError::bad_request(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(GatewayError::bad_request(
            "request body must be a JSON object",
        ));
    };

    let model = match fields.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => {
            return Err(bad(
                "model",
                "`model` is required and must be a non-empty string",
            ));
        }
    };
    for stateful in ["previous_response_id", "conversation"] {
        if fields.get(stateful).is_some_and(|v| !v.is_null()) {
            return Err(bad_dynamic(format!(
                "`{stateful}` is not supported: this gateway does not store responses; \
                 send the whole conversation in `input` (with `store: false`)"
            )));
        }
    }

    let mut system = Vec::new();
    if let Some(instructions) = opt_str(&fields, "instructions")?
        && !instructions.is_empty()
    {
        system.push(instructions.to_owned());
    }
    let input = fields
        .get("input")
        .filter(|v| !v.is_null())
        .ok_or_else(|| {
            bad(
                "input",
                "`input` is required: a string or an array of items",
            )
        })?;
    let messages = decode_input(input, &mut system)?;

    let tools = match fields.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => decode_tools(tools)?,
        Some(_) => return Err(bad("tools", "`tools` must be an array")),
    };
    let tool_choice = match fields.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(choice) => decode_tool_choice(choice)?,
    };

    Ok(ChatRequest {
        model,
        system,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls: opt_bool(&fields, "parallel_tool_calls")?,
        max_tokens: opt_u64(&fields, "max_output_tokens")?,
        temperature: opt_f64(&fields, "temperature")?,
        top_p: opt_f64(&fields, "top_p")?,
        stop: Vec::new(),
        stream: opt_bool(&fields, "stream")?.unwrap_or(false),
        reasoning: decode_reasoning(fields.get("reasoning"))?,
        response_format: decode_text_format(fields.get("text"))?,
        user: match opt_str(&fields, "user")? {
            Some(user) => Some(user.to_owned()),
            None => opt_str(&fields, "safety_identifier")?.map(str::to_owned),
        },
    })
}

fn bad(param: &'static str, message: &str) -> GatewayError {
    GatewayError::BadRequest {
        message: message.to_owned(),
        param: Some(param),
    }
}

fn bad_dynamic(message: String) -> GatewayError {
    GatewayError::bad_request(message)
}

fn wrong_type(key: &str, expected: &str) -> GatewayError {
    bad_dynamic(format!("`{key}` must be {expected}"))
}

fn opt_str<'a>(fields: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, GatewayError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(key, "a string")),
    }
}

fn opt_bool(fields: &Map<String, Value>, key: &str) -> Result<Option<bool>, GatewayError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(key, "a boolean")),
    }
}

fn opt_u64(fields: &Map<String, Value>, key: &str) -> Result<Option<u64>, GatewayError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong_type(key, "a non-negative integer")),
    }
}

fn opt_f64(fields: &Map<String, Value>, key: &str) -> Result<Option<f64>, GatewayError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| wrong_type(key, "a number")),
    }
}

/// Function tools map one to one; namespaces flatten to qualified names; custom (freeform)
/// tools become a function taking `{"input": string}` (Codex's `apply_patch` handler accepts
/// that form too); `local_shell` becomes a function with Codex's shell parameters. Hosted
/// tools (`web_search`, `file_search`, `image_generation`, `code_interpreter`, `mcp`…) run
/// inside OpenAI's platform, which no upstream here provides: they are dropped.
fn decode_tools(tools: &[Value]) -> Result<Vec<Tool>, GatewayError> {
    let mut out = Vec::new();
    for (index, tool) in tools.iter().enumerate() {
        let path = format!("tools[{index}]");
        let kind = tool
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_dynamic(format!("{path}: each tool needs a string `type`")))?;
        match kind {
            "function" | "custom" => out.push(decode_named_tool(tool, kind, None, &path)?),
            "namespace" => {
                let namespace = required_name(tool, &path)?;
                let inner = tool.get("tools").and_then(Value::as_array).ok_or_else(|| {
                    bad_dynamic(format!("{path}: a `namespace` tool needs a `tools` array"))
                })?;
                for (inner_index, inner_tool) in inner.iter().enumerate() {
                    let inner_path = format!("{path}.tools[{inner_index}]");
                    match inner_tool.get("type").and_then(Value::as_str) {
                        Some(inner_kind @ ("function" | "custom")) => out.push(decode_named_tool(
                            inner_tool,
                            inner_kind,
                            Some(namespace),
                            &inner_path,
                        )?),
                        _ => {
                            tracing::debug!("{inner_path}: dropping a non-function namespace tool")
                        }
                    }
                }
            }
            "local_shell" => out.push(local_shell_tool()),
            _ => tracing::debug!("{path}: dropping hosted tool `{kind}`"),
        }
    }
    Ok(out)
}

fn required_name<'a>(tool: &'a Value, path: &str) -> Result<&'a str, GatewayError> {
    match tool.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(bad_dynamic(format!(
            "{path}: the tool needs a non-empty string `name`"
        ))),
    }
}

fn decode_named_tool(
    tool: &Value,
    kind: &str,
    namespace: Option<&str>,
    path: &str,
) -> Result<Tool, GatewayError> {
    let bare = required_name(tool, path)?;
    let name = match namespace {
        Some(namespace) => qualified_tool_name(namespace, bare),
        None => bare.to_owned(),
    };
    let description = tool
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if kind == "custom" {
        return Ok(custom_tool(name, description, tool.get("format")));
    }
    let parameters = match tool.get("parameters") {
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => {
            return Err(bad_dynamic(format!(
                "{path}: `parameters` must be a JSON schema object"
            )));
        }
    };
    Ok(Tool {
        name,
        description,
        parameters,
    })
}

/// A freeform tool as a function of one string. The grammar, when there is one, goes into
/// the description: it is the only place a function-calling model can read it.
fn custom_tool(name: String, description: Option<String>, format: Option<&Value>) -> Tool {
    let mut description = description.unwrap_or_default();
    if let Some(format) = format
        && format.get("type").and_then(Value::as_str) == Some("grammar")
        && let Some(definition) = format.get("definition").and_then(Value::as_str)
    {
        let syntax = format
            .get("syntax")
            .and_then(Value::as_str)
            .unwrap_or("lark");
        description.push_str(&format!(
            "\n\nThe `input` string must follow this {syntax} grammar:\n```\n{definition}\n```"
        ));
    }
    Tool {
        name,
        description: (!description.is_empty()).then_some(description),
        parameters: json!({
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The raw tool input."}},
            "required": ["input"],
            "additionalProperties": false,
        }),
    }
}

/// Codex's `local_shell` as a function; a `function_call` named `local_shell` reaches its
/// shell handler with these parameters.
fn local_shell_tool() -> Tool {
    Tool {
        name: "local_shell".to_owned(),
        description: Some("Runs a shell command and returns its output.".to_owned()),
        parameters: json!({
            "type": "object",
            "properties": {
                "command": {"type": "array", "items": {"type": "string"},
                            "description": "The command and its arguments."},
                "workdir": {"type": "string", "description": "The working directory."},
                "timeout_ms": {"type": "number", "description": "A time limit in milliseconds."},
            },
            "required": ["command"],
            "additionalProperties": false,
        }),
    }
}

fn decode_tool_choice(choice: &Value) -> Result<Option<ToolChoice>, GatewayError> {
    let unknown = || {
        bad(
            "tool_choice",
            "`tool_choice` must be `auto`, `none`, `required` or {\"type\":\"function\",\"name\":…}",
        )
    };
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "none" => Ok(Some(ToolChoice::None)),
            "required" => Ok(Some(ToolChoice::Required)),
            _ => Err(unknown()),
        },
        Value::Object(fields) => match fields.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => {
                let name = fields
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(unknown)?;
                let name = match fields.get("namespace").and_then(Value::as_str) {
                    Some(namespace) => qualified_tool_name(namespace, name),
                    None => name.to_owned(),
                };
                Ok(Some(ToolChoice::Named(name)))
            }
            // The subset of allowed tools has no canonical form; its mode does.
            Some("allowed_tools") => match fields.get("mode").and_then(Value::as_str) {
                Some("required") => Ok(Some(ToolChoice::Required)),
                _ => Ok(Some(ToolChoice::Auto)),
            },
            // Forcing a hosted tool: those tools are dropped, so there is nothing to force.
            Some(_) => Ok(None),
            None => Err(unknown()),
        },
        _ => Err(unknown()),
    }
}

/// `{effort, summary}`: the effort is kept (`none` turns thinking off); the summary setting
/// has no canonical meaning (summaries are whatever thinking the upstream streams).
fn decode_reasoning(reasoning: Option<&Value>) -> Result<Option<Reasoning>, GatewayError> {
    let fields = match reasoning {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(fields)) => fields,
        Some(_) => return Err(bad("reasoning", "`reasoning` must be an object")),
    };
    let effort = opt_str(fields, "effort")?.map(str::to_owned);
    Ok(Some(Reasoning {
        enabled: effort.as_deref() != Some("none"),
        effort: effort.filter(|e| e != "none"),
        budget_tokens: None,
    }))
}

/// `text.format` → OpenAI chat's `response_format` (the canonical shape).
fn decode_text_format(text: Option<&Value>) -> Result<Option<Value>, GatewayError> {
    let Some(format) = text.and_then(|t| t.get("format")).filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(value) = format.get(key).filter(|v| !v.is_null()) {
                    schema.insert(key.to_owned(), value.clone());
                }
            }
            if !schema.contains_key("schema") {
                return Err(bad(
                    "text",
                    "`text.format` of type `json_schema` needs a `schema` object",
                ));
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        _ => Err(bad(
            "text",
            "`text.format.type` must be `text`, `json_object` or `json_schema`",
        )),
    }
}
