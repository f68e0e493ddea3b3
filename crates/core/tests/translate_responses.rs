#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! The OpenAI Responses dialect (Codex CLI): recorded requests → canonical, canonical →
//! response objects and SSE, and a strict check of our own SSE.

mod translate_support;
mod translate_responses {
    pub mod sse_check;
}

use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_core::translate::responses::{
    ResponsesStreamEncoder, decode_request, encode_response,
};
use switchboard_core::translate::{
    Block, ChatResponse, Dialect, FinishReason, Role, Signature, StreamEncoder, StreamError,
    StreamEvent,
};
use switchboard_core::usage::Usage;
use translate_responses::sse_check::check_stream;
use translate_support::fixture;

// ---------------------------------------------------------------- requests

#[test]
fn recorded_codex_requests_decode() {
    for name in ["codex-first-turn", "codex-tool-output"] {
        let request = decode_request(&fixture(&format!("responses/{name}.json"))).unwrap();
        // What Codex relies on, stated plainly before the snapshot holds the rest.
        assert_eq!(request.model, "mock-model");
        assert!(request.stream);
        assert_eq!(
            request.system.len(),
            3,
            "three developer parts lead the input"
        );
        let names: Vec<&str> = request.tools.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"exec_command"));
        assert!(names.contains(&"multi_agent_v1--spawn_agent"));
        assert!(
            !names.iter().any(|n| n.contains("web_search")),
            "hosted tool dropped"
        );
        assert_eq!(request.tools.len(), 12);
        insta::assert_yaml_snapshot!(format!("request-{name}"), request);
    }
    let second = decode_request(&fixture("responses/codex-tool-output.json")).unwrap();
    let roles: Vec<Role> = second.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::User, Role::Assistant, Role::User],
        "call and output become an assistant turn and a tool-result turn"
    );
}

#[test]
fn every_item_kind_decodes() {
    let request = decode_request(&fixture("responses/every-item.json")).unwrap();
    insta::assert_yaml_snapshot!("request-every-item", request);
}

#[test]
fn small_requests_decode() {
    let request = decode_request(
        r#"{"model":"m","input":"Bonjour 👋","tool_choice":"required",
             "reasoning":{"effort":"none"},"text":{"format":{"type":"json_object"}},
             "user":"u-1"}"#
            .as_bytes(),
    )
    .unwrap();
    insta::assert_yaml_snapshot!("request-string-input", request);
}

#[test]
fn bad_requests_say_what_is_wrong() {
    // Each case's body is sent as raw text (some are not JSON on purpose).
    let cases: Vec<Value> =
        serde_json::from_slice(&fixture("responses/bad-requests.json")).unwrap();
    let report: Vec<Value> = cases
        .iter()
        .map(|case| {
            let name = case["case"].as_str().unwrap();
            let body = case["body"].as_str().unwrap();
            let error = decode_request(body.as_bytes()).expect_err(name);
            assert_eq!(error.status(), 400, "{name}");
            json!({"case": name, "body": error.openai_body()})
        })
        .collect();
    insta::assert_yaml_snapshot!("bad-requests", report);
}

#[test]
fn tolerated_fields_and_items_do_not_fail() {
    let request = decode_request(
        br#"{"model":"m","input":[{"type":"mystery_item","x":1},{"type":"tool_search_call"},
             {"role":"user","content":"hi"}],"truncation":"auto","background":false,
             "tools":[{"type":"file_search"},{"type":"mcp","server_label":"x"}],
             "tool_choice":{"type":"web_search_preview"},"text":{"format":{"type":"text"}}}"#,
    )
    .unwrap();
    assert_eq!(request.messages.len(), 1);
    assert!(request.tools.is_empty());
    assert_eq!(request.tool_choice, None);
    assert_eq!(request.response_format, None);
}

// ---------------------------------------------------------------- whole responses

fn anthropic_signature(value: &str) -> Signature {
    Signature {
        dialect: Dialect::Anthropic,
        value: value.into(),
    }
}

fn usage() -> Usage {
    Usage {
        input_tokens: 1200,
        output_tokens: 80,
        cached_input_tokens: 1000,
        cache_write_tokens: 0,
        reasoning_tokens: 30,
    }
}

fn sample_response(finish: FinishReason) -> ChatResponse {
    ChatResponse {
        id: "msg_01abc".into(),
        model: "claude-sonnet".into(),
        content: vec![
            Block::Thinking {
                text: "Il faut lister les fichiers…".into(),
                signature: Some(anthropic_signature("sig-1")),
            },
            Block::Text {
                text: "Je lance ".into(),
            },
            Block::Text {
                text: "la commande.".into(),
            },
            Block::ToolCall {
                id: "toolu_1".into(),
                name: "exec_command".into(),
                arguments: r#"{"cmd":"ls"}"#.into(),
            },
            Block::ToolCall {
                id: "toolu_2".into(),
                name: "multi_agent_v1--spawn_agent".into(),
                arguments: r#"{"message":"go"}"#.into(),
            },
        ],
        finish,
        usage: Some(usage()),
    }
}

