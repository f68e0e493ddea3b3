#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Gemini translation: recorded responses and `alt=sse` streams decoded and snapshotted, the
//! request body (thought signatures, function responses, schemas) checked against what Gemini
//! accepts, and schema rewriting checked at every depth on arbitrary schemas.

mod translate_gemini_schema;
mod translate_support;

use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_core::translate::gemini::{
    GeminiStreamDecoder, decode_response, encode_request, generate_path,
};
use switchboard_core::translate::openai_chat;
use switchboard_core::translate::{
    Block, ChatRequest, Dialect, ImageSource, Message, Reasoning, Role, Signature, StreamError,
    StreamEvent, Tool, ToolChoice,
};
use translate_gemini_schema::{arbitrary_schema, check_declarations};
use translate_support::{decode_chunks, fixture, split_at};

const RESPONSES: &[&str] = &[
    "response_text",
    "response_thought_function_call",
    "response_parallel_calls",
    "response_safety",
    "response_prompt_blocked",
];
const STREAMS: &[&str] = &[
    "stream_text",
    "stream_thoughts",
    "stream_function_call",
    "stream_parallel_calls",
    "stream_safety",
    "stream_usage_cached_thoughts",
    "stream_prompt_blocked",
    "stream_error",
];
const SIGNATURE: &str = "CiQB0e2Kb7Zg9kQ2xX0ZrNRbW1oUlJ0b2tlbi1zaWduYXR1cmU=";

fn gemini(name: &str, ext: &str) -> Vec<u8> {
    fixture(&format!("gemini/{name}.{ext}"))
}

fn encoded(request: &ChatRequest) -> Value {
    serde_json::from_slice(&encode_request(request).unwrap()).unwrap()
}

#[test]
fn responses_decode() {
    for name in RESPONSES {
        let response = decode_response(&gemini(name, "json")).unwrap_or_else(|e| panic!("{e}"));
        insta::assert_yaml_snapshot!(format!("gemini_{name}"), response);
    }
    assert_eq!(
        decode_response(&gemini("response_error", "json")).unwrap_err(),
        "Gemini response is an error (invalid_argument): * GenerateContentRequest.contents: \
         contents is not specified\n"
    );
}

fn decode_stream(bytes: &[u8], cuts: &[usize]) -> (Result<Vec<StreamEvent>, StreamError>, bool) {
    let mut decoder = GeminiStreamDecoder::new();
    decode_chunks(&mut decoder, split_at(bytes, cuts))
}

#[test]
fn streams_decode() {
    for name in STREAMS {
        let bytes = gemini(name, "sse");
        assert!(
            bytes.windows(4).any(|w| w == b"\r\n\r\n"),
            "{name}: Gemini frames events with CRLF"
        );
        let (events, complete) = decode_stream(&bytes, &[]);
        insta::assert_yaml_snapshot!(
            format!("gemini_{name}"),
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
        let bytes = gemini(STREAMS[which], "sse");
        prop_assert_eq!(decode_stream(&bytes, &[]), decode_stream(&bytes, &cuts));
    }
}

fn text(text: &str) -> Block {
    Block::Text {
        text: text.to_owned(),
    }
}

fn call(id: &str, name: &str, arguments: &str) -> Block {
    Block::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

fn result(call_id: &str, content: &str, is_error: bool) -> Block {
    Block::ToolResult {
        call_id: call_id.into(),
        content: vec![text(content)],
        is_error,
    }
}

fn gemini_signed(thought: &str, value: &str) -> Block {
    Block::Thinking {
        text: thought.into(),
        signature: Some(Signature {
            dialect: Dialect::Gemini,
            value: value.into(),
        }),
    }
}

fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: Some("Current weather".into()),
        parameters: json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "unit": {"type": ["string", "null"], "enum": ["c", "f", null]},
                "days": {"type": "integer", "exclusiveMinimum": 0, "format": "uint8"}
            },
            "required": ["city", "country"],
            "additionalProperties": false
        }),
    }
}

