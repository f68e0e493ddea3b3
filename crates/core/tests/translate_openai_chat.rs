#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! OpenAI chat translation: recorded client requests, upstream responses and streams decoded and
//! snapshotted; encode∘decode round trips; the stream encoder read back by the stream decoder.

mod translate_support;

use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_core::translate::openai_chat::{
    OpenAiQuirks, OpenAiStreamDecoder, OpenAiStreamEncoder, decode_request, decode_response,
    encode_request, encode_response, include_usage,
};
use switchboard_core::translate::{
    Block, ChatResponse, FinishReason, Role, StreamEncoder, StreamError, StreamEvent,
};
use switchboard_core::usage::Usage;
use translate_support::{decode_chunks, fixture, split_at};

const REQUESTS: &[&str] = &[
    "request_continue",
    "request_aider",
    "request_sdk_everything",
    "request_legacy_functions",
];
const RESPONSES: &[&str] = &[
    "response_text",
    "response_parallel_tool_calls",
    "response_deepseek_reasoning",
    "response_refusal",
];
const STREAMS: &[&str] = &[
    "stream_text",
    "stream_tool_call",
    "stream_parallel_tool_calls",
    "stream_whole_arguments_usage_on_finish",
    "stream_deepseek_reasoning",
    "stream_openrouter_reasoning_no_done",
    "stream_content_filter",
    "stream_error",
];

