#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! The Anthropic Messages dialect: recorded streams and bodies decoded and snapshotted, streams
//! split anywhere decode the same, Claude Code's real requests accepted and re-encoded, the
//! stream encoder's protocol invariants for any event sequence, and the tricky mappings.

mod translate_support;

use bytes::BytesMut;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_core::translate::anthropic::{
    AnthropicStreamDecoder, AnthropicStreamEncoder, decode_request, decode_response,
    encode_request, encode_response, error_body, strip_foreign_thinking,
};
use switchboard_core::translate::{
    Block, ChatRequest, Dialect, FinishReason, Message, Reasoning, Role, Signature, StreamEncoder,
    StreamError, StreamEvent, Tool, ToolChoice,
};
use switchboard_core::usage::Usage;
use translate_support::{decode_chunks, fixture, split_at};

const STREAMS: [&str; 7] = [
    "text",
    "tool_call",
    "parallel_tool_calls",
    "thinking",
    "refusal",
    "cache_usage",
    "error_overloaded",
];

const RESPONSES: [&str; 8] = [
    "text",
    "tool_call",
    "parallel_tool_calls",
    "thinking",
    "refusal",
    "cache_usage",
    "server_tool",
    "error",
];

const REQUESTS: [&str; 3] = [
    "all_features",
    "claude_code_first_turn",
    "claude_code_tool_result",
];

/// What decoding one stream produced, in a form insta can snapshot.
#[derive(Debug, PartialEq, Serialize)]
struct Decoded {
    events: Vec<StreamEvent>,
    error: Option<(String, String)>,
    complete: bool,
}

fn decode_stream(chunks: Vec<Vec<u8>>) -> Decoded {
    let whole = chunks.concat();
    let mut decoder = AnthropicStreamDecoder::new();
    let (result, complete) = decode_chunks(&mut decoder, chunks);
    match result {
        Ok(events) => Decoded {
            events,
            error: None,
            complete,
        },
        // The shared helper returns only the error; the events before it come from decoding
        // the stream up to the error event.
        Err(e) => {
            let end = memchr::memmem::find(&whole, b"event: error").unwrap_or(whole.len());
            let mut decoder = AnthropicStreamDecoder::new();
            let (before, _) = decode_chunks(&mut decoder, vec![whole[..end].to_vec()]);
            Decoded {
                events: before.unwrap_or_default(),
                error: Some((e.code, e.message)),
                complete,
            }
        }
    }
}

#[test]
fn stream_fixtures_decode() {
    for name in STREAMS {
        let bytes = fixture(&format!("anthropic/stream/{name}.sse"));
        let decoded = decode_stream(vec![bytes]);
        insta::assert_yaml_snapshot!(format!("stream_{name}"), decoded);
    }
}

#[test]
fn stream_error_event_carries_its_type() {
    let decoded = decode_stream(vec![fixture("anthropic/stream/error_overloaded.sse")]);
    assert_eq!(
        decoded.error,
        Some(("overloaded_error".to_owned(), "Overloaded".to_owned()))
    );
    assert!(!decoded.complete);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn split_streams_decode_identically(
        which in 0..STREAMS.len(),
        cuts in proptest::collection::vec(0usize..4096, 0..24),
    ) {
        let bytes = fixture(&format!("anthropic/stream/{}.sse", STREAMS[which]));
        let whole = decode_stream(vec![bytes.clone()]);
        let split = decode_stream(split_at(&bytes, &cuts));
        prop_assert_eq!(whole, split);
    }
}

#[test]
fn response_fixtures_decode_and_round_trip() {
    for name in RESPONSES {
        let body = fixture(&format!("anthropic/response/{name}.json"));
        let decoded = decode_response(&body);
        insta::assert_yaml_snapshot!(format!("response_{name}"), decoded);
        if let Ok(response) = decoded {
            let again = decode_response(&encode_response(&response)).unwrap();
            assert_eq!(again, response, "{name}: decode ∘ encode is the identity");
        }
    }
}

