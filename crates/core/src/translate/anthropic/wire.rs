//! Pieces of Anthropic's wire format shared by requests, responses and streams: `usage`,
//! `stop_reason`, tool ids and the `input` of a tool call.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::translate::canonical::FinishReason;
use crate::usage::Usage;

/// Anthropic's `usage`. `input_tokens` excludes the prompt tokens read from or written to the
/// cache; every field is optional because `message_delta` may carry only some of them.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Fields `later` reports replace this one's (a `message_delta` over a `message_start`).
    pub fn merge(&mut self, later: WireUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
    }

    /// The canonical usage: the whole prompt in `input_tokens`, cache reads and writes included.
    pub fn to_canonical(self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let write = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(write),
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens: read,
            cache_write_tokens: write,
            // Anthropic bills thinking as output without reporting the split.
            reasoning_tokens: 0,
        }
    }
}

/// `usage` as Anthropic clients expect it, every field present.
#[derive(Clone, Copy, Debug, Serialize)]
pub(super) struct ClientUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
}

impl From<Usage> for ClientUsage {
    fn from(usage: Usage) -> ClientUsage {
        ClientUsage {
            input_tokens: usage
                .input_tokens
                .saturating_sub(usage.cached_input_tokens)
                .saturating_sub(usage.cache_write_tokens),
            cache_creation_input_tokens: usage.cache_write_tokens,
            cache_read_input_tokens: usage.cached_input_tokens,
            output_tokens: usage.output_tokens,
        }
    }
}

/// The canonical finish for a `stop_reason` (and the `stop_sequence` that matched, if any).
pub(super) fn finish_from_stop_reason(reason: &str, stop_sequence: Option<String>) -> FinishReason {
    match reason {
        "end_turn" => FinishReason::Stop,
        "stop_sequence" => FinishReason::StopSequence(stop_sequence),
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `stop_reason` values Anthropic clients know, beyond the ones a canonical reason maps to.
const PASSTHROUGH_STOP_REASONS: [&str; 2] = ["pause_turn", "model_context_window_exceeded"];

/// `stop_reason` and `stop_sequence` for a canonical finish.
pub(super) fn stop_reason_for(finish: &FinishReason) -> (&str, Option<&str>) {
    match finish {
        FinishReason::Stop => ("end_turn", None),
        FinishReason::StopSequence(sequence) => ("stop_sequence", sequence.as_deref()),
        FinishReason::Length => ("max_tokens", None),
        FinishReason::ToolCalls => ("tool_use", None),
        FinishReason::ContentFilter => ("refusal", None),
        FinishReason::Other(reason) => match PASSTHROUGH_STOP_REASONS
            .iter()
            .find(|known| **known == reason.as_str())
        {
            Some(known) => (known, None),
            // Clients switch on `stop_reason`; an unknown word would confuse them.
            None => ("end_turn", None),
        },
    }
}

/// A tool call's `input` from its canonical arguments: the model's JSON text as is when it is an
/// object, `{}` when empty, and otherwise the text kept under `_raw_arguments` (Anthropic needs
/// an object; history is not checked against the schema, so nothing is lost).
pub(super) fn tool_input(arguments: &str) -> Box<RawValue> {
    let trimmed = arguments.trim();
    if trimmed.starts_with('{')
        && let Ok(raw) = RawValue::from_string(trimmed.to_owned())
    {
        return raw;
    }
    let fallback = if trimmed.is_empty() {
        "{}".to_owned()
    } else {
        serde_json::json!({ "_raw_arguments": arguments }).to_string()
    };
    RawValue::from_string(fallback).unwrap_or_else(|_| empty_object())
}

fn empty_object() -> Box<RawValue> {
    // `{}` is valid JSON; the fallback branch is unreachable but keeps this free of panics.
    RawValue::from_string("{}".to_owned()).unwrap_or_default()
}

/// JSON text without insignificant whitespace, keys in their original order (re-serializing a
/// `Value` would sort them): how a client's pretty-printed tool input becomes canonical arguments.
pub(super) fn compact_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Anthropic wants tool ids matching `^[a-zA-Z0-9_-]+$`; other providers' ids may not. The same
/// mapping applies to a call and to its result, so they still pair up.
pub(super) fn tool_id(id: &str) -> String {
    if id.is_empty() {
        return "toolu_missing_id".to_owned();
    }
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One outgoing content block. Tool inputs stay raw so the model's argument order survives.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum OutBlock {
    Text {
        text: String,
    },
    Image {
        source: Value,
    },
    ToolUse {
        id: String,
        name: String,
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        content: Vec<OutBlock>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    /// A block Anthropic sent or accepts that the canonical model does not know, as it was.
    #[serde(untagged)]
    Raw(Value),
}

impl OutBlock {
    pub fn is_thinking(&self) -> bool {
        matches!(
            self,
            OutBlock::Thinking { .. } | OutBlock::RedactedThinking { .. }
        )
    }

    pub fn is_tool_result(&self) -> bool {
        matches!(self, OutBlock::ToolResult { .. })
    }

    pub fn is_tool_use(&self) -> bool {
        matches!(self, OutBlock::ToolUse { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_cache_to_input_and_back() {
        let wire = WireUsage {
            input_tokens: Some(10),
            output_tokens: Some(5),
            cache_read_input_tokens: Some(100),
            cache_creation_input_tokens: Some(20),
        };
        let usage = wire.to_canonical();
        assert_eq!(usage.input_tokens, 130);
        assert_eq!(usage.cached_input_tokens, 100);
        assert_eq!(usage.cache_write_tokens, 20);
        let client = ClientUsage::from(usage);
        assert_eq!(client.input_tokens, 10);
        assert_eq!(client.cache_read_input_tokens, 100);
        assert_eq!(client.cache_creation_input_tokens, 20);
    }

    #[test]
    fn tool_input_keeps_objects_verbatim() {
        assert_eq!(tool_input(r#"{"b":1,"a":2}"#).get(), r#"{"b":1,"a":2}"#);
        assert_eq!(tool_input("").get(), "{}");
        assert_eq!(tool_input("[1,2]").get(), r#"{"_raw_arguments":"[1,2]"}"#);
        assert_eq!(
            tool_input(r#"{"a":"#).get(),
            r#"{"_raw_arguments":"{\"a\":"}"#
        );
    }

    #[test]
    fn compact_json_keeps_strings_and_order() {
        let pretty = "{\n  \"b\": \"a \\\" b\",\n  \"a\": [1, 2]\n}";
        assert_eq!(compact_json(pretty), r#"{"b":"a \" b","a":[1,2]}"#);
    }

    #[test]
    fn tool_ids_are_sanitized() {
        assert_eq!(tool_id("call_ab-C9"), "call_ab-C9");
        assert_eq!(tool_id("fc.1/2"), "fc_1_2");
        assert_eq!(tool_id(""), "toolu_missing_id");
    }

    #[test]
    fn stop_reasons_map_both_ways() {
        for reason in [
            "end_turn",
            "max_tokens",
            "tool_use",
            "refusal",
            "pause_turn",
        ] {
            let finish = finish_from_stop_reason(reason, None);
            assert_eq!(stop_reason_for(&finish).0, reason);
        }
        let finish = finish_from_stop_reason("stop_sequence", Some("END".to_owned()));
        assert_eq!(stop_reason_for(&finish), ("stop_sequence", Some("END")));
        assert_eq!(
            stop_reason_for(&FinishReason::Other("weird".to_owned())).0,
            "end_turn"
        );
    }
}
