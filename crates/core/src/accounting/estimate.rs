//! Token estimates for requests whose provider never reported usage (stream cut, client
//! disconnect, a provider that never reports): a BPE count of what was sent and received.
//!
//! The tokenizer is OpenAI's `o200k_base` (crate `switchboard-tokenizer`): its vocabulary is
//! compiled into the binary (no download at run time) and loaded on first use (about 40 ms), and
//! its counting is O(n log n) in the longest piece, so a huge or hostile body cannot stall or
//! crash the accounting path. Other providers'
//! models use other vocabularies, so every count here is an estimate and is stored as one,
//! together with [`TOKENIZER`].
//!
//! What is counted, besides the text itself:
//! - [`PER_MESSAGE_TOKENS`] per message and [`REPLY_PRIMING_TOKENS`] per request, like OpenAI's
//!   published chat formula (`name` adds one more);
//! - [`IMAGE_TOKENS`] per image, whatever its size (OpenAI's price of a low-detail image);
//! - tool definitions as their name, description and parameter schema JSON;
//! - tool calls as name + arguments, tool results as their content.
//!
//! Audio and file parts count nothing. The request side also reads the Anthropic messages and
//! OpenAI responses shapes (`system`, `instructions`, `input` items, `tool_use`, `tool_result`,
//! `function_call`…); anything else falls back to counting the raw body.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};

/// The vocabulary every estimate here is counted with; stored next to estimated usage.
pub const TOKENIZER: &str = "o200k_base";

/// Per-message overhead (role and separators), as in OpenAI's chat token formula.
pub const PER_MESSAGE_TOKENS: u64 = 3;
/// Every reply is primed with `<|start|>assistant<|message|>`.
pub const REPLY_PRIMING_TOKENS: u64 = 3;
/// Allowance per image: OpenAI's flat price of a `detail: low` image. High-detail images cost
/// more, other providers count differently; the size is not known without decoding the image.
pub const IMAGE_TOKENS: u64 = 85;

/// What the gateway captured of one request's response, for estimating.
#[derive(Clone, Debug, Default)]
pub enum ResponseCapture {
    /// Nothing was received.
    #[default]
    None,
    /// A non-streamed OpenAI chat or embeddings response body.
    Whole(Bytes),
    /// The `data:` payloads of an OpenAI chat SSE stream, each followed by `'\n'`.
    StreamEvents(Vec<u8>),
}

/// Raw BPE count of `text`.
pub fn count(text: &str) -> u64 {
    switchboard_tokenizer::count(text)
}

/// Estimated tokens of an OpenAI chat-completions (or embeddings) request body: message contents
/// (strings or content parts; images at [`IMAGE_TOKENS`]), tool definitions, tool calls and tool
/// results, system/developer prompts, plus [`PER_MESSAGE_TOKENS`] per message and
/// [`REPLY_PRIMING_TOKENS`]. Embeddings: the `input` string(s); token-id inputs count one per id.
/// Malformed JSON, or JSON of no known shape, counts as raw text.
pub fn input_tokens(request_body: &[u8]) -> u64 {
    let raw_text = || count(&String::from_utf8_lossy(request_body));
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(request_body) else {
        return raw_text();
    };
    let mut total = 0;
    let mut recognised = false;
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        recognised = true;
        total += REPLY_PRIMING_TOKENS;
        total += messages.iter().map(item_tokens).sum::<u64>();
    }
    // Anthropic's top-level system prompt, the Responses API's instructions.
    for key in ["system", "instructions"] {
        if let Some(prompt) = body.get(key) {
            recognised = true;
            total += content_tokens(prompt);
        }
    }
    // Embeddings' and the Responses API's `input`, legacy completions' `prompt`.
    for key in ["input", "prompt"] {
        if let Some(input) = body.get(key) {
            recognised = true;
            total += input_value_tokens(input);
        }
    }
    for key in ["tools", "functions"] {
        if let Some(tools) = body.get(key).and_then(Value::as_array) {
            total += tools.iter().map(tool_definition_tokens).sum::<u64>();
        }
    }
    if recognised { total } else { raw_text() }
}