#[test]
fn encode_response_matches_anthropic_shape() {
    let response = decode_response(&fixture("anthropic/response/cache_usage.json")).unwrap();
    let mut renamed = response.clone();
    renamed.id = "chatcmpl-123".to_owned();
    renamed.model = "my-alias".to_owned();
    let body: Value = serde_json::from_slice(&encode_response(&renamed)).unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "my-alias");
    assert_eq!(body["stop_reason"], "stop_sequence");
    assert_eq!(body["stop_sequence"], "«END»");
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 12, "cache_creation_input_tokens": 2048,
               "cache_read_input_tokens": 30208, "output_tokens": 7})
    );
}

#[test]
fn foreign_thinking_in_a_response_gets_an_invented_signature() {
    let response = switchboard_core::translate::ChatResponse {
        id: "resp_1".to_owned(),
        model: "m".to_owned(),
        content: vec![
            Block::Thinking {
                text: "unsigned".to_owned(),
                signature: None,
            },
            Block::Thinking {
                text: "gemini".to_owned(),
                signature: Some(Signature {
                    dialect: Dialect::Gemini,
                    value: "CiQB".to_owned(),
                }),
            },
            Block::Text {
                text: "ok".to_owned(),
            },
        ],
        finish: FinishReason::Stop,
        usage: None,
    };
    let body: Value = serde_json::from_slice(&encode_response(&response)).unwrap();
    assert_eq!(body["content"][0]["signature"], "swb:openai_chat");
    assert_eq!(body["content"][1]["signature"], "swb:gemini:CiQB");
    // A client sending these back: recognized as foreign, dropped on the way to Anthropic.
    let request = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": body["content"]},
        {"role": "user", "content": "more"}]});
    let decoded = decode_request(request.to_string().as_bytes()).unwrap();
    let Block::Thinking { signature, .. } = &decoded.messages[1].content[1] else {
        panic!("thinking expected");
    };
    assert_eq!(
        signature,
        &Some(Signature {
            dialect: Dialect::Gemini,
            value: "CiQB".to_owned()
        })
    );
    let upstream: Value = serde_json::from_slice(&encode_request(&decoded, 100).unwrap()).unwrap();
    assert_eq!(
        upstream["messages"][1]["content"],
        json!([{"type": "text", "text": "ok"}])
    );
}

/// The parts of a decoded request worth a snapshot when the full thing is 80 kB of tool schemas.
fn request_summary(request: &ChatRequest) -> Value {
    let blocks = |content: &[Block]| -> Vec<Value> {
        content
            .iter()
            .map(|block| match block {
                Block::Text { text } => json!({"text": text.chars().take(60).collect::<String>()}),
                Block::ToolResult {
                    call_id,
                    content,
                    is_error,
                } => json!({"tool_result": call_id, "blocks": content.len(), "is_error": is_error}),
                other => serde_json::to_value(other).unwrap(),
            })
            .collect()
    };
    json!({
        "model": request.model,
        "system": request.system.iter().map(|s| s.chars().take(60).collect::<String>()).collect::<Vec<_>>(),
        "messages": request.messages.iter().map(|m| json!({"role": m.role, "content": blocks(&m.content)})).collect::<Vec<_>>(),
        "tools": request.tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "tool_choice": request.tool_choice,
        "parallel_tool_calls": request.parallel_tool_calls,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": request.stop,
        "stream": request.stream,
        "reasoning": request.reasoning,
        "user": request.user,
    })
}

