//! A `generateContent` request: parsed, checked the way Gemini checks it (contents and roles,
//! thought signatures, function response counts, the OpenAPI schema subset of function
//! declarations), and read for what shapes the answer.

use serde::Deserialize;
use serde_json::Value;

use super::{PLACEHOLDER_SIGNATURES, THOUGHT_SIGNATURE};
use crate::synth;
use crate::turn::Seed;

/// Share of the prompt reported as served from `cachedContent`, in quarters.
const CACHED_QUARTERS: u64 = 3;

/// Keys Gemini's `Schema` object knows (in both spellings proto JSON accepts); any other key in a
/// function declaration's `parameters` is rejected.
const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "max_items",
    "minItems",
    "min_items",
    "properties",
    "required",
    "minProperties",
    "min_properties",
    "maxProperties",
    "max_properties",
    "minLength",
    "min_length",
    "maxLength",
    "max_length",
    "pattern",
    "example",
    "anyOf",
    "any_of",
    "propertyOrdering",
    "property_ordering",
    "default",
    "items",
    "minimum",
    "maximum",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateRequest {
    #[serde(default)]
    contents: Option<Vec<Content>>,
    #[serde(default, alias = "system_instruction")]
    system_instruction: Option<Content>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default, alias = "tool_config")]
    tool_config: Option<Value>,
    #[serde(default, alias = "generation_config")]
    generation_config: Option<Value>,
    #[serde(default, alias = "cached_content")]
    cached_content: Option<String>,
    /// `countTokens` may wrap the whole request.
    #[serde(default, alias = "generate_content_request")]
    generate_content_request: Option<Box<GenerateRequest>>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    parts: Vec<Value>,
}

impl Content {
    /// `user` when unset, as Gemini reads single-turn requests.
    fn role(&self) -> &str {
        self.role.as_deref().unwrap_or("user")
    }

    fn parts_with<'c>(&'c self, key: &'c str) -> impl Iterator<Item = &'c Value> {
        self.parts
            .iter()
            .filter_map(move |part| part_field(part, key))
    }
}

/// A part's field under its camelCase or snake_case name.
fn part_field<'p>(part: &'p Value, key: &str) -> Option<&'p Value> {
    part.get(key).or_else(|| part.get(snake_case(key).as_str()))
}

fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses the body; the error is the message of Gemini's `INVALID_ARGUMENT`.
pub(super) fn parse(body: &[u8]) -> Result<GenerateRequest, String> {
    let request: GenerateRequest =
        serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))?;
    Ok(match request.generate_content_request {
        Some(inner) => *inner,
        None => request,
    })
}

/// A request that passed Gemini's checks.
pub(super) struct Valid<'r> {
    request: &'r GenerateRequest,
    contents: &'r [Content],
}

/// Checks `request` as Gemini would; the error is the message of an `INVALID_ARGUMENT`.
pub(super) fn validate(request: &GenerateRequest) -> Result<Valid<'_>, String> {
    let contents = match request.contents.as_deref() {
        None | Some([]) => {
            return Err(
                "* GenerateContentRequest.contents: contents is not specified\n".to_owned(),
            );
        }
        Some(contents) => contents,
    };
    for (i, content) in contents.iter().enumerate() {
        if !matches!(content.role(), "user" | "model") {
            return Err("Please use a valid role: user, model.".to_owned());
        }
        if content.parts.is_empty() {
            return Err(format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            ));
        }
        let signed = content.parts_with("thoughtSignature");
        if signed.into_iter().any(|s| {
            s.as_str()
                .is_none_or(|s| s != THOUGHT_SIGNATURE && !PLACEHOLDER_SIGNATURES.contains(&s))
        }) {
            return Err(format!(
                "Unable to process input: contents[{i}] carries a thought signature that is not \
                 valid."
            ));
        }
        let responses = content.parts_with("functionResponse").count();
        if responses > 0 {
            let calls = i
                .checked_sub(1)
                .and_then(|p| contents.get(p))
                .filter(|previous| previous.role() == "model")
                .map_or(0, |previous| previous.parts_with("functionCall").count());
            if calls != responses {
                return Err(
                    "Please ensure that the number of function response parts is equal \
                            to the number of function call parts of the function call turn."
                        .to_owned(),
                );
            }
        }
    }
    for (t, tool) in request.tools.iter().flatten().enumerate() {
        for (f, declaration) in declarations(tool).enumerate() {
            if let Some(schema) = part_field(declaration, "parameters") {
                check_schema(
                    schema,
                    &format!("tools[{t}].function_declarations[{f}].parameters"),
                )?;
            }
        }
    }
    Ok(Valid { request, contents })
}