/// Estimated output tokens of what the provider sent: for streams, the concatenated
/// `choices[].delta.content`, `delta.reasoning_content` / `delta.reasoning`, and
/// `delta.tool_calls[].function.{name,arguments}`; for whole bodies the same fields of
/// `choices[].message`. Lines that are not JSON (e.g. `[DONE]`) are skipped, and so is a whole
/// body that is not JSON. Anthropic `content_block_delta` and Responses `*.delta` events are read
/// too, so a translated capture still counts.
pub fn output_tokens(capture: &ResponseCapture) -> u64 {
    let mut output = OutputText::default();
    match capture {
        ResponseCapture::None => return 0,
        ResponseCapture::Whole(body) => {
            if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) {
                output.add_whole_response(&body);
            }
        }
        ResponseCapture::StreamEvents(events) => {
            for line in events.split(|&b| b == b'\n') {
                if let Ok(Value::Object(event)) = serde_json::from_slice::<Value>(line) {
                    output.add_stream_event(&event);
                }
            }
        }
    }
    output.tokens()
}

/// Tokens of one conversation item: a message with a role, or a typed item (content part,
/// Responses item) met in a message list.
fn item_tokens(item: &Value) -> u64 {
    let Some(item) = item.as_object() else {
        return content_tokens(item);
    };
    let Some(role) = item.get("role").and_then(Value::as_str) else {
        return part_tokens(item);
    };
    let mut total = PER_MESSAGE_TOKENS + count(role);
    if let Some(name) = item.get("name").and_then(Value::as_str) {
        total += 1 + count(name);
    }
    if let Some(content) = item.get("content") {
        total += content_tokens(content);
    }
    // DeepSeek / Kimi send the reasoning back; so do some gateways.
    for key in ["reasoning_content", "reasoning"] {
        if let Some(reasoning) = item.get(key).and_then(Value::as_str) {
            total += count(reasoning);
        }
    }
    if let Some(calls) = item.get("tool_calls").and_then(Value::as_array) {
        total += calls
            .iter()
            .filter_map(|call| call.get("function").and_then(Value::as_object))
            .map(function_call_tokens)
            .sum::<u64>();
    }
    if let Some(call) = item.get("function_call").and_then(Value::as_object) {
        total += function_call_tokens(call);
    }
    total
}

/// Tokens of a message's `content`: a string, a list of parts, or one part.
fn content_tokens(content: &Value) -> u64 {
    match content {
        Value::String(text) => count(text),
        Value::Array(parts) => parts.iter().map(item_tokens).sum(),
        Value::Object(part) => part_tokens(part),
        _ => 0,
    }
}

/// Tokens of one typed content part or item.
fn part_tokens(part: &Map<String, Value>) -> u64 {
    let text_of = |key: &str| part.get(key).and_then(Value::as_str).map_or(0, count);
    match part.get("type").and_then(Value::as_str).unwrap_or("") {
        "image_url" | "image" | "input_image" => IMAGE_TOKENS,
        "input_audio" | "input_file" | "file" | "document" => 0,
        // Anthropic tool call / Responses function call.
        "tool_use" => text_of("name") + part.get("input").map_or(0, json_tokens),
        "function_call" | "custom_tool_call" => function_call_tokens(part),
        // Anthropic tool result / Responses tool output.
        "tool_result" => part.get("content").map_or(0, content_tokens),
        "function_call_output" | "custom_tool_call_output" => {
            part.get("output").map_or(0, content_tokens)
        }
        "reasoning" => part.get("summary").map_or(0, content_tokens),
        _ => text_of("text") + text_of("thinking") + text_of("refusal"),
    }
}

/// `{name, arguments}` of a chat tool call or Responses function call; Responses custom tools
/// put their arguments in `input`.
fn function_call_tokens(call: &Map<String, Value>) -> u64 {
    ["name", "arguments", "input"]
        .iter()
        .filter_map(|key| call.get(*key).and_then(Value::as_str))
        .map(count)
        .sum()
}

/// A tool definition: chat's `{type, function: {…}}` or the flat Anthropic/Responses shape.
fn tool_definition_tokens(tool: &Value) -> u64 {
    let definition = tool.get("function").unwrap_or(tool);
    let text_of = |key: &str| definition.get(key).and_then(Value::as_str).map_or(0, count);
    let schema = ["parameters", "input_schema"]
        .iter()
        .find_map(|key| definition.get(*key))
        .map_or(0, json_tokens);
    text_of("name") + text_of("description") + schema
}