fn openai(name: &str, ext: &str) -> Vec<u8> {
    fixture(&format!("openai/{name}.{ext}"))
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn client_requests_decode() {
    for name in REQUESTS {
        let request = decode_request(&openai(name, "json"))
            .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
        insta::assert_yaml_snapshot!(format!("openai_{name}"), request);
    }
}

#[test]
fn recorded_clients_survive_the_round_trip_verbatim() {
    // Continue and Aider send plain string messages and function tools: what goes upstream
    // must be what they sent, field for field.
    for name in ["request_continue", "request_aider"] {
        let original = json_of(&openai(name, "json"));
        let request = decode_request(&openai(name, "json")).unwrap();
        let encoded = json_of(&encode_request(&request, OpenAiQuirks::default()).unwrap());
        assert_eq!(
            encoded["messages"], original["messages"],
            "{name}: messages"
        );
        assert_eq!(encoded.get("tools"), original.get("tools"), "{name}: tools");
        for key in ["model", "stream"] {
            assert_eq!(encoded.get(key), original.get(key), "{name}: {key}");
        }
        let temperature = |v: &Value| v.get("temperature").and_then(Value::as_f64);
        assert_eq!(temperature(&encoded), temperature(&original), "{name}");
        assert_eq!(encoded["stream_options"], json!({"include_usage": true}));
    }
    assert!(include_usage(&openai("request_continue", "json")));
    assert!(!include_usage(&openai("request_aider", "json")));
}

#[test]
fn encode_then_decode_is_the_identity_on_the_canonical_form() {
    let quirks = OpenAiQuirks {
        reasoning_content: true,
        ..OpenAiQuirks::default()
    };
    for name in REQUESTS {
        let request = decode_request(&openai(name, "json")).unwrap();
        let again = decode_request(&encode_request(&request, quirks).unwrap()).unwrap();
        assert_eq!(again, request, "{name}");
    }
}

#[test]
fn the_everything_request_keeps_every_field_upstream() {
    let request = decode_request(&openai("request_sdk_everything", "json")).unwrap();
    let body = json_of(&encode_request(&request, OpenAiQuirks::default()).unwrap());
    insta::assert_snapshot!(
        "openai_request_sdk_everything_encoded",
        serde_json::to_string_pretty(&body).unwrap()
    );
    // Without the quirk the reasoning is not sent back.
    assert!(body["messages"][3].get("reasoning_content").is_none());
    let deepseek = OpenAiQuirks {
        reasoning_content: true,
        ..OpenAiQuirks::default()
    };
    let body = json_of(&encode_request(&request, deepseek).unwrap());
    assert_eq!(
        body["messages"][3]["reasoning_content"],
        "Two cities… I need the weather tool."
    );
}

#[test]
fn consecutive_tool_messages_become_one_user_turn() {
    let request = decode_request(&openai("request_sdk_everything", "json")).unwrap();
    let results = &request.messages[2];
    assert_eq!(results.role, Role::User);
    assert_eq!(results.content.len(), 2);
    assert!(
        results
            .content
            .iter()
            .all(|b| matches!(b, Block::ToolResult { .. }))
    );
}

#[test]
fn mistral_gets_nine_character_tool_ids_consistently() {
    let request = decode_request(&openai("request_sdk_everything", "json")).unwrap();
    let quirks = OpenAiQuirks {
        short_tool_ids: true,
        ..OpenAiQuirks::default()
    };
    let body = json_of(&encode_request(&request, quirks).unwrap());
    let messages = body["messages"].as_array().unwrap();
    let call_ids: Vec<&str> = messages[3]["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let result_ids: Vec<&str> = messages[4..6]
        .iter()
        .map(|m| m["tool_call_id"].as_str().unwrap())
        .collect();
    assert_eq!(call_ids, result_ids);
    for id in call_ids {
        assert_eq!(id.len(), 9);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}

#[test]
fn bad_requests_name_the_field() {
    let cases = [
        ("not json", "{"),
        (
            "no model",
            r#"{"messages":[{"role":"user","content":"hi"}]}"#,
        ),
        ("empty messages", r#"{"model":"m","messages":[]}"#),
        (
            "bad role",
            r#"{"model":"m","messages":[{"role":"robot","content":"hi"}]}"#,
        ),
        (
            "bad part",
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}"#,
        ),
        (
            "tool without id",
            r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#,
        ),
        (
            "bad tool type",
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search"}]}"#,
        ),
        (
            "bad tool choice",
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"sometimes"}"#,
        ),
        (
            "bad stop",
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stop":5}"#,
        ),
        (
            "bad max_tokens",
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}"#,
        ),
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|(label, body)| {
            let error = decode_request(body.as_bytes()).unwrap_err();
            format!("{label}: {error}")
        })
        .collect();
    insta::assert_yaml_snapshot!("openai_bad_requests", messages);
}

#[test]
fn upstream_responses_decode() {
    for name in RESPONSES {
        let response = decode_response(&openai(name, "json"), OpenAiQuirks::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_yaml_snapshot!(format!("openai_{name}"), response);
    }
    let error = decode_response(&openai("response_error", "json"), OpenAiQuirks::default());
    assert_eq!(
        error.unwrap_err(),
        "OpenAI chat response is an error: The server had an error"
    );
}

#[test]
fn client_response_encodes_and_reads_back() {
    for name in RESPONSES {
        let response = decode_response(&openai(name, "json"), OpenAiQuirks::default()).unwrap();
        let encoded = encode_response(&response);
        let mut body = json_of(&encoded);
        assert_eq!(body["object"], "chat.completion");
        assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
        body["created"] = json!(0);
        insta::assert_snapshot!(
            format!("openai_{name}_encoded"),
            serde_json::to_string_pretty(&body).unwrap()
        );
        let back = decode_response(&encoded, OpenAiQuirks::default()).unwrap();
        let expected = ChatResponse {
            id: body["id"].as_str().unwrap().to_owned(),
            // The client format has no refusal finish other than content_filter; refusals come
            // back as text, as they went in.
            ..response
        };
        assert_eq!(back, expected, "{name}");
    }
}

fn decode_stream(bytes: Vec<u8>, cuts: &[usize]) -> (Result<Vec<StreamEvent>, StreamError>, bool) {
    let mut decoder = OpenAiStreamDecoder::new(OpenAiQuirks::default());
    decode_chunks(&mut decoder, split_at(&bytes, cuts))
}

#[test]
fn upstream_streams_decode() {
    for name in STREAMS {
        let (events, complete) = decode_stream(openai(name, "sse"), &[]);
        insta::assert_yaml_snapshot!(
            format!("openai_{name}"),
            json!({
                "complete": complete,
                "events": events.as_ref().ok(),
                "error": events.as_ref().err().map(|e| json!({"code": e.code, "message": e.message})),
            })
        );
    }
}

proptest! {
    #[test]
    fn streams_split_anywhere_decode_the_same(
        which in 0..STREAMS.len(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let bytes = openai(STREAMS[which], "sse");
        let whole = decode_stream(bytes.clone(), &[]);
        let split = decode_stream(bytes, &cuts);
        prop_assert_eq!(whole, split);
    }
}

/// A canonical event sequence the OpenAI chat format can carry exactly.
fn carried_events() -> impl Strategy<Value = Vec<StreamEvent>> {
    let delta = prop_oneof![
        "[a-zé😀 ]{1,8}".prop_map(|text| (0u8, text)),
        "[a-z ]{1,8}".prop_map(|text| (1u8, text)),
        "[{}\":a-z0-9ü]{1,8}".prop_map(|text| (2u8, text)),
        Just((3u8, String::new())),
    ];
    let finish = prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
    ];
    (
        proptest::collection::vec(delta, 0..16),
        finish,
        proptest::option::of((0u64..5000, 0u64..500, 0u64..5000, 0u64..500)),
    )
        .prop_map(|(deltas, reason, usage)| {
            let mut events = vec![StreamEvent::Start {
                id: "chatcmpl-prop".into(),
                model: "client-model".into(),
            }];
            let mut calls = 0usize;
            for (kind, text) in deltas {
                match kind {
                    0 => events.push(StreamEvent::TextDelta { text }),
                    1 => events.push(StreamEvent::ThinkingDelta { text }),
                    2 if calls > 0 => events.push(StreamEvent::ToolCallDelta {
                        index: calls - 1,
                        arguments: text,
                    }),
                    _ => {
                        events.push(StreamEvent::ToolCallStart {
                            index: calls,
                            id: format!("call_{calls}"),
                            name: format!("tool_{calls}"),
                        });
                        calls += 1;
                    }
                }
            }
            // The decoder reads `stop` after tool calls as `tool_calls` (some vendors say `stop`).
            let reason = if calls > 0 && reason == FinishReason::Stop {
                FinishReason::ToolCalls
            } else {
                reason
            };
            events.push(StreamEvent::Finish { reason });
            if let Some((input, output, cached, reasoning)) = usage {
                events.push(StreamEvent::Usage {
                    usage: Usage {
                        input_tokens: input + cached,
                        output_tokens: output + reasoning,
                        cached_input_tokens: cached,
                        cache_write_tokens: 0,
                        reasoning_tokens: reasoning,
                    },
                });
            }
            events
        })
}

proptest! {
    #[test]
    fn encoder_output_decodes_to_the_same_events(events in carried_events()) {
        let mut encoder = OpenAiStreamEncoder::new("client-model".into(), true);
        let mut out = BytesMut::new();
        for event in events.clone() {
            encoder.encode(event, &mut out);
        }
        encoder.finish(&mut out);
        let (decoded, complete) = decode_stream(out.to_vec(), &[]);
        prop_assert!(complete);
        prop_assert_eq!(decoded.unwrap(), events);
    }
}

#[test]
fn encoder_writes_openai_chunks() {
    let mut encoder = OpenAiStreamEncoder::new("gpt-client".into(), true);
    let mut out = BytesMut::new();
    let events = [
        StreamEvent::Start {
            id: "msg_01XYZ".into(),
            model: "claude-upstream".into(),
        },
        StreamEvent::ThinkingDelta { text: "hmm".into() },
        StreamEvent::TextDelta {
            text: "Grüß".into(),
        },
        StreamEvent::ToolCallStart {
            index: 0,
            id: "toolu_1".into(),
            name: "Read".into(),
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments: "{\"filepath\":\"a\"}".into(),
        },
        StreamEvent::Usage {
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
                cached_input_tokens: 4,
                cache_write_tokens: 0,
                reasoning_tokens: 2,
            },
        },
        StreamEvent::Finish {
            reason: FinishReason::ToolCalls,
        },
    ];
    for event in events {
        encoder.encode(event, &mut out);
    }
    encoder.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    let text = regex_free_created(&text);
    insta::assert_snapshot!("openai_encoder_chunks", text);
}

/// Replaces the wall-clock `created` value so that the snapshot is stable.
fn regex_free_created(text: &str) -> String {
    text.split("\"created\":")
        .enumerate()
        .map(|(i, piece)| {
            if i == 0 {
                piece.to_owned()
            } else {
                let rest = piece.trim_start_matches(|c: char| c.is_ascii_digit());
                format!("\"created\":0{rest}")
            }
        })
        .collect()
}

#[test]
fn encoder_without_usage_failure_and_keepalive() {
    let mut encoder = OpenAiStreamEncoder::new("m".into(), false);
    let mut out = BytesMut::new();
    encoder.encode(
        StreamEvent::Start {
            id: "chatcmpl-1".into(),
            model: "m".into(),
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::Usage {
            usage: Usage::default(),
        },
        &mut out,
    );
    encoder.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(!text.contains("\"usage\""));
    assert!(text.contains("\"finish_reason\":\"stop\""));
    assert!(text.ends_with("data: [DONE]\n\n"));

    let mut encoder = OpenAiStreamEncoder::new("m".into(), true);
    let mut out = BytesMut::new();
    encoder.encode(
        StreamEvent::TextDelta {
            text: "partial".into(),
        },
        &mut out,
    );
    encoder.fail(
        &StreamError::new("overloaded", "upstream went away"),
        &mut out,
    );
    encoder.finish(&mut out);
    let text = String::from_utf8(out.to_vec()).unwrap();
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert_eq!(
        json_of(last.strip_prefix("data: ").unwrap().as_bytes()),
        json!({"error": {"message": "upstream went away", "type": "upstream_error", "param": null, "code": "overloaded"}})
    );
    assert!(!text.contains("[DONE]"));
    assert_eq!(encoder.keepalive(), b": keep-alive\n\n");
}
