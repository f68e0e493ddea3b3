//! Deterministic, dialect-neutral synthesis: reply texts, chunking, tool arguments, token counts, embeddings.

use serde_json::Value;

/// Padding appended when a reply has fewer characters than the requested number of chunks.
const PADDING: &str = " mock";

/// FNV-1a: a tiny, stable hash for deterministic ids and embedding values.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The reply to a conversation whose last user message says `text`.
pub(crate) fn reply_text(text: &str) -> String {
    format!("Mock reply to: {text}")
}

/// The reply to a conversation that ends with a tool result.
pub(crate) fn tool_result_reply(content: &str) -> String {
    format!("Mock reply to tool result: {content}")
}

/// What the mock "thinks" before answering a turn seeded by `text`.
pub(crate) fn thinking_text(text: &str) -> String {
    format!("Mock thinking about: {text}")
}

/// The first half of `text` (by characters, rounded up): what a reply cut off by a content
/// filter still shows.
pub(crate) fn first_half(text: &str) -> &str {
    let keep = text.chars().count().div_ceil(2);
    let end = text
        .char_indices()
        .nth(keep)
        .map_or(text.len(), |(at, _)| at);
    &text[..end]
}

/// Pads `text` so that it can be cut into `chunks` non-empty pieces.
pub(crate) fn pad_for_chunks(mut text: String, chunks: usize) -> String {
    let mut chars = text.chars().count();
    while chars < chunks {
        text.push_str(PADDING);
        chars += PADDING.len();
    }
    text
}

/// Cuts `text` into `pieces` parts of nearly equal character counts, on `char` boundaries.
/// Parts are empty only when `text` has fewer characters than `pieces`.
pub(crate) fn split_even(text: &str, pieces: usize) -> Vec<&str> {
    let pieces = pieces.max(1);
    let total = text.chars().count();
    let mut parts = Vec::with_capacity(pieces);
    let mut chars = text.char_indices();
    let mut start = 0;
    let mut taken = 0;
    for piece in 1..=pieces {
        let target = total * piece / pieces;
        let mut end = start;
        while taken < target {
            if let Some((offset, c)) = chars.next() {
                end = offset + c.len_utf8();
            }
            taken += 1;
        }
        parts.push(&text[start..end]);
        start = end;
    }
    parts
}

/// Tool-call arguments as JSON text: see [`tool_input`].
pub(crate) fn tool_arguments(schema: Option<&Value>) -> String {
    tool_input(schema).to_string()
}

/// Tool-call arguments built from a JSON schema: its first required property (else its first
/// property, else `location`) set to a plausible value of the declared type.
pub(crate) fn tool_input(schema: Option<&Value>) -> Value {
    let properties = schema.and_then(|s| s.get("properties"));
    let name = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .and_then(|required| required.first())
        .and_then(Value::as_str)
        .or_else(|| {
            properties
                .and_then(Value::as_object)
                .and_then(|props| props.keys().next())
                .map(String::as_str)
        })
        .unwrap_or("location");
    let declared = properties
        .and_then(|props| props.get(name))
        .and_then(|prop| prop.get("type"))
        .and_then(Value::as_str);
    let value = match declared {
        Some("integer") => Value::from(1),
        Some("number") => Value::from(1.5),
        Some("boolean") => Value::Bool(true),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => Value::Object(serde_json::Map::new()),
        _ => Value::from("Paris"),
    };
    let mut arguments = serde_json::Map::new();
    arguments.insert(name.to_owned(), value);
    Value::Object(arguments)
}

/// A model's display name: `mock-small` → `Mock Small`.
pub(crate) fn display_name(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect::<String>()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prompt tokens: a quarter of the characters (rounded up) plus 3 per message.
pub(crate) fn prompt_tokens(total_chars: usize, messages: usize) -> u64 {
    (total_chars.div_ceil(4) + 3 * messages) as u64
}

/// Tokens of an embedding input text: a quarter of its characters, rounded up.
pub(crate) fn text_tokens(text: &str) -> u64 {
    text.chars().count().div_ceil(4) as u64
}

/// A unit-length vector of `dimensions` values derived from `seed` only.
pub(crate) fn embedding(seed: &[u8], dimensions: usize) -> Vec<f32> {
    let base = fnv1a(seed);
    let mut values: Vec<f64> = (0..dimensions as u64)
        .map(|k| {
            let hash = fnv1a(&(base ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
            // The top 53 bits as a fraction in [0, 1), then moved to [-1, 1).
            (hash >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
    values.into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_even_covers_the_text() {
        for text in ["", "a", "hello", "héllo wörld ✓", "Mock reply to: hi"] {
            for pieces in 1..12 {
                let parts = split_even(text, pieces);
                assert_eq!(parts.len(), pieces);
                assert_eq!(parts.concat(), text);
                if text.chars().count() >= pieces {
                    assert!(parts.iter().all(|p| !p.is_empty()), "{text:?} / {pieces}");
                }
            }
        }
        assert_eq!(split_even("abcdef", 3), ["ab", "cd", "ef"]);
    }

    #[test]
    fn first_half_rounds_up_on_char_boundaries() {
        assert_eq!(first_half("abcde"), "abc");
        assert_eq!(first_half("héllo!"), "hél");
        assert_eq!(first_half(""), "");
    }

    #[test]
    fn padding_allows_non_empty_chunks() {
        let text = pad_for_chunks("hi".to_owned(), 8);
        assert_eq!(text, "hi mock mock");
        assert!(split_even(&text, 8).iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn tool_arguments_follow_the_schema() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"unit": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["days"]
        });
        assert_eq!(tool_arguments(Some(&schema)), r#"{"days":1}"#);
        assert_eq!(tool_arguments(None), r#"{"location":"Paris"}"#);
        assert_eq!(display_name("mock-small"), "Mock Small");
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embedding(b"hello", 8);
        assert_eq!(a, embedding(b"hello", 8));
        assert_ne!(a, embedding(b"world", 8));
        let norm: f32 = a.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
