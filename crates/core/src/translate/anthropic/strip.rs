//! Byte-for-byte passthrough to Anthropic needs one repair: thinking blocks whose signature
//! Switchboard invented (reasoning another provider produced) must not reach Anthropic, which
//! rejects signatures it did not issue. Everything else in the body stays exactly as sent, so
//! prompt caching and tool-argument order are untouched.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::INVENTED_SIGNATURE_PREFIX;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default)]
    messages: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct MessageFields<'a> {
    #[serde(default)]
    role: Option<String>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct BlockFields {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
struct ThinkingFields {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

/// What the thinking rule needs to know about a message once stripped.
struct Turn {
    role: String,
    starts_with_thinking: bool,
    has_tool_use: bool,
    has_tool_result: bool,
}

/// Where `part` (borrowed from `whole`) starts in `whole`.
fn offset(whole: &str, part: &str) -> usize {
    part.as_ptr().addr().saturating_sub(whole.as_ptr().addr())
}

/// If `body` carries thinking blocks with an invented signature, the body without them (and
/// without messages left empty); `None` when there is nothing to remove or the body cannot be
/// read (then Anthropic will say what is wrong with it).
pub fn strip_foreign_thinking(body: &[u8]) -> Option<Vec<u8>> {
    let needle = format!("\"{INVENTED_SIGNATURE_PREFIX}");
    memchr::memmem::find(body, needle.as_bytes())?;
    let text = std::str::from_utf8(body).ok()?;
    let parsed: Body<'_> = serde_json::from_str(text).ok()?;
    let messages = parsed.messages?;
    let mut changed = false;
    let mut rebuilt: Vec<String> = Vec::with_capacity(messages.len());
    let mut turns: Vec<Turn> = Vec::with_capacity(messages.len());
    for message in &messages {
        let raw = message.get();
        let fields: MessageFields<'_> = serde_json::from_str(raw).ok()?;
        let role = fields.role.unwrap_or_default();
        let content = fields.content.map(RawValue::get);
        let blocks: Option<Vec<&RawValue>> = content.and_then(|c| serde_json::from_str(c).ok());
        let Some(blocks) = blocks else {
            // String content: nothing to strip.
            turns.push(Turn {
                role,
                starts_with_thinking: false,
                has_tool_use: false,
                has_tool_result: false,
            });
            rebuilt.push(raw.to_owned());
            continue;
        };
        let mut kept: Vec<(&str, String)> = Vec::with_capacity(blocks.len());
        for block in &blocks {
            let fields: BlockFields = serde_json::from_str(block.get()).ok()?;
            let kind = fields.kind.unwrap_or_default();
            let invented = kind == "thinking"
                && fields
                    .signature
                    .is_some_and(|s| s.starts_with(INVENTED_SIGNATURE_PREFIX));
            if invented {
                changed = true;
            } else {
                kept.push((block.get(), kind));
            }
        }
        if kept.is_empty() {
            continue;
        }
        turns.push(Turn {
            role,
            starts_with_thinking: kept
                .first()
                .is_some_and(|(_, kind)| kind == "thinking" || kind == "redacted_thinking"),
            has_tool_use: kept.iter().any(|(_, kind)| kind == "tool_use"),
            has_tool_result: kept.iter().any(|(_, kind)| kind == "tool_result"),
        });
        if kept.len() == blocks.len() {
            rebuilt.push(raw.to_owned());
            continue;
        }
        let content = content?;
        let start = offset(raw, content);
        let end = start + content.len();
        let joined: Vec<&str> = kept.iter().map(|(block, _)| *block).collect();
        rebuilt.push(format!(
            "{}[{}]{}",
            &raw[..start],
            joined.join(","),
            &raw[end..]
        ));
    }
    if !changed {
        return None;
    }
    let mut edits: Vec<(usize, usize, String)> = Vec::with_capacity(2);
    let messages_start = offset(text, messages.first()?.get());
    let last = messages.last()?.get();
    let messages_end = offset(text, last) + last.len();
    edits.push((messages_start, messages_end, rebuilt.join(",")));
    if let Some(thinking) = parsed.thinking
        && needs_thinking_off(thinking, &turns)
    {
        let start = offset(text, thinking.get());
        edits.push((
            start,
            start + thinking.get().len(),
            r#"{"type":"disabled"}"#.to_owned(),
        ));
    }
    edits.sort_by_key(|(start, _, _)| *start);
    let mut out = Vec::with_capacity(body.len());
    let mut cursor = 0;
    for (start, end, replacement) in edits {
        out.extend_from_slice(&body[cursor..start]);
        out.extend_from_slice(replacement.as_bytes());
        cursor = end;
    }
    out.extend_from_slice(&body[cursor..]);
    Some(out)
}

/// With `enabled` thinking, the assistant turn whose tool calls the last turn answers must start
/// with thinking. When stripping removed that thinking, the request can only go with thinking off.
fn needs_thinking_off(thinking: &RawValue, turns: &[Turn]) -> bool {
    let enabled = serde_json::from_str::<ThinkingFields>(thinking.get())
        .ok()
        .and_then(|t| t.kind)
        .is_some_and(|kind| kind == "enabled");
    let conversation: Vec<&Turn> = turns.iter().filter(|t| t.role != "system").collect();
    let [.., assistant, last] = conversation.as_slice() else {
        return false;
    };
    enabled
        && last.role == "user"
        && last.has_tool_result
        && assistant.role == "assistant"
        && assistant.has_tool_use
        && !assistant.starts_with_thinking
}