#[test]
fn request_fixtures_decode() {
    for name in REQUESTS {
        let body = fixture(&format!("anthropic/request/{name}.json"));
        let request = decode_request(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_yaml_snapshot!(format!("request_{name}"), request_summary(&request));
    }
}

#[test]
fn all_features_request_encodes_for_anthropic() {
    let request = decode_request(&fixture("anthropic/request/all_features.json")).unwrap();
    let encoded: Value = serde_json::from_slice(&encode_request(&request, 4096).unwrap()).unwrap();
    insta::assert_yaml_snapshot!("encode_all_features", encoded);
}

#[test]
fn claude_code_requests_survive_decode_encode_decode() {
    // Adaptive thinking at effort `high` becomes a budget (64 000 leaves room for it), except
    // when the tool turn being answered has no thinking to lead with: Anthropic would refuse.
    let cases = [
        ("claude_code_first_turn", true),
        ("claude_code_tool_result", false),
    ];
    for (name, thinking) in cases {
        let original = decode_request(&fixture(&format!("anthropic/request/{name}.json"))).unwrap();
        let encoded = encode_request(&original, 8192).unwrap();
        let value: Value = serde_json::from_slice(&encoded).unwrap();
        assert_eq!(value["max_tokens"], 64000);
        assert_eq!(value["metadata"]["user_id"], json!(original.user));
        let mut expected = original.clone();
        if thinking {
            assert_eq!(
                value["thinking"],
                json!({"type": "enabled", "budget_tokens": 24576}),
                "{name}"
            );
            expected.reasoning = Some(Reasoning {
                effort: None,
                budget_tokens: Some(24576),
                enabled: true,
            });
        } else {
            assert_eq!(value["thinking"], Value::Null, "{name}");
            expected.reasoning = None;
        }
        let again = decode_request(&encoded).unwrap();
        assert_eq!(again, expected, "{name}");
    }
}

#[test]
fn request_errors_name_the_field() {
    let cases = [
        r#"{"messages": []}"#,
        r#"{"model": "m"}"#,
        r#"{"model": "m", "messages": [{"role": "tool", "content": "x"}]}"#,
        r#"{"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]}"#,
        r#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}"#,
        r#"{"model": "m", "messages": [{"role": "user", "content": 7}]}"#,
        r#"{"model": "m", "messages": [], "tool_choice": {"type": "sometimes"}}"#,
        r#"{"model": "m", "messages": [], "thinking": {"type": "deep"}}"#,
        r#"{"model": "m", "messages": [], "system": [{"type": "image"}]}"#,
        r#"{"model": 5, "messages": []}"#,
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|body| decode_request(body.as_bytes()).unwrap_err().to_string())
        .collect();
    insta::assert_yaml_snapshot!("request_errors", messages);
}

fn user(blocks: Vec<Block>) -> Message {
    Message {
        role: Role::User,
        content: blocks,
    }
}

fn assistant(blocks: Vec<Block>) -> Message {
    Message {
        role: Role::Assistant,
        content: blocks,
    }
}

fn text(text: &str) -> Block {
    Block::Text {
        text: text.to_owned(),
    }
}

fn call(id: &str) -> Block {
    Block::ToolCall {
        id: id.to_owned(),
        name: "lookup".to_owned(),
        arguments: r#"{"q":"x"}"#.to_owned(),
    }
}

fn result(id: &str) -> Block {
    Block::ToolResult {
        call_id: id.to_owned(),
        content: vec![text("found")],
        is_error: false,
    }
}

fn base_request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: "claude-sonnet-4-5".to_owned(),
        messages,
        tools: vec![Tool {
            name: "lookup".to_owned(),
            description: None,
            parameters: json!({"type": "object"}),
        }],
        ..ChatRequest::default()
    }
}

fn encode(request: &ChatRequest) -> Value {
    serde_json::from_slice(&encode_request(request, 8192).unwrap()).unwrap()
}