/// The `input` of embeddings (text, texts, token ids, lists of token ids) or of the Responses API
/// (text or a list of items).
fn input_value_tokens(input: &Value) -> u64 {
    match input {
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Number(_) => 1,
                Value::Array(ids) if ids.iter().all(Value::is_number) => ids.len() as u64,
                other => item_tokens(other),
            })
            .sum(),
        other => content_tokens(other),
    }
}

fn json_tokens(value: &Value) -> u64 {
    match value {
        Value::String(text) => count(text),
        other => count(&other.to_string()),
    }
}

/// Generated text, collected per choice (and per tool call) before counting, because stream
/// deltas split tokens at arbitrary points.
#[derive(Default)]
struct OutputText {
    /// Text per (choice or block index, field): content and reasoning are counted apart.
    texts: BTreeMap<(u64, &'static str), String>,
    /// Tool-call names and arguments per (choice index, tool-call index, field).
    tool_calls: BTreeMap<(u64, u64, &'static str), String>,
}

impl OutputText {
    fn tokens(&self) -> u64 {
        let texts = self.texts.values().map(|text| count(text));
        let calls = self.tool_calls.values().map(|call| count(call));
        texts.chain(calls).sum()
    }

    fn add_whole_response(&mut self, body: &Map<String, Value>) {
        for (position, choice) in choices(body) {
            let index = choice_index(choice, position);
            if let Some(message) = choice.get("message").and_then(Value::as_object) {
                self.add_message_fields(index, message);
            }
        }
        // Anthropic messages: `content` blocks. Responses: `output` items.
        for key in ["content", "output"] {
            if let Some(blocks) = body.get(key).and_then(Value::as_array) {
                for (position, block) in blocks.iter().enumerate() {
                    self.add_generated_block(position as u64, block);
                }
            }
        }
    }

    fn add_stream_event(&mut self, event: &Map<String, Value>) {
        for (position, choice) in choices(event) {
            let index = choice_index(choice, position);
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                self.add_message_fields(index, delta);
            }
        }
        match event.get("type").and_then(Value::as_str) {
            // Anthropic: text, thinking and tool input arrive as block deltas.
            Some("content_block_delta") => {
                let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(delta) = event.get("delta").and_then(Value::as_object) {
                    for key in ["text", "thinking", "partial_json"] {
                        if let Some(text) = delta.get(key).and_then(Value::as_str) {
                            self.push_text(index, key, text);
                        }
                    }
                }
            }
            Some("content_block_start") => {
                let index = event.get("index").and_then(Value::as_u64).unwrap_or(0);
                if let Some(name) = event
                    .get("content_block")
                    .and_then(|block| block.get("name"))
                    .and_then(Value::as_str)
                {
                    self.push_text(index, "name", name);
                }
            }
            // Responses: `response.output_text.delta`, `…function_call_arguments.delta`, …
            Some(kind) if kind.ends_with(".delta") => {
                if let Some(text) = event.get("delta").and_then(Value::as_str) {
                    let index = event.get("output_index").and_then(Value::as_u64);
                    self.push_text(index.unwrap_or(0), "delta", text);
                }
            }
            _ => {}
        }
    }

    /// `content`, reasoning and tool calls of a chat `message` or stream `delta`.
    fn add_message_fields(&mut self, choice: u64, message: &Map<String, Value>) {
        for key in ["reasoning_content", "reasoning", "content", "refusal"] {
            if let Some(text) = message.get(key).and_then(Value::as_str) {
                self.push_text(choice, key, text);
            }
        }
        let Some(calls) = message.get("tool_calls").and_then(Value::as_array) else {
            return;
        };
        for (position, call) in calls.iter().enumerate() {
            let call_index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            for key in ["name", "arguments"] {
                let field = call.get("function").and_then(|f| f.get(key));
                if let Some(text) = field.and_then(Value::as_str) {
                    let buffer = self.tool_calls.entry((choice, call_index, key));
                    buffer.or_default().push_str(text);
                }
            }
        }
    }

    /// One generated Anthropic content block or Responses output item.
    fn add_generated_block(&mut self, index: u64, block: &Value) {
        let Some(block) = block.as_object() else {
            return;
        };
        let tokens_text = match block.get("type").and_then(Value::as_str) {
            Some("tool_use") => {
                let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                let input = block.get("input").map(Value::to_string).unwrap_or_default();
                format!("{name}{input}")
            }
            _ => {
                let mut text = String::new();
                for key in ["text", "thinking", "name", "arguments"] {
                    if let Some(part) = block.get(key).and_then(Value::as_str) {
                        text.push_str(part);
                    }
                }
                // Responses message content and reasoning summaries.
                for key in ["content", "summary"] {
                    let parts = block
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten();
                    for part in parts {
                        if let Some(part) = part.get("text").and_then(Value::as_str) {
                            text.push_str(part);
                        }
                    }
                }
                text
            }
        };
        self.push_text(index, "block", &tokens_text);
    }

    fn push_text(&mut self, index: u64, field: &'static str, text: &str) {
        if !text.is_empty() {
            self.texts.entry((index, field)).or_default().push_str(text);
        }
    }
}

fn choices(body: &Map<String, Value>) -> impl Iterator<Item = (u64, &Value)> {
    body.get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(position, choice)| (position as u64, choice))
}