fn without_created_at(mut value: Value) -> Value {
    value["created_at"] = json!(0);
    value
}

#[test]
fn whole_responses_encode() {
    let body: Value =
        serde_json::from_slice(&encode_response(&sample_response(FinishReason::ToolCalls)))
            .unwrap();
    assert!(body["created_at"].as_u64().unwrap() > 0);
    insta::assert_yaml_snapshot!("response-tool-calls", without_created_at(body));

    let mut truncated = sample_response(FinishReason::Length);
    truncated.content.truncate(2);
    let body: Value = serde_json::from_slice(&encode_response(&truncated)).unwrap();
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(body["output"][1]["status"], "incomplete");
    assert_eq!(body["usage"]["total_tokens"], 1280);

    let filtered = ChatResponse {
        usage: None,
        ..sample_response(FinishReason::ContentFilter)
    };
    let body: Value = serde_json::from_slice(&encode_response(&filtered)).unwrap();
    assert_eq!(body["incomplete_details"]["reason"], "content_filter");
    assert_eq!(body["usage"], Value::Null);
}

/// Codex sends the output items of one turn back as input items of the next: what we encode
/// must decode to the same assistant content (signatures included).
fn replay(items: Vec<Value>) -> Vec<Block> {
    let body = json!({"model": "m", "input": items}).to_string();
    let request = decode_request(body.as_bytes()).unwrap();
    match request.messages.as_slice() {
        [] => Vec::new(),
        [message] => {
            assert_eq!(message.role, Role::Assistant);
            message.content.clone()
        }
        more => panic!("replayed output became {} messages", more.len()),
    }
}

#[test]
fn encoded_output_items_replay_to_the_same_content() {
    let response = sample_response(FinishReason::ToolCalls);
    let body: Value = serde_json::from_slice(&encode_response(&response)).unwrap();
    let mut expected = response.content.clone();
    // Consecutive text blocks share one message.
    expected.splice(
        1..3,
        [Block::Text {
            text: "Je lance la commande.".into(),
        }],
    );
    assert_eq!(replay(body["output"].as_array().unwrap().clone()), expected);
    assert_eq!(body["output"][3]["namespace"], "multi_agent_v1");
    assert_eq!(body["output"][3]["name"], "spawn_agent");
}

// ---------------------------------------------------------------- streams

enum End {
    Finish,
    Fail(StreamError),
}

fn encode_stream(events: Vec<StreamEvent>, end: End) -> Vec<u8> {
    let mut encoder = ResponsesStreamEncoder::new("gpt-5-codex".into());
    let mut out = BytesMut::new();
    for event in events {
        encoder.encode(event, &mut out);
    }
    match end {
        End::Finish => encoder.finish(&mut out),
        End::Fail(error) => encoder.fail(&error, &mut out),
    }
    // Nothing may follow the terminal event.
    encoder.finish(&mut out);
    encoder.encode(
        StreamEvent::TextDelta {
            text: "late".into(),
        },
        &mut out,
    );
    out.to_vec()
}

fn start() -> StreamEvent {
    StreamEvent::Start {
        id: "chatcmpl-7".into(),
        model: "upstream-model".into(),
    }
}

fn text(t: &str) -> StreamEvent {
    StreamEvent::TextDelta { text: t.into() }
}

fn thinking(t: &str) -> StreamEvent {
    StreamEvent::ThinkingDelta { text: t.into() }
}

fn tool_start(index: usize, name: &str) -> StreamEvent {
    StreamEvent::ToolCallStart {
        index,
        id: format!("call_{index}"),
        name: name.into(),
    }
}

fn tool_delta(index: usize, arguments: &str) -> StreamEvent {
    StreamEvent::ToolCallDelta {
        index,
        arguments: arguments.into(),
    }
}

fn finish(reason: FinishReason) -> StreamEvent {
    StreamEvent::Finish { reason }
}

fn usage_event() -> StreamEvent {
    StreamEvent::Usage { usage: usage() }
}