fn conversation() -> ChatRequest {
    ChatRequest {
        model: "gemini-3-pro-preview".into(),
        system: vec!["Be terse.".into(), "Use metric units.".into()],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    text("Weather in Zürich and Bern? And what is this?"),
                    Block::Image {
                        source: ImageSource::Base64 {
                            media_type: "image/png".into(),
                            data: "iVBORw0KGgo=".into(),
                        },
                    },
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    gemini_signed("Two cities: two calls.", SIGNATURE),
                    call("call_a", "get_weather", r#"{"city":"Zürich"}"#),
                    call("call_b", "get_weather", r#"{"city":"Bern"}"#),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    result("call_a", r#"{"temp":18,"sky":"sunny"}"#, false),
                    result("call_b", "station offline", true),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    // Another provider's thinking means nothing to Gemini.
                    Block::Thinking {
                        text: "Anthropic thoughts".into(),
                        signature: Some(Signature {
                            dialect: Dialect::Anthropic,
                            value: "EqQB".into(),
                        }),
                    },
                    text("Zürich: 18°C, sunny. Bern: unknown. The image is a 1×1 PNG."),
                ],
            },
            Message {
                role: Role::User,
                content: vec![text("Thanks!")],
            },
        ],
        tools: vec![weather_tool()],
        tool_choice: Some(ToolChoice::Named("get_weather".into())),
        parallel_tool_calls: Some(true),
        max_tokens: Some(2048),
        temperature: Some(0.4),
        top_p: Some(0.95),
        stop: vec!["END".into()],
        stream: true,
        reasoning: Some(Reasoning {
            effort: Some("high".into()),
            budget_tokens: None,
            enabled: true,
        }),
        response_format: Some(json!({"type": "json_schema", "json_schema": {"name": "w",
            "schema": {"type": "object", "properties": {"summary": {"type": "string"}},
                       "additionalProperties": false, "required": ["summary"]}}})),
        user: Some("user-1".into()),
    }
}

#[test]
fn request_body() {
    let body = encoded(&conversation());
    insta::assert_snapshot!(
        "gemini_request_conversation",
        serde_json::to_string_pretty(&body).unwrap()
    );
    let model_turn = &body["contents"][1]["parts"];
    assert_eq!(
        model_turn[0],
        json!({"text": "Two cities: two calls.", "thought": true})
    );
    assert_eq!(model_turn[1]["thoughtSignature"], SIGNATURE);
    assert!(model_turn[2].get("thoughtSignature").is_none());
    check_declarations(&body);
}

#[test]
fn signatures_survive_a_gemini_round_trip() {
    // The answer as decoded, replayed as the assistant turn of the next request.
    for (fixture_name, first_call) in [
        ("response_thought_function_call", 1),
        ("response_parallel_calls", 0),
    ] {
        let response = decode_response(&gemini(fixture_name, "json")).unwrap();
        let ids: Vec<String> = response
            .content
            .iter()
            .filter_map(|b| match b {
                Block::ToolCall { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect();
        let request = ChatRequest {
            model: response.model.clone(),
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![text("weather?")],
                },
                Message {
                    role: Role::Assistant,
                    content: response.content.clone(),
                },
                Message {
                    role: Role::User,
                    content: ids.iter().map(|id| result(id, "18°C", false)).collect(),
                },
            ],
            ..ChatRequest::default()
        };
        let body = encoded(&request);
        let original: Value = serde_json::from_slice(&gemini(fixture_name, "json")).unwrap();
        assert_eq!(
            body["contents"][1]["parts"], original["candidates"][0]["content"]["parts"],
            "{fixture_name}: the model turn goes back exactly as Gemini sent it"
        );
        assert_eq!(
            body["contents"][1]["parts"][first_call]["thoughtSignature"],
            SIGNATURE
        );
        assert_eq!(
            body["contents"][2]["parts"][0],
            json!({"functionResponse": {"name": "get_weather", "response": {"result": "18°C"}}})
        );
    }
}

#[test]
fn unsigned_history_gets_the_documented_sentinel() {
    // An OpenAI client cannot keep signatures: its tool-call turns get Google's fallback value
    // on the first call of each model turn, and its unsigned reasoning is not sent.
    let body = br#"{"model":"gemini-3-flash-preview","messages":[
        {"role":"user","content":"weather?"},
        {"role":"assistant","content":null,"reasoning_content":"two calls","tool_calls":[
          {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Bern\"}"}},
          {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_1","content":"18"},
        {"role":"tool","tool_call_id":"call_2","content":"[1,2]"}],
        "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#;
    let request = openai_chat::decode_request(body).unwrap();
    let body = encoded(&request);
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            {"functionCall": {"name": "get_weather", "args": {"city": "Bern"}},
             "thoughtSignature": "skip_thought_signature_validator"},
            {"functionCall": {"name": "get_weather", "args": {}}}
        ])
    );
    assert_eq!(
        body["contents"][2]["parts"][1]["functionResponse"]["response"],
        json!({"result": "[1,2]"})
    );
}