#[test]
fn consecutive_turns_merge_with_tool_results_first() {
    // OpenAI-style history: two tool messages then a user text, as three user turns.
    let request = base_request(vec![
        user(vec![text("find x and y")]),
        assistant(vec![call("call_1"), call("call.2")]),
        user(vec![result("call_1")]),
        user(vec![text("also")]),
        user(vec![result("call.2")]),
        user(vec![text("   ")]),
    ]);
    let body = encode(&request);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    let last = &messages[2];
    assert_eq!(last["role"], "user");
    let kinds: Vec<&str> = last["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["tool_result", "tool_result", "text"]);
    assert_eq!(last["content"][1]["tool_use_id"], "call_2");
    assert_eq!(messages[1]["content"][1]["id"], "call_2");
    assert_eq!(body["max_tokens"], 8192);
}

#[test]
fn tool_choice_and_parallelism_map() {
    let mut request = base_request(vec![user(vec![text("hi")])]);
    let cases = [
        (Some(ToolChoice::Auto), None, json!({"type": "auto"})),
        (Some(ToolChoice::Required), None, json!({"type": "any"})),
        (
            Some(ToolChoice::Named("lookup".to_owned())),
            Some(false),
            json!({"type": "tool", "name": "lookup", "disable_parallel_tool_use": true}),
        ),
        (Some(ToolChoice::None), Some(false), json!({"type": "none"})),
        (
            None,
            Some(false),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
        (None, Some(true), Value::Null),
    ];
    for (choice, parallel, expected) in cases {
        request.tool_choice = choice;
        request.parallel_tool_calls = parallel;
        assert_eq!(encode(&request)["tool_choice"], expected);
    }
    request.tools.clear();
    request.tool_choice = Some(ToolChoice::Required);
    assert_eq!(encode(&request)["tool_choice"], Value::Null);
}

#[test]
fn reasoning_becomes_a_thinking_budget_that_fits() {
    let mut request = base_request(vec![user(vec![text("hi")])]);
    let thinking = |request: &ChatRequest| encode(request)["thinking"].clone();
    let effort = |e: &str| Reasoning {
        effort: Some(e.to_owned()),
        budget_tokens: None,
        enabled: true,
    };
    request.max_tokens = Some(64000);
    for (word, budget) in [
        ("minimal", 1024),
        ("low", 4096),
        ("medium", 12288),
        ("high", 24576),
    ] {
        request.reasoning = Some(effort(word));
        assert_eq!(
            thinking(&request),
            json!({"type": "enabled", "budget_tokens": budget}),
            "{word}"
        );
    }
    // Half of max_tokens stays for the answer.
    request.max_tokens = Some(8000);
    request.reasoning = Some(effort("high"));
    assert_eq!(thinking(&request)["budget_tokens"], 4000);
    // An explicit budget is kept below max_tokens, and never under 1024.
    request.reasoning = Some(Reasoning {
        effort: None,
        budget_tokens: Some(50_000),
        enabled: true,
    });
    assert_eq!(thinking(&request)["budget_tokens"], 7999);
    request.max_tokens = Some(1024);
    assert_eq!(thinking(&request), Value::Null, "no budget fits");
    request.reasoning = Some(Reasoning {
        effort: None,
        budget_tokens: None,
        enabled: false,
    });
    assert_eq!(thinking(&request), json!({"type": "disabled"}));
    // With thinking on, temperature goes and only a top_p ≥ 0.95 stays.
    request.max_tokens = Some(20_000);
    request.reasoning = Some(effort("low"));
    request.temperature = Some(0.2);
    request.top_p = Some(0.5);
    let body = encode(&request);
    assert_eq!(
        (body["temperature"].clone(), body["top_p"].clone()),
        (Value::Null, Value::Null)
    );
    // Without thinking, temperature wins over top_p and is clamped to Anthropic's range.
    request.reasoning = None;
    request.temperature = Some(1.7);
    let body = encode(&request);
    assert_eq!(
        (body["temperature"].clone(), body["top_p"].clone()),
        (json!(1.0), Value::Null)
    );
}

#[test]
fn thinking_goes_off_where_anthropic_would_refuse_it() {
    let anthropic_thinking = Block::Thinking {
        text: "plan".to_owned(),
        signature: Some(Signature {
            dialect: Dialect::Anthropic,
            value: "sig".to_owned(),
        }),
    };
    let foreign_thinking = Block::Thinking {
        text: "other plan".to_owned(),
        signature: Some(Signature {
            dialect: Dialect::OpenAiChat,
            value: String::new(),
        }),
    };
    let mut request = base_request(vec![
        user(vec![text("go")]),
        assistant(vec![foreign_thinking, call("c1")]),
        user(vec![result("c1")]),
    ]);
    request.max_tokens = Some(32000);
    request.reasoning = Some(Reasoning {
        effort: Some("low".to_owned()),
        budget_tokens: None,
        enabled: true,
    });
    let body = encode(&request);
    assert_eq!(
        body["thinking"],
        Value::Null,
        "tool turn lacks Anthropic thinking"
    );
    assert_eq!(body["messages"][1]["content"].as_array().unwrap().len(), 1);
    request.messages[1].content[0] = anthropic_thinking.clone();
    let body = encode(&request);
    assert_eq!(body["thinking"]["type"], "enabled");
    assert_eq!(body["messages"][1]["content"][0]["signature"], "sig");
    request.tool_choice = Some(ToolChoice::Required);
    assert_eq!(encode(&request)["thinking"], Value::Null, "forced tool use");
    // Thinking off: a final prefilled assistant turn loses its thinking.
    let mut prefill = base_request(vec![
        user(vec![text("go")]),
        assistant(vec![anthropic_thinking, text("Sure,")]),
    ]);
    prefill.reasoning = None;
    let body = encode(&prefill);
    assert_eq!(
        body["messages"][1]["content"],
        json!([{"type": "text", "text": "Sure,"}])
    );
}

#[test]
fn images_and_unknown_blocks_encode_by_dialect() {
    let request = base_request(vec![user(vec![
        Block::Image {
            source: switchboard_core::translate::ImageSource::Url {
                url: "data:image/png;base64,iVBORw0K".to_owned(),
            },
        },
        Block::Image {
            source: switchboard_core::translate::ImageSource::Url {
                url: "https://example.com/a.png".to_owned(),
            },
        },
        Block::Unknown {
            dialect: Dialect::Anthropic,
            value: json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}),
        },
        Block::Unknown {
            dialect: Dialect::Gemini,
            value: json!({"executableCode": {}}),
        },
        Block::RedactedThinking {
            data: "abc".to_owned(),
        },
    ])]);
    let body = encode(&request);
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
            {"type": "redacted_thinking", "data": "abc"},
        ])
    );
}

