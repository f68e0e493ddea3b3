//! Google Gemini `generateContent` as a provider dialect: the request body, the whole response
//! and the `alt=sse` stream.
//!
//! Thought signatures. Gemini puts an opaque `thoughtSignature` on response parts (thoughts,
//! text, function calls) and Gemini 3 rejects a later request whose replayed function-call
//! parts lack theirs. Decoding turns each signature into a canonical `Thinking` block (or a
//! `ThinkingSignature` event) with `Signature { dialect: Gemini }` placed right before the part
//! it came on, closing the thought text streamed so far. Encoding puts a Gemini-signed
//! `Thinking` block's signature back on the part that follows it (the function call or text),
//! or on its own thought part when nothing follows. Clients whose dialect cannot carry
//! signatures (OpenAI chat) lose them; for those turns the encoder uses Google's documented
//! fallback, the `skip_thought_signature_validator` sentinel on the first function call of a
//! model turn that has no signature, so follow-up requests are not rejected.

mod request;
mod response;
mod schema;
mod stream;

pub use request::encode_request;
pub use response::decode_response;
pub use stream::GeminiStreamDecoder;

use serde_json::Value;

use super::FinishReason;
use crate::usage::Usage;

/// The value Google documents for function calls that have no real thought signature
/// (history from another model, or from a client that cannot keep signatures).
pub(crate) const SKIP_SIGNATURE_VALIDATOR: &str = "skip_thought_signature_validator";

/// `models/{model}:generateContent`, or `models/{model}:streamGenerateContent?alt=sse` for a
/// stream. A leading `models/` in `model` is not doubled; characters outside the URL's
/// unreserved set are percent-encoded.
pub fn generate_path(model: &str, stream: bool) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    let mut encoded = String::with_capacity(model.len());
    for byte in model.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if stream {
        format!("models/{encoded}:streamGenerateContent?alt=sse")
    } else {
        format!("models/{encoded}:generateContent")
    }
}

/// The canonical reason for a candidate's `finishReason`.
pub(crate) fn finish_reason(word: &str, has_tool_calls: bool) -> FinishReason {
    match word {
        "STOP" if has_tool_calls => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Canonical usage from `usageMetadata`: `promptTokenCount` already includes the cached part;
/// `candidatesTokenCount` excludes thoughts, which the canonical output includes.
pub(crate) fn usage(metadata: &Value) -> Usage {
    let count = |key: &str| metadata.get(key).and_then(Value::as_u64).unwrap_or(0);
    let thoughts = count("thoughtsTokenCount");
    Usage {
        input_tokens: count("promptTokenCount") + count("toolUsePromptTokenCount"),
        output_tokens: count("candidatesTokenCount") + thoughts,
        cached_input_tokens: count("cachedContentTokenCount"),
        cache_write_tokens: 0,
        reasoning_tokens: thoughts,
    }
}

/// The message of a Gemini error object, with its status.
pub(crate) fn error_text(error: &Value) -> (String, String) {
    let status = error
        .get("status")
        .and_then(Value::as_str)
        .map_or_else(|| "upstream_error".to_owned(), str::to_ascii_lowercase);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned);
    (status, message)
}

/// A tool-call id for a Gemini function call, which has none: derived from the response id so
/// that it is unique across turns and stable for one response.
pub(crate) fn call_id(response_id: &str, index: usize) -> String {
    let stem: String = response_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    format!("call_{stem}_{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            generate_path("gemini-2.5-flash", false),
            "models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(
            generate_path("models/gemini-3-pro-preview", true),
            "models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            generate_path("tuned/odd model", false),
            "models/tuned%2Fodd%20model:generateContent"
        );
    }

    #[test]
    fn usage_adds_thoughts_to_output() {
        let metadata = serde_json::json!({"promptTokenCount": 100, "candidatesTokenCount": 20,
            "thoughtsTokenCount": 30, "cachedContentTokenCount": 64, "totalTokenCount": 150});
        assert_eq!(
            usage(&metadata),
            Usage {
                input_tokens: 100,
                output_tokens: 50,
                cached_input_tokens: 64,
                cache_write_tokens: 0,
                reasoning_tokens: 30
            }
        );
    }
}
