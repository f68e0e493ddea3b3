//! A whole `GenerateContentResponse` → the canonical `ChatResponse`.

use serde_json::Value;

use super::{call_id, error_text, finish_reason, usage};
use crate::translate::{Block, ChatResponse, Dialect, FinishReason, Signature};

/// What one response part is, as both the whole-response and the stream decoder read it.
pub(crate) enum Part<'p> {
    Thought(&'p str),
    Text(&'p str),
    Call {
        id: Option<&'p str>,
        name: &'p str,
        args: String,
    },
    /// Anything else (inline images, executable code…): not relayed.
    Other,
}

/// A part and its `thoughtSignature`.
pub(crate) fn read_part(part: &Value) -> (Part<'_>, Option<Signature>) {
    let signature = part
        .get("thoughtSignature")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|value| Signature {
            dialect: Dialect::Gemini,
            value: value.to_owned(),
        });
    let kind = if let Some(call) = part.get("functionCall") {
        Part::Call {
            id: call
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty()),
            name: call.get("name").and_then(Value::as_str).unwrap_or_default(),
            args: call
                .get("args")
                .filter(|a| !a.is_null())
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        }
    } else if let Some(text) = part.get("text").and_then(Value::as_str) {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            Part::Thought(text)
        } else {
            Part::Text(text)
        }
    } else {
        Part::Other
    };
    (kind, signature)
}

/// The first candidate's parts.
pub(crate) fn candidate_parts(candidate: Option<&Value>) -> &[Value] {
    candidate
        .and_then(|c| c.pointer("/content/parts"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Decodes a `generateContent` response (first candidate).
pub fn decode_response(body: &[u8]) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("Gemini response is not valid JSON: {e}"))?;
    if let Some(error) = value.get("error") {
        let (status, message) = error_text(error);
        return Err(format!("Gemini response is an error ({status}): {message}"));
    }
    let id = value
        .get("responseId")
        .and_then(Value::as_str)
        .map_or_else(crate::ids::fresh_hex, str::to_owned);
    let candidate = value
        .get("candidates")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let mut content: Vec<Block> = Vec::new();
    // Thought text not yet closed by a signature.
    let mut thought: Option<String> = None;
    let mut calls = 0;
    for part in candidate_parts(candidate) {
        let (kind, signature) = read_part(part);
        if let Part::Thought(text) = kind {
            thought.get_or_insert_default().push_str(text);
            if let Some(signature) = signature {
                content.push(Block::Thinking {
                    text: thought.take().unwrap_or_default(),
                    signature: Some(signature),
                });
            }
            continue;
        }
        // A signature on a text or call part closes the thinking before it (empty if none);
        // one on text that continues earlier text is dropped, as the stream decoder does.
        let signature = signature.filter(|_| {
            matches!(kind, Part::Call { .. })
                || thought.is_some()
                || !matches!(content.last(), Some(Block::Text { .. }))
        });
        if signature.is_some() || thought.is_some() {
            content.push(Block::Thinking {
                text: thought.take().unwrap_or_default(),
                signature,
            });
        }
        match kind {
            Part::Text(text) if !text.is_empty() => match content.last_mut() {
                Some(Block::Text { text: last }) => last.push_str(text),
                _ => content.push(Block::Text {
                    text: text.to_owned(),
                }),
            },
            Part::Call {
                id: given,
                name,
                args,
            } => {
                content.push(Block::ToolCall {
                    id: given.map_or_else(|| call_id(&id, calls), str::to_owned),
                    name: name.to_owned(),
                    arguments: args,
                });
                calls += 1;
            }
            _ => {}
        }
    }
    if let Some(text) = thought {
        content.push(Block::Thinking {
            text,
            signature: None,
        });
    }
    let has_calls = content.iter().any(|b| matches!(b, Block::ToolCall { .. }));
    let finish = match candidate
        .and_then(|c| c.get("finishReason"))
        .and_then(Value::as_str)
    {
        Some(word) => finish_reason(word, has_calls),
        None if value.pointer("/promptFeedback/blockReason").is_some() => {
            FinishReason::ContentFilter
        }
        None if has_calls => FinishReason::ToolCalls,
        None => FinishReason::Stop,
    };
    Ok(ChatResponse {
        model: value
            .get("modelVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        content,
        finish,
        usage: value.get("usageMetadata").map(usage),
        id,
    })
}