#[test]
fn stop_sequences_system_and_user_are_sent() {
    let mut request = base_request(vec![user(vec![text("hi")])]);
    request.system = vec!["one".to_owned(), String::new(), "two".to_owned()];
    request.stop = vec!["END".to_owned()];
    request.user = Some("u-1".to_owned());
    request.stream = true;
    let body = encode(&request);
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "one"}, {"type": "text", "text": "two"}])
    );
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["metadata"], json!({"user_id": "u-1"}));
    assert_eq!(body["stream"], true);
    let empty = base_request(vec![user(vec![text("")])]);
    assert!(encode_request(&empty, 10).is_err());
}

#[test]
fn strip_foreign_thinking_removes_only_invented_blocks() {
    let plain = fixture("anthropic/request/claude_code_tool_result.json");
    assert_eq!(strip_foreign_thinking(&plain), None);
    let body = fixture("anthropic/request/all_features.json");
    let stripped = strip_foreign_thinking(&body).expect("invented signatures are present");
    let before: Value = serde_json::from_slice(&body).unwrap();
    let after: Value = serde_json::from_slice(&stripped).unwrap();
    // The assistant turn kept its tool call only; everything else is as it was.
    let mut expected = before.clone();
    let turn = expected["messages"][3]["content"].as_array_mut().unwrap();
    turn.drain(..2);
    // The conversation has moved past that tool turn, so `enabled` thinking may stay.
    assert_eq!(after, expected);
    // Untouched bytes stay untouched: the real signature and the tool input order.
    let text = String::from_utf8(stripped).unwrap();
    let call = text
        .find(r#""id": "toolu_01A09q90qw90lq917835lq9""#)
        .unwrap();
    let input = &text[call..call + 160];
    assert!(input.find("\"unit\"").unwrap() < input.find("\"city\"").unwrap());
    assert!(!text.contains("swb:"));
}

#[test]
fn strip_foreign_thinking_turns_thinking_off_for_an_unled_tool_turn() {
    let body = json!({"model": "m", "max_tokens": 9000,
        "thinking": {"type": "enabled", "budget_tokens": 2000}, "messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "t", "signature": "swb:gemini:CiQB"},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"z": 1, "a": 2}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]}]})
    .to_string();
    let stripped = String::from_utf8(strip_foreign_thinking(body.as_bytes()).unwrap()).unwrap();
    let expected = body
        .replace(
            r#"{"budget_tokens":2000,"type":"enabled"}"#,
            r#"{"type":"disabled"}"#,
        )
        .replace(
            r#"{"signature":"swb:gemini:CiQB","thinking":"t","type":"thinking"},"#,
            "",
        );
    assert_eq!(stripped, expected);
}

#[test]
fn strip_foreign_thinking_drops_emptied_turns_and_keeps_thinking_when_allowed() {
    let body = json!({"model": "m", "max_tokens": 10, "thinking": {"type": "adaptive"}, "messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "swb:openai_chat"}]},
        {"role": "user", "content": "b"}]})
    .to_string();
    let stripped = strip_foreign_thinking(body.as_bytes()).unwrap();
    let after: Value = serde_json::from_slice(&stripped).unwrap();
    assert_eq!(after["messages"].as_array().unwrap().len(), 2);
    assert_eq!(after["thinking"], json!({"type": "adaptive"}));
    // The marker alone is not enough: a text mentioning it is left alone.
    let mention =
        json!({"messages": [{"role": "user", "content": "\"swb:gemini is odd"}]}).to_string();
    assert_eq!(strip_foreign_thinking(mention.as_bytes()), None);
    assert_eq!(strip_foreign_thinking(b"\"swb: not json"), None);
}

#[test]
fn error_body_has_anthropic_shape() {
    let body: Value =
        serde_json::from_slice(&error_body(http::StatusCode::TOO_MANY_REQUESTS, "slow")).unwrap();
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}})
    );
}

