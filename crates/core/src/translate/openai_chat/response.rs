//! Whole (non-streamed) chat completions: an upstream's `chat.completion` read into the canonical
//! `ChatResponse`, and a canonical response written as the client's `chat.completion`.

use serde_json::{Value, json};

use super::request_encode::assistant_fields;
use super::{OpenAiQuirks, completion_id, finish_reason_from_word, finish_reason_word, unix_now};
use crate::translate::{Block, ChatResponse, FinishReason};
use crate::usage::{OpenAiUsage, Usage};

/// Reads an upstream `chat.completion` (first choice). Reasoning arrives as `reasoning_content`
/// (DeepSeek, Kimi) or `reasoning` (OpenRouter, vLLM, Groq); a `refusal` becomes text.
pub fn decode_response(body: &[u8], _quirks: OpenAiQuirks) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("OpenAI chat response is not valid JSON: {e}"))?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        return Err(format!(
            "OpenAI chat response is an error: {}",
            error_message(error)
        ));
    }
    let choice = value
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .ok_or("OpenAI chat response has no `choices[0]`")?;
    let message = choice
        .get("message")
        .ok_or("OpenAI chat response has no `choices[0].message`")?;
    let mut content = Vec::new();
    let reasoning = message
        .get("reasoning_content")
        .or_else(|| message.get("reasoning"))
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty());
    if let Some(text) = reasoning {
        content.push(Block::Thinking {
            text: text.to_owned(),
            signature: None,
        });
    }
    match message.get("content") {
        Some(Value::String(text)) if !text.is_empty() => {
            content.push(Block::Text { text: text.clone() });
        }
        // Some vendors answer with text parts.
        Some(Value::Array(parts)) => {
            for part in parts {
                if let Some(text) = part.get("text").and_then(Value::as_str) {
                    content.push(Block::Text {
                        text: text.to_owned(),
                    });
                }
            }
        }
        _ => {}
    }
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str)
        && !refusal.is_empty()
    {
        content.push(Block::Text {
            text: refusal.to_owned(),
        });
    }
    for (k, call) in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("call_{k}"), str::to_owned);
        content.push(tool_call(id, call.get("function"), k)?);
    }
    if let Some(call) = message.get("function_call").filter(|c| !c.is_null()) {
        content.push(tool_call("call_0".to_owned(), Some(call), 0)?);
    }
    let finish = match choice.get("finish_reason").and_then(Value::as_str) {
        Some(word) => finish_reason_from_word(word),
        None if content.iter().any(|b| matches!(b, Block::ToolCall { .. })) => {
            FinishReason::ToolCalls
        }
        None => FinishReason::Stop,
    };
    let usage = match value.get("usage").filter(|u| !u.is_null()) {
        Some(usage) => Some(Usage::from(
            serde_json::from_value::<OpenAiUsage>(usage.clone())
                .map_err(|e| format!("OpenAI chat response has an unreadable `usage`: {e}"))?,
        )),
        None => None,
    };
    Ok(ChatResponse {
        id: value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        model: value
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        content,
        finish,
        usage,
    })
}

fn tool_call(id: String, function: Option<&Value>, index: usize) -> Result<Block, String> {
    let name = function
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("OpenAI chat response: tool call {index} has no `function.name`"))?;
    let arguments = match function.and_then(|f| f.get("arguments")) {
        Some(Value::String(arguments)) => arguments.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    Ok(Block::ToolCall {
        id,
        name: name.to_owned(),
        arguments,
    })
}

/// The message of an OpenAI-style error object (or the whole value when it has none).
pub(crate) fn error_message(error: &Value) -> String {
    error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned)
}

/// OpenAI's `usage` object, with the cache and reasoning details clients read.
pub(crate) fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    })
}

/// Writes the client's `chat.completion`. Thinking goes out as `reasoning_content`; signatures
/// and other dialects' blocks have no place in this format and are left out.
pub fn encode_response(response: &ChatResponse) -> Vec<u8> {
    let mut message = assistant_fields(&response.content, str::to_owned, true);
    message.insert("refusal".into(), Value::Null);
    let mut body = json!({
        "id": completion_id(&response.id),
        "object": "chat.completion",
        "created": unix_now(),
        "model": response.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason_word(&response.finish),
        }],
    });
    if let (Some(usage), Some(object)) = (&response.usage, body.as_object_mut()) {
        object.insert("usage".into(), usage_json(usage));
    }
    // A `Value` built from strings and numbers always serializes.
    serde_json::to_vec(&body).unwrap_or_default()
}
