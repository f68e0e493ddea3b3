//! OpenAI chat completions, both as the client dialect (Continue, Aider, Cline, the openai SDK)
//! and as the wire format of every OpenAI-compatible provider (with a small quirks table).

mod request_decode;
mod request_encode;
mod response;
mod stream_decode;
mod stream_encode;

pub use request_decode::{decode_request, include_usage};
pub use request_encode::encode_request;
pub use response::{decode_response, encode_response};
pub use stream_decode::OpenAiStreamDecoder;
pub use stream_encode::OpenAiStreamEncoder;

use super::FinishReason;

/// Vendor quirks of OpenAI-compatible providers (DESIGN §3 "small quirks tables").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenAiQuirks {
    /// Mistral: tool-call ids must be exactly 9 alphanumeric characters. Other ids are mapped
    /// deterministically (a hash → 9 chars `[a-zA-Z0-9]`) on the way up; ids the provider
    /// generates are already valid and come back unchanged, so the mapping is stateless both ways.
    pub short_tool_ids: bool,
    /// DeepSeek / Kimi thinking mode: assistant turns with tool calls must carry their
    /// `reasoning_content` back.
    pub reasoning_content: bool,
    /// OpenAI itself: reasoning models (o-series, gpt-5) refuse `max_tokens` and want
    /// `max_completion_tokens`, which all its chat models accept.
    pub max_completion_tokens: bool,
}

const BASE62: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A tool-call id Mistral accepts: `id` itself when it already is 9 alphanumerics, else 9
/// base-62 digits of its FNV-1a hash (62⁹ < 2⁶⁴, so every digit carries hash bits).
pub(crate) fn short_tool_id(id: &str) -> String {
    if id.len() == 9 && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return id.to_owned();
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::with_capacity(9);
    for _ in 0..9 {
        out.push(char::from(BASE62[(hash % 62) as usize]));
        hash /= 62;
    }
    out
}

/// OpenAI's `finish_reason` word for a canonical reason. Reasons OpenAI has no word for become
/// `stop`: clients switch on this value and an unknown one breaks some of them.
pub(crate) fn finish_reason_word(reason: &FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::StopSequence(_) | FinishReason::Other(_) => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// The canonical reason for OpenAI's `finish_reason`.
pub(crate) fn finish_reason_from_word(word: &str) -> FinishReason {
    match word {
        "stop" | "eos" | "end_turn" => FinishReason::Stop,
        "length" | "max_tokens" | "model_length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `chatcmpl-…` ids as OpenAI clients expect them: kept when they already look like one.
pub(crate) fn completion_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else if id.is_empty() {
        format!("chatcmpl-{}", crate::ids::fresh_hex())
    } else {
        format!("chatcmpl-{id}")
    }
}

/// Seconds since the Unix epoch, for `created`.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_nine_alphanumerics_and_stable() {
        let id = short_tool_id("call_abc123def456");
        assert_eq!(id.len(), 9);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(id, short_tool_id("call_abc123def456"));
        assert_ne!(id, short_tool_id("call_abc123def457"));
        assert_eq!(short_tool_id("aB3dE6gH9"), "aB3dE6gH9");
        assert_eq!(short_tool_id("").len(), 9);
    }
}