#[test]
fn recorded_client_requests_encode_for_gemini() {
    for name in ["request_continue", "request_aider"] {
        let mut request =
            openai_chat::decode_request(&fixture(&format!("openai/{name}.json"))).unwrap();
        request.model = "gemini-2.5-flash".into();
        let body = encoded(&request);
        check_declarations(&body);
        assert_eq!(body["contents"][0]["role"], "user");
        if name == "request_continue" {
            // `Exit` declares no parameters: Gemini rejects an empty OBJECT, so none are sent.
            let exit = body["tools"][0]["functionDeclarations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == "Exit")
                .unwrap();
            assert!(exit.get("parameters").is_none());
        }
    }
}

#[test]
fn requests_gemini_cannot_take_are_refused_clearly() {
    let mut request = conversation();
    request.messages[0].content.push(Block::Image {
        source: ImageSource::Url {
            url: "https://example.com/cat.jpg".into(),
        },
    });
    insta::assert_snapshot!(
        "gemini_refuses_image_urls",
        encode_request(&request).unwrap_err().to_string()
    );
    let mut request = conversation();
    request.messages[2].content[0] = result("call_unknown", "x", false);
    insta::assert_snapshot!(
        "gemini_refuses_orphan_results",
        encode_request(&request).unwrap_err().to_string()
    );
}

#[test]
fn thinking_config_follows_the_model_generation() {
    let mut request = conversation();
    let config = |r: &ChatRequest| encoded(r)["generationConfig"]["thinkingConfig"].clone();
    assert_eq!(
        config(&request),
        json!({"includeThoughts": true, "thinkingLevel": "high"})
    );
    request.model = "gemini-2.5-flash".into();
    assert_eq!(
        config(&request),
        json!({"includeThoughts": true, "thinkingBudget": 24576})
    );
    request.reasoning = Some(Reasoning {
        effort: None,
        budget_tokens: Some(4000),
        enabled: true,
    });
    assert_eq!(
        config(&request),
        json!({"includeThoughts": true, "thinkingBudget": 4000})
    );
    request.reasoning = Some(Reasoning {
        enabled: false,
        ..Reasoning::default()
    });
    assert_eq!(config(&request), json!({"thinkingBudget": 0}));
    request.reasoning = None;
    assert_eq!(config(&request), Value::Null);
    assert_eq!(
        generate_path(&request.model, true),
        "models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn schema_rewriting_leaves_nothing_gemini_rejects(schema in arbitrary_schema()) {
        let request = ChatRequest {
            model: "gemini-2.5-flash".into(),
            messages: vec![Message { role: Role::User, content: vec![text("hi")] }],
            tools: vec![Tool { name: "f".into(), description: None, parameters: schema.clone() }],
            response_format: Some(json!({"type": "json_schema", "json_schema": {"schema": schema}})),
            ..ChatRequest::default()
        };
        check_declarations(&encoded(&request));
    }
}
