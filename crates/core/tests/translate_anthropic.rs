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

#[path = "translate_anthropic/encode_request.rs"]
mod encode_request;
#[path = "translate_anthropic/stream_encoder.rs"]
mod stream_encoder;
#[path = "translate_anthropic/with_mock_upstream.rs"]
mod with_mock_upstream;

use proptest::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_core::translate::anthropic::{
    AnthropicStreamDecoder, decode_request, decode_response, encode_request, encode_response,
    error_body, strip_foreign_thinking,
};
use switchboard_core::translate::{
    Block, ChatRequest, Dialect, FinishReason, Reasoning, Signature, StreamEvent,
};
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