// ---- the stream encoder ----

/// One SSE event of the encoder's output: its name and its JSON.
fn parse_sse(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "events end with a blank line"
    );
    text.split_terminator("\n\n")
        .map(|frame| {
            let (event, data) = frame.split_once('\n').unwrap();
            let name = event.strip_prefix("event: ").unwrap().to_owned();
            let value: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(
                value["type"],
                name.as_str(),
                "event name is the payload's type"
            );
            (name, value)
        })
        .collect()
}

/// Anthropic's protocol: one `message_start` first, balanced blocks with indices 0, 1, 2…,
/// deltas only inside their open block, `message_delta` then `message_stop` last.
fn assert_well_formed(events: &[(String, Value)]) {
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("message_start"));
    let starts = events.iter().filter(|e| e.0 == "message_start").count();
    assert_eq!(starts, 1, "exactly one message_start");
    let n = events.len();
    assert!(n >= 3);
    assert_eq!(events[n - 2].0, "message_delta");
    assert_eq!(events[n - 1].0, "message_stop");
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    for (name, value) in &events[1..n - 2] {
        let index = value["index"].as_u64();
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block starts while another is open");
                assert_eq!(index, Some(next), "indices increase by one");
                open = index;
                next += 1;
            }
            "content_block_delta" => assert_eq!(index, open, "delta outside its block"),
            "content_block_stop" => {
                assert_eq!(index, open, "stop of a block that is not open");
                open = None;
            }
            other => panic!("unexpected `{other}` among content events"),
        }
    }
    assert_eq!(open, None, "every block is closed");
}

#[derive(Clone, Debug)]
enum Item {
    Text(String),
    Thinking(String),
    Signature(Dialect, String),
    Redacted(String),
    Tool(String, String, Vec<String>),
}

fn item() -> impl Strategy<Value = Item> {
    let words = "[a-zé日👋 {}\":,]{1,12}";
    let dialect = prop_oneof![
        Just(Dialect::Anthropic),
        Just(Dialect::OpenAiChat),
        Just(Dialect::Gemini)
    ];
    prop_oneof![
        words.prop_map(Item::Text),
        words.prop_map(Item::Thinking),
        (dialect, "[A-Za-z0-9+/=]{0,16}").prop_map(|(d, s)| Item::Signature(d, s)),
        "[A-Za-z0-9+/=]{1,16}".prop_map(Item::Redacted),
        (
            "[a-z_.]{1,10}",
            "[a-z_]{1,10}",
            proptest::collection::vec(words, 0..4)
        )
            .prop_map(|(id, name, args)| Item::Tool(id, name, args)),
    ]
}

