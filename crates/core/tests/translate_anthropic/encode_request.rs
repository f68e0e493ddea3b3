//! `encode_request`'s tricky mappings: merged turns, tool choice, thinking budgets and where
//! Anthropic refuses thinking, images, blocks of other dialects.

use serde_json::{Value, json};
use switchboard_core::translate::anthropic::encode_request;
use switchboard_core::translate::{
    Block, ChatRequest, Dialect, Message, Reasoning, Role, Signature, Tool, ToolChoice,
};

pub fn user(blocks: Vec<Block>) -> Message {
    Message {
        role: Role::User,
        content: blocks,
    }
}

pub fn assistant(blocks: Vec<Block>) -> Message {
    Message {
        role: Role::Assistant,
        content: blocks,
    }
}

pub fn text(text: &str) -> Block {
    Block::Text {
        text: text.to_owned(),
    }
}

pub fn call(id: &str) -> Block {
    Block::ToolCall {
        id: id.to_owned(),
        name: "lookup".to_owned(),
        arguments: r#"{"q":"x"}"#.to_owned(),
    }
}

pub fn result(id: &str) -> Block {
    Block::ToolResult {
        call_id: id.to_owned(),
        content: vec![text("found")],
        is_error: false,
    }
}

pub fn base_request(messages: Vec<Message>) -> ChatRequest {
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