#[test]
fn streams_encode_well_formed() {
    let scenarios: Vec<(&str, Vec<StreamEvent>, End)> = vec![
        (
            "stream-text",
            vec![
                start(),
                text("Bonjour"),
                text(", 世界 👋"),
                finish(FinishReason::Stop),
                usage_event(),
            ],
            End::Finish,
        ),
        (
            "stream-reasoning-text-tool",
            vec![
                start(),
                thinking("Je réfléchis"),
                thinking("…"),
                StreamEvent::ThinkingSignature {
                    signature: anthropic_signature("sig-9"),
                },
                text("Je lance ls."),
                tool_start(0, "exec_command"),
                tool_delta(0, r#"{"cmd":"#),
                tool_delta(0, r#""ls"}"#),
                finish(FinishReason::ToolCalls),
                usage_event(),
            ],
            End::Finish,
        ),
        (
            "stream-parallel-tools",
            vec![
                start(),
                tool_start(0, "exec_command"),
                tool_start(1, "multi_agent_v1--spawn_agent"),
                tool_delta(1, r#"{"message":"#),
                tool_delta(0, r#"{"cmd":"pwd"}"#),
                tool_delta(1, r#""vas-y"}"#),
                finish(FinishReason::ToolCalls),
            ],
            End::Finish,
        ),
        (
            "stream-length",
            vec![
                start(),
                text("Une réponse coupée"),
                finish(FinishReason::Length),
                usage_event(),
            ],
            End::Finish,
        ),
        (
            "stream-redacted",
            vec![
                start(),
                StreamEvent::RedactedThinking {
                    data: "EmwKAhgB".into(),
                },
                text("ok"),
                finish(FinishReason::ContentFilter),
            ],
            End::Finish,
        ),
        (
            "stream-failed-mid-tool-call",
            vec![
                start(),
                text("Je lance"),
                tool_start(0, "exec_command"),
                tool_delta(0, r#"{"cmd":"rm -"#),
                usage_event(),
            ],
            End::Fail(StreamError::new("overloaded_error", "Overloaded")),
        ),
    ];
    for (name, events, end) in scenarios {
        let checked = check_stream(&encode_stream(events, end));
        insta::assert_yaml_snapshot!(name, checked.events);
    }
}

#[test]
fn terminal_events_carry_what_codex_reads() {
    let checked = check_stream(&encode_stream(
        vec![
            start(),
            text("coupé"),
            finish(FinishReason::Length),
            usage_event(),
        ],
        End::Finish,
    ));
    // Codex retries `response.incomplete`; a completed event with an incomplete status ends
    // the turn with the text the user already saw.
    assert_eq!(checked.terminal, "response.completed");
    assert_eq!(checked.response["status"], "incomplete");
    assert_eq!(checked.response["id"], "resp_chatcmpl-7");
    assert_eq!(checked.response["model"], "gpt-5-codex");
    assert_eq!(checked.response["usage"]["input_tokens"], 1200);
    assert_eq!(
        checked.response["usage"]["input_tokens_details"]["cached_tokens"],
        1000
    );
    assert_eq!(
        checked.response["usage"]["output_tokens_details"]["reasoning_tokens"],
        30
    );

    let failed = check_stream(&encode_stream(
        vec![start(), tool_start(0, "exec_command"), tool_delta(0, "{")],
        End::Fail(StreamError::new("upstream_error", "connection reset")),
    ));
    assert_eq!(failed.terminal, "response.failed");
    assert_eq!(failed.response["error"]["code"], "upstream_error");
    assert_eq!(failed.response["error"]["message"], "connection reset");
    assert_eq!(
        failed.done_items,
        vec![None],
        "a cut-off call is never finished"
    );
}

#[test]
fn streams_without_start_or_content_still_frame_a_response() {
    for end in [End::Finish, End::Fail(StreamError::new("timeout", "idle"))] {
        let checked = check_stream(&encode_stream(Vec::new(), end));
        assert!(checked.response["output"].as_array().unwrap().is_empty());
    }
    let encoder = ResponsesStreamEncoder::new("m".into());
    assert_eq!(encoder.keepalive(), b": keep-alive\n\n");
    // A keep-alive between events is a comment every SSE reader skips.
    let mut bytes = encode_stream(vec![start(), text("a")], End::Finish);
    bytes.splice(0..0, encoder.keepalive().iter().copied());
    let checked = check_stream(&bytes);
    assert_eq!(checked.done_items.len(), 1);
}

// ---------------------------------------------------------------- property

#[derive(Clone, Debug)]
enum Op {
    Text(Vec<String>),
    Thinking(Vec<String>),
    Signature(String),
    Redacted(String),
    /// A run of tool calls: all start, then their argument fragments interleave.
    Tools(Vec<(bool, Vec<String>)>),
}

fn op() -> impl Strategy<Value = Op> {
    let chunks = proptest::collection::vec("\\PC{0,6}", 1..4);
    prop_oneof![
        chunks.clone().prop_map(Op::Text),
        chunks.clone().prop_map(Op::Thinking),
        "[a-zA-Z0-9+/=]{1,12}".prop_map(Op::Signature),
        "[a-zA-Z0-9+/=]{1,12}".prop_map(Op::Redacted),
        proptest::collection::vec((any::<bool>(), chunks), 1..4).prop_map(Op::Tools),
    ]
}

fn finish_reason() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::Length),
        Just(FinishReason::ContentFilter),
    ]
}

/// The canonical events for `ops`, and the content a client should end up with.
fn script(ops: &[Op]) -> (Vec<StreamEvent>, Vec<Block>) {
    #[derive(PartialEq)]
    enum Open {
        Nothing,
        Text,
        Thinking,
    }
    let mut events = vec![start()];
    let mut expected: Vec<Block> = Vec::new();
    let mut open = Open::Nothing;
    let mut tool_count = 0;
    for op in ops {
        match op {
            Op::Text(chunks) => {
                for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                    events.push(text(chunk));
                    match (&open, expected.last_mut()) {
                        (Open::Text, Some(Block::Text { text })) => text.push_str(chunk),
                        _ => expected.push(Block::Text {
                            text: chunk.clone(),
                        }),
                    }
                    open = Open::Text;
                }
            }
            Op::Thinking(chunks) => {
                for chunk in chunks.iter().filter(|c| !c.is_empty()) {
                    events.push(thinking(chunk));
                    match (&open, expected.last_mut()) {
                        (Open::Thinking, Some(Block::Thinking { text, .. })) => {
                            text.push_str(chunk)
                        }
                        _ => expected.push(Block::Thinking {
                            text: chunk.clone(),
                            signature: None,
                        }),
                    }
                    open = Open::Thinking;
                }
            }
            Op::Signature(value) => {
                let signature = anthropic_signature(value);
                events.push(StreamEvent::ThinkingSignature {
                    signature: signature.clone(),
                });
                match (&open, expected.last_mut()) {
                    (Open::Thinking, Some(Block::Thinking { signature: s, .. })) => {
                        *s = Some(signature)
                    }
                    _ => expected.push(Block::Thinking {
                        text: String::new(),
                        signature: Some(signature),
                    }),
                }
                open = Open::Nothing;
            }
            Op::Redacted(data) => {
                events.push(StreamEvent::RedactedThinking { data: data.clone() });
                expected.push(Block::RedactedThinking { data: data.clone() });
                open = Open::Nothing;
            }
            Op::Tools(calls) => {
                let first = tool_count;
                for (offset, (namespaced, chunks)) in calls.iter().enumerate() {
                    let name = if *namespaced {
                        "multi_agent_v1--spawn_agent"
                    } else {
                        "exec_command"
                    };
                    events.push(tool_start(first + offset, name));
                    expected.push(Block::ToolCall {
                        id: format!("call_{}", first + offset),
                        name: name.into(),
                        arguments: chunks.concat(),
                    });
                }
                let longest = calls.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
                for round in 0..longest {
                    for (offset, (_, chunks)) in calls.iter().enumerate() {
                        if let Some(chunk) = chunks.get(round) {
                            events.push(tool_delta(first + offset, chunk));
                        }
                    }
                }
                tool_count += calls.len();
                open = Open::Nothing;
            }
        }
    }
    (events, expected)
}

proptest! {
    #[test]
    fn any_event_sequence_encodes_well_formed(
        ops in proptest::collection::vec(op(), 0..8),
        reason in finish_reason(),
        with_usage in any::<bool>(),
        fails in any::<bool>(),
    ) {
        let (mut events, expected) = script(&ops);
        events.push(finish(reason.clone()));
        if with_usage {
            events.push(usage_event());
        }
        let end = if fails {
            End::Fail(StreamError::new("upstream_error", "gone"))
        } else {
            End::Finish
        };
        let checked = check_stream(&encode_stream(events, end));
        if fails {
            prop_assert_eq!(checked.terminal.as_str(), "response.failed");
            // What finished is a prefix of the content (the items still open are cut off).
            let finished: Vec<Value> = checked.done_items.iter().flatten().cloned().collect();
            let replayed = replay(finished);
            prop_assert!(replayed.len() <= expected.len());
            prop_assert_eq!(&replayed[..], &expected[..replayed.len()]);
        } else {
            prop_assert_eq!(checked.terminal.as_str(), "response.completed");
            let status = match reason {
                FinishReason::Length | FinishReason::ContentFilter => "incomplete",
                _ => "completed",
            };
            prop_assert_eq!(checked.response["status"].as_str(), Some(status));
            let items: Vec<Value> = checked.done_items.into_iter().flatten().collect();
            prop_assert_eq!(replay(items), expected);
            prop_assert_eq!(checked.response["usage"].is_null(), !with_usage);
        }
    }
}