fn choice_index(choice: &Value, position: u64) -> u64 {
    choice
        .get("index")
        .and_then(Value::as_u64)
        .unwrap_or(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/estimate/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn stream(events: &[&str]) -> ResponseCapture {
        let mut bytes = Vec::new();
        for event in events {
            bytes.extend_from_slice(event.as_bytes());
            bytes.push(b'\n');
        }
        ResponseCapture::StreamEvents(bytes)
    }

    #[test]
    fn known_strings_have_their_o200k_counts() {
        assert_eq!(count("hello world"), 2);
        assert_eq!(count("Hello, world!"), 4);
        assert_eq!(count("The quick brown fox jumps over the lazy dog."), 10);
        assert_eq!(count("你好，世界"), 3);
        assert_eq!(count(""), 0);
        for role in ["system", "user", "assistant", "tool"] {
            assert_eq!(count(role), 1, "{role}");
        }
    }

    #[test]
    fn real_chat_requests() {
        // Aider: eight string messages, no tools. 3 + Σ(3 + role + content), counted separately.
        assert_eq!(input_tokens(&fixture("aider-chat-request.json")), 589);
        // Continue: two messages (284) and nine tools (name + description + schema JSON). The
        // schema is re-serialized, so key order (serde_json's `preserve_order`) moves it by 2.
        let continue_cli = input_tokens(&fixture("cn-chat-request.json"));
        assert!((998..=1000).contains(&continue_cli), "{continue_cli}");
    }

    #[test]
    fn content_parts_tool_calls_and_tool_results() {
        let parts = br#"{"model":"m","messages":[{"role":"user","content":[
            {"type":"text","text":"hello world"},
            {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}"#;
        assert_eq!(input_tokens(parts), 3 + (3 + 1 + 2 + IMAGE_TOKENS));

        let round_trip = br#"{"model":"m","messages":[
            {"role":"developer","content":"Hello, world!"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                "function":{"name":"read_file","arguments":"{\"path\":\"src/main.rs\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"hello world"},
            {"role":"user","name":"hello world","content":"Hello, world!"}]}"#;
        let developer = 3 + count("developer") + 4;
        let assistant = 3 + 1 + 2 + 7;
        let tool = 3 + 1 + 2;
        let named_user = 3 + 1 + (1 + 2) + 4;
        assert_eq!(
            input_tokens(round_trip),
            3 + developer + assistant + tool + named_user
        );
    }

    #[test]
    fn embeddings_inputs() {
        assert_eq!(input_tokens(br#"{"model":"e","input":"hello world"}"#), 2);
        let texts = br#"{"model":"e","input":["hello world","Hello, world!"]}"#;
        assert_eq!(input_tokens(texts), 6);
        assert_eq!(input_tokens(br#"{"model":"e","input":[15339,1917,0]}"#), 3);
        assert_eq!(input_tokens(br#"{"model":"e","input":[[1,2],[3]]}"#), 3);
    }

    #[test]
    fn other_dialects_are_read_too() {
        let anthropic = br#"{"model":"c","system":[{"type":"text","text":"Hello, world!"}],
            "messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1",
            "content":"hello world"}]}],"tools":[{"name":"read_file","input_schema":{}}]}"#;
        assert_eq!(input_tokens(anthropic), 3 + 4 + (3 + 1 + 2) + (2 + 1));
        let responses = br#"{"model":"g","instructions":"Hello, world!","input":[
            {"type":"message","role":"user","content":[{"type":"input_text","text":"hello world"}]},
            {"type":"function_call","call_id":"c","name":"read_file","arguments":"{}"}]}"#;
        assert_eq!(input_tokens(responses), 4 + (3 + 1 + 2) + (2 + 1));
    }

    #[test]
    fn malformed_or_unknown_bodies_count_as_text() {
        let broken = b"{\"messages\": [hello world";
        assert_eq!(input_tokens(broken), count("{\"messages\": [hello world"));
        assert_eq!(input_tokens(b"hello world"), 2);
        assert_eq!(
            input_tokens(br#"{"hello":"world"}"#),
            count(r#"{"hello":"world"}"#)
        );
        assert_eq!(
            input_tokens(b"hello \xff world"),
            count("hello \u{fffd} world")
        );
        assert_eq!(input_tokens(b""), 0);
    }

    #[test]
    fn stream_with_content_and_tool_call_arguments() {
        let capture = stream(&[
            r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi there!"}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":" How can I help?"}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"read_file","arguments":""}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"src/main.rs\"}"}}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ]);
        // "Hi there! How can I help?" = 8, "read_file" = 2, {"path":"src/main.rs"} = 7.
        assert_eq!(output_tokens(&capture), 8 + 2 + 7);
    }

    #[test]
    fn deltas_are_joined_before_counting() {
        let capture = stream(&[
            r#"{"choices":[{"index":0,"delta":{"content":"hel"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo wor"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"ld"}}]}"#,
        ]);
        assert_eq!(output_tokens(&capture), 2);
    }

    #[test]
    fn reasoning_streams() {
        let deepseek = stream(&[
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"reasoning_content":"Let me think."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":" The user wants a greeting."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi there!","reasoning_content":null}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":" How can I help?"}}]}"#,
            ": keep-alive",
            "[DONE]",
        ]);
        // "Let me think. The user wants a greeting." = 10, "Hi there! How can I help?" = 8.
        assert_eq!(output_tokens(&deepseek), 10 + 8);
        let openrouter = stream(&[
            r#"{"choices":[{"index":0,"delta":{"reasoning":"Let me think. The user wants a greeting."}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi there! How can I help?"}}]}"#,
        ]);
        assert_eq!(output_tokens(&openrouter), 10 + 8);
    }

    #[test]
    fn whole_responses() {
        let chat = Bytes::from_static(
            br#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",
            "content":"Hi there! How can I help?","tool_calls":[{"id":"call_1","type":"function",
            "function":{"name":"read_file","arguments":"{\"path\":\"src/main.rs\"}"}}]},
            "finish_reason":"tool_calls"}]}"#,
        );
        assert_eq!(output_tokens(&ResponseCapture::Whole(chat)), 8 + 2 + 7);
        let embeddings = Bytes::from_static(br#"{"object":"list","data":[{"embedding":[0.1]}]}"#);
        assert_eq!(output_tokens(&ResponseCapture::Whole(embeddings)), 0);
        let html = Bytes::from_static(b"<html>502 Bad Gateway</html>");
        assert_eq!(output_tokens(&ResponseCapture::Whole(html)), 0);
        assert_eq!(output_tokens(&ResponseCapture::None), 0);
        assert_eq!(output_tokens(&stream(&["not json", "[DONE]", ""])), 0);
    }

    #[test]
    fn translated_captures_are_read_too() {
        let anthropic = stream(&[
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there!"}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" How can I help?"}}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t","name":"read_file","input":{}}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"path\":\"src/main.rs\"}"}}"#,
        ]);
        assert_eq!(output_tokens(&anthropic), 8 + 2 + 7);
        let responses = stream(&[
            r#"{"type":"response.output_text.delta","output_index":0,"delta":"Hi there!"}"#,
            r#"{"type":"response.output_text.delta","output_index":0,"delta":" How can I help?"}"#,
            r#"{"type":"response.output_text.done","output_index":0,"text":"Hi there! How can I help?"}"#,
        ]);
        assert_eq!(output_tokens(&responses), 8);
    }

    #[test]
    fn pathological_text_is_counted_without_failing() {
        // Long whitespace runs and unbroken words are where regex-based BPE tokenizers stall
        // or fail (quadratic merging, backtracking regexes); this one is neither.
        let spaces = format!("{}x", " ".repeat(256 * 1024));
        assert!(count(&spaces) > 0);
        assert!(count(&"a".repeat(256 * 1024)) > 0);
    }
}