/// The function declarations of one `tools` entry.
fn declarations(tool: &Value) -> impl Iterator<Item = &Value> {
    part_field(tool, "functionDeclarations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Gemini's `Schema` is an OpenAPI subset: unknown keys and non-string `type`s are rejected.
fn check_schema(schema: &Value, path: &str) -> Result<(), String> {
    let Some(object) = schema.as_object() else {
        return Ok(());
    };
    for (key, value) in object {
        if !SCHEMA_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{key}\" at '{path}': Cannot find field."
            ));
        }
        if key == "type" && !value.is_string() {
            return Err(format!(
                "Invalid JSON payload received. Invalid value at '{path}.type' \
                 (type.googleapis.com/google.ai.generativelanguage.v1beta.Type), {value}"
            ));
        }
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            check_schema(property, &format!("{path}.properties[{name}]"))?;
        }
    }
    if let Some(items) = object.get("items") {
        check_schema(items, &format!("{path}.items"))?;
    }
    let any_of = object.get("anyOf").or_else(|| object.get("any_of"));
    for (k, option) in any_of
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        check_schema(option, &format!("{path}.any_of[{k}]"))?;
    }
    Ok(())
}

impl<'r> Valid<'r> {
    fn generation(&self, key: &str) -> Option<&'r Value> {
        part_field(self.request.generation_config.as_ref()?, key)
    }

    fn thinking_config(&self) -> Option<&'r Value> {
        self.generation("thinkingConfig")
    }

    /// Whether the model thinks: a `thinkingConfig` whose `thinkingBudget` is not 0.
    pub fn thinking(&self) -> bool {
        self.thinking_config().is_some_and(|config| {
            part_field(config, "thinkingBudget").and_then(Value::as_i64) != Some(0)
        })
    }

    /// Whether the thoughts are sent back (`includeThoughts`).
    pub fn include_thoughts(&self) -> bool {
        self.thinking()
            && self
                .thinking_config()
                .and_then(|config| part_field(config, "includeThoughts"))
                .and_then(Value::as_bool)
                == Some(true)
    }

    pub fn max_tokens(&self) -> Option<u64> {
        self.generation("maxOutputTokens").and_then(Value::as_u64)
    }

    pub fn stop_sequences(&self) -> Vec<String> {
        self.generation("stopSequences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    /// Prompt tokens (system instruction, tools, contents): a quarter of the characters, rounded
    /// up, plus 3 per content.
    pub fn prompt_tokens(&self) -> u64 {
        let system = self
            .request
            .system_instruction
            .as_ref()
            .map_or(0, |s| parts_chars(&s.parts));
        let tools: usize = self
            .request
            .tools
            .iter()
            .flatten()
            .map(|tool| tool.to_string().chars().count())
            .sum();
        let contents: usize = self.contents.iter().map(|c| parts_chars(&c.parts)).sum();
        synth::prompt_tokens(system + tools + contents, self.contents.len())
    }

    /// Prompt tokens served from `cachedContent`, when the request names one.
    pub fn cached_tokens(&self) -> Option<u64> {
        self.request
            .cached_content
            .as_ref()
            .map(|_| self.prompt_tokens() * CACHED_QUARTERS / 4)
    }

    /// What the answer replies to: the function responses of a last user turn, else its text.
    pub fn seed(&self) -> Seed {
        let last = self.contents.last().filter(|c| c.role() == "user");
        if let Some(last) = last
            && last.parts_with("functionResponse").next().is_some()
        {
            let results: Vec<String> = last
                .parts_with("functionResponse")
                .map(|r| r.get("response").map(response_text).unwrap_or_default())
                .collect();
            return Seed::ToolResult(results.join("\n"));
        }
        let user = self.contents.iter().rev().find(|c| c.role() == "user");
        Seed::UserText(user.map(|c| parts_text(&c.parts)).unwrap_or_default())
    }

    /// The function to call: when the last turn is the user's text and the calling mode is not
    /// `NONE`, the first allowed name (mode `ANY`) or the first declaration.
    pub fn tool(&self) -> Option<(&'r str, Option<&'r Value>)> {
        let last = self.contents.last()?;
        if last.role() != "user" || last.parts_with("functionResponse").next().is_some() {
            return None;
        }
        let config = self
            .request
            .tool_config
            .as_ref()
            .and_then(|c| part_field(c, "functionCallingConfig"));
        let mode = config.and_then(|c| c.get("mode")).and_then(Value::as_str);
        if mode == Some("NONE") {
            return None;
        }
        let allowed = config
            .and_then(|c| part_field(c, "allowedFunctionNames"))
            .and_then(Value::as_array)
            .and_then(|names| names.first())
            .and_then(Value::as_str);
        let name = |d: &'r Value| d.get("name").and_then(Value::as_str);
        let mut all = self.request.tools.iter().flatten().flat_map(declarations);
        let declaration = match allowed {
            Some(wanted) => all.find(|d| name(d) == Some(wanted))?,
            None => all.next()?,
        };
        let schema = part_field(declaration, "parameters")
            .or_else(|| part_field(declaration, "parametersJsonSchema"));
        Some((name(declaration)?, schema))
    }
}

/// The text of a function response: its only string field, else its JSON.
fn response_text(response: &Value) -> String {
    match response.as_object() {
        Some(fields) if fields.len() == 1 => match fields.values().next() {
            Some(Value::String(text)) => text.clone(),
            _ => response.to_string(),
        },
        _ => response.to_string(),
    }
}

/// The concatenated text of the non-thought text parts.
fn parts_text(parts: &[Value]) -> String {
    parts
        .iter()
        .filter(|p| p.get("thought").and_then(Value::as_bool) != Some(true))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect()
}

/// Characters the parts count for: texts, function calls and responses (name and JSON).
fn parts_chars(parts: &[Value]) -> usize {
    parts
        .iter()
        .map(|part| {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                return text.chars().count();
            }
            let call =
                part_field(part, "functionCall").or_else(|| part_field(part, "functionResponse"));
            call.map_or(0, |call| {
                let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
                let body = call.get("args").or_else(|| call.get("response"));
                name.chars().count() + body.map_or(0, |b| b.to_string().chars().count())
            })
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_keywords_outside_the_subset_are_rejected() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"city": {"type": "string", "additionalProperties": false}}
        });
        let err = check_schema(&schema, "p").unwrap_err();
        assert!(err.contains("Unknown name \"additionalProperties\" at 'p.properties[city]'"));
        let union = serde_json::json!({"type": ["string", "null"]});
        assert!(check_schema(&union, "p").unwrap_err().contains("'p.type'"));
        let fine = serde_json::json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
        assert!(check_schema(&fine, "p").is_ok());
    }

    #[test]
    fn function_response_text() {
        assert_eq!(response_text(&serde_json::json!({"result": "18C"})), "18C");
        assert_eq!(response_text(&serde_json::json!({"a": 1})), r#"{"a":1}"#);
    }
}