fn finish() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
        "[a-z]{1,5}".prop_map(|s| FinishReason::StopSequence(Some(s))),
        Just(FinishReason::Other("pause_turn".to_owned())),
    ]
}

fn usage() -> impl Strategy<Value = Usage> {
    (0u64..1000, 0u64..1000, 0u64..1000, 0u64..1000).prop_map(|(fresh, read, write, out)| Usage {
        input_tokens: fresh + read + write,
        output_tokens: out,
        cached_input_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: 0,
    })
}

/// What a client ends up with: text, thinking text, signatures, tool calls, finish and usage.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    text: String,
    thinking: String,
    signatures: Vec<String>,
    redacted: Vec<String>,
    tools: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

fn summarize(events: &[StreamEvent]) -> Summary {
    let mut summary = Summary::default();
    for event in events {
        match event {
            StreamEvent::TextDelta { text } => summary.text.push_str(text),
            StreamEvent::ThinkingDelta { text } => summary.thinking.push_str(text),
            StreamEvent::ThinkingSignature { signature } => {
                summary.signatures.push(signature.value.clone());
            }
            StreamEvent::RedactedThinking { data } => summary.redacted.push(data.clone()),
            StreamEvent::ToolCallStart { index, id, name } => {
                assert_eq!(*index, summary.tools.len());
                summary
                    .tools
                    .push((id.clone(), name.clone(), String::new()));
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                summary.tools[*index].2.push_str(arguments);
            }
            StreamEvent::Finish { reason } => summary.finish = Some(reason.clone()),
            StreamEvent::Usage { usage } => summary.usage = Some(*usage),
            StreamEvent::Start { .. } => {}
        }
    }
    summary
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encoder_output_is_well_formed_and_decodes_back(
        items in proptest::collection::vec(item(), 0..10),
        early_usage in proptest::option::of(usage()),
        final_usage in usage(),
        reason in finish(),
        cuts in proptest::collection::vec(0usize..2048, 0..6),
    ) {
        let mut events = vec![StreamEvent::Start { id: "chatcmpl-1".to_owned(), model: "up".to_owned() }];
        if let Some(usage) = early_usage {
            events.push(StreamEvent::Usage { usage });
        }
        let mut expected = Summary::default();
        for item in &items {
            match item {
                Item::Text(text) => {
                    expected.text.push_str(text);
                    events.push(StreamEvent::TextDelta { text: text.clone() });
                }
                Item::Thinking(text) => {
                    expected.thinking.push_str(text);
                    events.push(StreamEvent::ThinkingDelta { text: text.clone() });
                }
                Item::Signature(dialect, value) => {
                    let signature = Signature { dialect: *dialect, value: value.clone() };
                    events.push(StreamEvent::ThinkingSignature { signature });
                }
                Item::Redacted(data) => {
                    expected.redacted.push(data.clone());
                    events.push(StreamEvent::RedactedThinking { data: data.clone() });
                }
                Item::Tool(id, name, args) => {
                    let index = expected.tools.len();
                    let sanitized = id.replace('.', "_");
                    expected.tools.push((sanitized, name.clone(), args.concat()));
                    events.push(StreamEvent::ToolCallStart { index, id: id.clone(), name: name.clone() });
                    for arguments in args {
                        events.push(StreamEvent::ToolCallDelta { index, arguments: arguments.clone() });
                    }
                }
            }
        }
        events.push(StreamEvent::Finish { reason: reason.clone() });
        events.push(StreamEvent::Usage { usage: final_usage });
        expected.finish = Some(reason);
        expected.usage = Some(final_usage);

        let mut encoder = AnthropicStreamEncoder::new("client-model".to_owned());
        let mut out = BytesMut::new();
        for event in events {
            encoder.encode(event, &mut out);
        }
        encoder.finish(&mut out);
        // Nothing is written after the end.
        let len = out.len();
        encoder.encode(StreamEvent::TextDelta { text: "late".to_owned() }, &mut out);
        encoder.finish(&mut out);
        prop_assert_eq!(out.len(), len);

        let parsed = parse_sse(&out);
        assert_well_formed(&parsed);
        prop_assert_eq!(&parsed[0].1["message"]["model"], "client-model");
        prop_assert!(parsed[0].1["message"]["id"].as_str().unwrap().starts_with("msg_"));

        let decoded = decode_stream(split_at(&out, &cuts));
        prop_assert!(decoded.complete);
        prop_assert_eq!(decoded.error, None);
        let mut summary = summarize(&decoded.events);
        // Every signature the client sees is either one we sent (in client form) or invented
        // for unsigned foreign thinking; the order of the ones we sent is kept.
        let sent: Vec<String> = items.iter().filter_map(|item| match item {
            Item::Signature(dialect, value) => Some(match dialect {
                Dialect::Anthropic => value.clone(),
                Dialect::Gemini if !value.is_empty() => format!("swb:gemini:{value}"),
                Dialect::Gemini => "swb:gemini".to_owned(),
                _ if !value.is_empty() => format!("swb:openai_chat:{value}"),
                _ => "swb:openai_chat".to_owned(),
            }),
            _ => None,
        }).collect();
        let mut remaining = sent.iter();
        let mut next = remaining.next();
        for seen in &summary.signatures {
            if Some(seen) == next {
                next = remaining.next();
            } else {
                prop_assert!(seen == "swb:openai_chat" || seen == "swb:gemini", "unexpected signature {}", seen);
            }
        }
        prop_assert_eq!(next, None, "every signature reached the client");
        summary.signatures.clear();
        prop_assert_eq!(summary, expected);
    }
}

