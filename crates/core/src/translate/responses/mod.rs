//! The OpenAI Responses API, inbound only (what Codex CLI speaks): decodes `/v1/responses`
//! requests into the canonical model and encodes canonical answers as Responses objects and
//! SSE events.
//!
//! Choices that keep Codex working (its SSE reader is the reference, see `stream.rs`):
//! - Tools inside a `namespace` tool (Codex's `multi_agent_v1`…) become canonical tools named
//!   `<namespace>--<name>` ([`NAMESPACE_SEPARATOR`]), a name every provider accepts; the
//!   encoders split it again so Codex gets `function_call {namespace, name}` back, which it
//!   needs to route the call.
//! - Anthropic thinking signatures and redacted thinking travel to Codex inside the reasoning
//!   item's `encrypted_content` (a small JSON envelope of ours). Codex replays reasoning items
//!   with that field (it asks for `include: ["reasoning.encrypted_content"]`), so the next turn
//!   can hand Anthropic its signed thinking back, which it requires around tool use.
//! - A length or content-filter stop ends with `response.completed` whose `status` is
//!   `incomplete`: Codex treats `response.incomplete` as a transport failure and re-sends the
//!   whole (paid) request several times before failing the turn.

mod input;
mod request;
mod response;
mod stream;

pub use request::decode_request;
pub use response::encode_response;
pub use stream::ResponsesStreamEncoder;

use serde_json::{Value, json};

use super::canonical::{Dialect, Signature};

/// Joins a namespace and a tool name into one canonical tool name. Hyphen pairs do not occur
/// in Codex's tool names and are valid in every provider's tool-name alphabet.
pub const NAMESPACE_SEPARATOR: &str = "--";

/// `namespace--name`.
fn qualified_tool_name(namespace: &str, name: &str) -> String {
    format!("{namespace}{NAMESPACE_SEPARATOR}{name}")
}

/// The namespace (if the name is qualified) and the bare tool name.
fn split_tool_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(NAMESPACE_SEPARATOR) {
        Some((namespace, bare)) if !namespace.is_empty() && !bare.is_empty() => {
            (Some(namespace), bare)
        }
        _ => (None, name),
    }
}

/// What a reasoning item's `encrypted_content` carries when we produced it.
#[derive(Clone, Debug, PartialEq)]
enum ReasoningEnvelope {
    Signature(Signature),
    Redacted(String),
}

const ENVELOPE_TAG: &str = "switchboard.v1";

impl ReasoningEnvelope {
    fn encode(&self) -> String {
        let value = match self {
            ReasoningEnvelope::Signature(signature) => json!({
                "envelope": ENVELOPE_TAG,
                "dialect": signature.dialect,
                "signature": signature.value,
            }),
            ReasoningEnvelope::Redacted(data) => json!({
                "envelope": ENVELOPE_TAG,
                "redacted_thinking": data,
            }),
        };
        value.to_string()
    }

    /// `None` for anything we did not write (e.g. OpenAI's own encrypted reasoning).
    fn decode(text: &str) -> Option<ReasoningEnvelope> {
        let value: Value = serde_json::from_str(text).ok()?;
        if value.get("envelope")?.as_str()? != ENVELOPE_TAG {
            return None;
        }
        if let Some(data) = value.get("redacted_thinking").and_then(Value::as_str) {
            return Some(ReasoningEnvelope::Redacted(data.to_owned()));
        }
        let dialect_name = value.get("dialect")?.as_str()?;
        let dialect = [
            Dialect::OpenAiChat,
            Dialect::Anthropic,
            Dialect::Gemini,
            Dialect::Responses,
        ]
        .into_iter()
        .find(|d| {
            serde_json::to_value(d)
                .ok()
                .as_ref()
                .and_then(Value::as_str)
                == Some(dialect_name)
        })?;
        let signature = value.get("signature")?.as_str()?.to_owned();
        Some(ReasoningEnvelope::Signature(Signature {
            dialect,
            value: signature,
        }))
    }
}

/// `resp_…` for a canonical response id (kept when it already has the prefix).
fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_owned()
    } else if id.is_empty() {
        format!("resp_{}", crate::ids::fresh_hex())
    } else {
        format!("resp_{id}")
    }
}

/// An output item id (`msg_…`, `rs_…`, `fc_…`) unique within the response.
fn item_id(prefix: &str, response_id: &str, output_index: usize) -> String {
    let base = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{base}_{output_index}")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_split_only_when_qualified() {
        assert_eq!(
            split_tool_name(&qualified_tool_name("multi_agent_v1", "spawn_agent")),
            (Some("multi_agent_v1"), "spawn_agent")
        );
        assert_eq!(split_tool_name("exec_command"), (None, "exec_command"));
        assert_eq!(
            split_tool_name("mcp__server__tool"),
            (None, "mcp__server__tool")
        );
        assert_eq!(split_tool_name("--x"), (None, "--x"));
    }

    #[test]
    fn envelopes_round_trip_and_foreign_content_is_ignored() {
        for envelope in [
            ReasoningEnvelope::Signature(Signature {
                dialect: Dialect::Anthropic,
                value: "sig==".into(),
            }),
            ReasoningEnvelope::Redacted("opaque".into()),
        ] {
            assert_eq!(
                ReasoningEnvelope::decode(&envelope.encode()),
                Some(envelope)
            );
        }
        assert_eq!(ReasoningEnvelope::decode("gAAAAABo-openai-blob"), None);
        assert_eq!(ReasoningEnvelope::decode(r#"{"envelope":"other"}"#), None);
    }
}