#[test]
fn encoder_signs_foreign_thinking_and_fails_in_anthropic_shape() {
    let mut encoder = AnthropicStreamEncoder::new("m".to_owned());
    let mut out = BytesMut::new();
    encoder.encode(
        StreamEvent::Start {
            id: "msg_abc".to_owned(),
            model: "x".to_owned(),
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::ThinkingDelta {
            text: "hmm".to_owned(),
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::TextDelta {
            text: "Hi".to_owned(),
        },
        &mut out,
    );
    encoder.fail(
        &StreamError::new("overloaded_error", "Overloaded"),
        &mut out,
    );
    encoder.fail(&StreamError::new("x", "twice"), &mut out);
    let events = parse_sse(&out);
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(events[0].1["message"]["id"], "msg_abc");
    assert_eq!(
        events[3].1["delta"],
        json!({"type": "signature_delta", "signature": "swb:openai_chat"})
    );
    assert_eq!(
        events[7].1,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    let mut other = AnthropicStreamEncoder::new("m".to_owned());
    let mut out = BytesMut::new();
    other.fail(&StreamError::new("malformed_event", "bad"), &mut out);
    assert_eq!(parse_sse(&out)[0].1["error"]["type"], "api_error");
    assert_eq!(
        other.keepalive(),
        b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
    );
}

#[test]
fn encoder_reports_usage_in_message_start_and_message_delta() {
    let usage = Usage {
        input_tokens: 130,
        output_tokens: 5,
        cached_input_tokens: 100,
        cache_write_tokens: 20,
        reasoning_tokens: 0,
    };
    let mut encoder = AnthropicStreamEncoder::new("m".to_owned());
    let mut out = BytesMut::new();
    encoder.encode(
        StreamEvent::Start {
            id: "x".to_owned(),
            model: "x".to_owned(),
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::Usage {
            usage: Usage {
                output_tokens: 0,
                ..usage
            },
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::TextDelta {
            text: "ok".to_owned(),
        },
        &mut out,
    );
    encoder.encode(StreamEvent::Usage { usage }, &mut out);
    encoder.finish(&mut out);
    let events = parse_sse(&out);
    let wire = json!({"input_tokens": 10, "cache_creation_input_tokens": 20,
                      "cache_read_input_tokens": 100, "output_tokens": 5});
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 10);
    assert_eq!(
        events[0].1["message"]["usage"]["cache_read_input_tokens"],
        100
    );
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["usage"], wire);
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
}
