//! Anthropic Messages API: message and stream shapes, tool use, thinking, round trips, token
//! counting, models, and the checks Anthropic makes on requests.

use mock_upstream::{ANTHROPIC_THINKING_SIGNATURE, MockUpstream, Usage, UsageDetails};
use serde_json::{Value, json};

use crate::anthropic_events::assemble;
use crate::common::events;

pub fn messages_url(mock: &MockUpstream) -> String {
    format!("{}/v1/messages", mock.root_url())
}

/// A Messages request builder with Anthropic's headers.
pub fn post(url: &str, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(body)
}

pub fn message_body(stream: bool) -> Value {
    json!({
        "model": "mock-large",
        "max_tokens": 256,
        "stream": stream,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello there"}]
    })
}

pub fn weather_tools() -> Value {
    json!([{
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {
            "type": "object",
            "properties": {"unit": {"type": "string"}, "city": {"type": "string"}},
            "required": ["city"]
        }
    }])
}

async fn send(mock: &MockUpstream, body: &Value) -> reqwest::Response {
    post(&messages_url(mock), body).send().await.unwrap()
}

async fn create(mock: &MockUpstream, body: &Value) -> Value {
    let response = send(mock, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn non_stream_message_has_anthropic_shape_and_is_recorded() {
    let mock = MockUpstream::start().await.unwrap();
    let body = message_body(false);
    let message = create(&mock, &body).await;
    assert!(message["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "mock-large");
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": "Mock reply to: Hello there"}])
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["stop_sequence"], Value::Null);
    // ceil((9 + 11) / 4) + 3 * 1 message; one output token per chunk (default 5).
    assert_eq!(
        message["usage"],
        json!({"input_tokens": 8, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 5})
    );

    let recorded = &mock.requests()[0];
    assert_eq!(recorded.path, "/v1/messages");
    assert_eq!(recorded.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(recorded.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(recorded.json(), body);
    assert_eq!(recorded.sent_usage, Some(Usage::new(8, 5)));
    assert_eq!(recorded.sent_usage_details, Some(UsageDetails::default()));
}

#[tokio::test]
async fn stream_follows_anthropic_event_grammar() {
    let mock = MockUpstream::start().await.unwrap();
    let response = send(&mock, &message_body(true)).await;
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let events = events(response).await;
    let assembled = assemble(&events);
    assert_eq!(
        assembled.content,
        vec![json!({"type": "text", "text": "Mock reply to: Hello there"})]
    );
    let deltas = events
        .iter()
        .filter(|e| e.name == "content_block_delta")
        .count();
    assert_eq!(deltas, 5);
    assert!(assembled.pings >= 1);
    assert_eq!(assembled.start["model"], "mock-large");
    assert_eq!(assembled.start["usage"]["input_tokens"], 8);
    assert_eq!(assembled.start["usage"]["output_tokens"], 1);
    assert_eq!(
        assembled.delta,
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(assembled.usage["output_tokens"], 5);
    assert_eq!(assembled.usage["input_tokens"], 8);
    assert_eq!(mock.requests()[0].sent_usage, Some(Usage::new(8, 5)));
}

#[tokio::test]
async fn beta_query_and_bearer_auth_are_accepted_and_recorded() {
    let mock = MockUpstream::start().await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}?beta=true", messages_url(&mock)))
        .bearer_auth("oauth-token")
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .json(&message_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let recorded = &mock.requests()[0];
    assert_eq!(recorded.path, "/v1/messages?beta=true");
    assert_eq!(recorded.header("authorization"), Some("Bearer oauth-token"));
    assert_eq!(recorded.header("x-api-key"), None);
    assert_eq!(
        recorded.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
}

#[tokio::test]
async fn tool_use_streams_input_as_json_fragments() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = message_body(false);
    body["tools"] = weather_tools();
    let message = create(&mock, &body).await;
    assert_eq!(message["stop_reason"], "tool_use");
    let block = &message["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({"city": "Paris"}));
    // Five fragments of `{"city":"Paris"}` plus one for the block header.
    assert_eq!(message["usage"]["output_tokens"], 6);

    body["stream"] = json!(true);
    let assembled = assemble(&events(send(&mock, &body).await).await);
    assert_eq!(assembled.content.len(), 1);
    let streamed = &assembled.content[0];
    assert_eq!(
        (&streamed["name"], &streamed["input"]),
        (&block["name"], &block["input"])
    );
    assert!(streamed["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(assembled.json_fragments, vec![5]);
    assert_eq!(assembled.delta["stop_reason"], "tool_use");
    assert_eq!(assembled.usage["output_tokens"], 6);

    // A named tool is chosen; `none` answers in text.
    body["stream"] = json!(false);
    let mut tools = weather_tools();
    tools.as_array_mut().unwrap().push(json!({
        "name": "get_time",
        "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}
    }));
    body["tools"] = tools;
    body["tool_choice"] = json!({"type": "tool", "name": "get_time"});
    let message = create(&mock, &body).await;
    assert_eq!(message["content"][0]["name"], "get_time");
    assert_eq!(message["content"][0]["input"], json!({"zone": "Paris"}));
    body["tool_choice"] = json!({"type": "none"});
    let message = create(&mock, &body).await;
    assert_eq!(message["content"][0]["type"], "text");
}

#[tokio::test]
async fn thinking_comes_first_with_a_signature() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = message_body(false);
    body["max_tokens"] = json!(4096);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
    let message = create(&mock, &body).await;
    assert_eq!(
        message["content"],
        json!([
            {"type": "thinking", "thinking": "Mock thinking about: Hello there", "signature": ANTHROPIC_THINKING_SIGNATURE},
            {"type": "text", "text": "Mock reply to: Hello there"}
        ])
    );
    assert_eq!(message["usage"]["output_tokens"], 10);
    let details = mock.requests()[0].sent_usage_details.unwrap();
    assert_eq!(details.reasoning_tokens, 5);

    body["stream"] = json!(true);
    let events = events(send(&mock, &body).await).await;
    let assembled = assemble(&events);
    assert_eq!(
        assembled.content,
        message["content"].as_array().unwrap().clone()
    );
    let starts: Vec<&Value> = events
        .iter()
        .filter(|e| e.name == "content_block_start")
        .map(|e| &e.data["content_block"])
        .collect();
    assert_eq!(
        starts,
        [
            &json!({"type": "thinking", "thinking": "", "signature": ""}),
            &json!({"type": "text", "text": ""})
        ]
    );
    let signatures = events
        .iter()
        .filter(|e| e.data["delta"]["type"] == "signature_delta")
        .count();
    assert_eq!(signatures, 1);
    // 5 thinking + 1 signature + 5 text deltas: a second ping after the 8th.
    assert_eq!(assembled.pings, 2);

    // Adaptive thinking thinks too.
    body["stream"] = json!(false);
    body["thinking"] = json!({"type": "adaptive"});
    let message = create(&mock, &body).await;
    assert_eq!(message["content"][0]["type"], "thinking");
}

/// An assistant turn that called `get_weather`, and the user turn answering it.
fn tool_round_trip(tool_use: &Value, thinking: Option<&Value>) -> Value {
    let mut assistant = Vec::new();
    if let Some(thinking) = thinking {
        assistant.push(thinking.clone());
    }
    assistant.push(tool_use.clone());
    json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "18C and sunny"}
        ]}
    ])
}

#[tokio::test]
async fn tool_result_round_trip() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = message_body(false);
    body["tools"] = weather_tools();
    let first = create(&mock, &body).await;
    body["messages"] = tool_round_trip(&first["content"][0], None);
    let second = create(&mock, &body).await;
    assert_eq!(second["stop_reason"], "end_turn");
    assert_eq!(
        second["content"][0]["text"],
        "Mock reply to tool result: 18C and sunny"
    );

    // Tool results as text blocks, split over consecutive user messages (merged, as Anthropic does).
    let tool_use = &first["content"][0];
    body["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [tool_use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": [{"type": "text", "text": "18C"}]}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
    ]);
    body["stream"] = json!(true);
    let assembled = assemble(&events(send(&mock, &body).await).await);
    assert_eq!(
        assembled.content[0]["text"],
        "Mock reply to tool result: 18C"
    );
}

#[tokio::test]
async fn thinking_round_trip_needs_the_signed_thinking_block() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = message_body(false);
    body["tools"] = weather_tools();
    body["max_tokens"] = json!(4096);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let first = create(&mock, &body).await;
    assert_eq!(first["content"][0]["type"], "thinking");
    assert_eq!(first["content"][1]["type"], "tool_use");
    assert_eq!(first["stop_reason"], "tool_use");

    body["messages"] = tool_round_trip(&first["content"][1], Some(&first["content"][0]));
    let second = create(&mock, &body).await;
    assert_eq!(
        second["content"][1]["text"],
        "Mock reply to tool result: 18C and sunny"
    );

    // The thinking block dropped: Anthropic's error.
    body["messages"] = tool_round_trip(&first["content"][1], None);
    let response = send(&mock, &body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("must start with a thinking block"),
        "{message}"
    );

    // Another provider's signature: rejected.
    let mut foreign = first["content"][0].clone();
    foreign["signature"] = json!("c29tZW9uZS1lbHNl");
    body["messages"] = tool_round_trip(&first["content"][1], Some(&foreign));
    let response = send(&mock, &body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid `signature` in `thinking` block")
    );
}

#[tokio::test]
async fn stop_sequences_and_max_tokens_end_the_text_early() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = message_body(false);
    body["stop_sequences"] = json!(["there", "nothing"]);
    let message = create(&mock, &body).await;
    assert_eq!(message["content"][0]["text"], "Mock reply to: Hello ");
    assert_eq!(message["stop_reason"], "stop_sequence");
    assert_eq!(message["stop_sequence"], "there");

    body["stream"] = json!(true);
    let assembled = assemble(&events(send(&mock, &body).await).await);
    assert_eq!(
        assembled.delta,
        json!({"stop_reason": "stop_sequence", "stop_sequence": "there"})
    );

    let mut body = message_body(true);
    body["max_tokens"] = json!(2);
    let assembled = assemble(&events(send(&mock, &body).await).await);
    assert_eq!(assembled.delta["stop_reason"], "max_tokens");
    assert_eq!(assembled.usage["output_tokens"], 2);
    assert_eq!(assembled.content[0]["text"], "Mock reply");
}

#[tokio::test]
async fn count_tokens_matches_the_message_and_cache_control_reads_the_cache() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = message_body(false);
    body["system"] = json!([
        {"type": "text", "text": "You are a careful assistant. Answer briefly.", "cache_control": {"type": "ephemeral"}}
    ]);
    body["tools"] = weather_tools();
    body["tool_choice"] = json!({"type": "none"});
    let count: Value = post(&format!("{}/count_tokens", messages_url(&mock)), &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = count["input_tokens"].as_u64().unwrap();
    assert!(total > 50, "{count}");
    assert_eq!(count.as_object().unwrap().len(), 1);

    let message = create(&mock, &body).await;
    let usage = &message["usage"];
    let read = usage["cache_read_input_tokens"].as_u64().unwrap();
    assert_eq!(read, total * 3 / 4);
    assert_eq!(usage["input_tokens"].as_u64().unwrap(), total - read);
    assert_eq!(usage["cache_creation_input_tokens"], 0);
    let recorded = &mock.requests()[1];
    assert_eq!(recorded.sent_usage.unwrap().prompt_tokens, total);
    assert_eq!(recorded.sent_usage_details.unwrap().cache_read_tokens, read);
    // count_tokens reports no generation.
    assert_eq!(mock.requests()[0].sent_usage, None);

    // A breakpoint on a later block writes the cache instead.
    body["system"] = json!("Plain system prompt.");
    body["messages"] = json!([{"role": "user", "content": [
        {"type": "text", "text": "Hello there", "cache_control": {"type": "ephemeral"}}
    ]}]);
    let message = create(&mock, &body).await;
    assert_eq!(message["usage"]["cache_read_input_tokens"], 0);
    assert!(
        message["usage"]["cache_creation_input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn models_answer_in_anthropic_shape_with_anthropic_version() {
    let mock = MockUpstream::start().await.unwrap();
    let client = reqwest::Client::new();
    let list: Value = client
        .get(format!("{}/v1/models", mock.root_url()))
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], "mock-small");
    assert_eq!(list["last_id"], "mock-embed");
    assert_eq!(
        list["data"][0],
        json!({"type": "model", "id": "mock-small", "display_name": "Mock Small", "created_at": "2023-11-14T22:13:20Z"})
    );
    let one: Value = client
        .get(format!("{}/v1/models/mock-large", mock.root_url()))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["display_name"], "Mock Large");
    let missing = client
        .get(format!("{}/v1/models/nope", mock.root_url()))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["type"], "not_found_error");

    // Without the header: OpenAI's list.
    let openai: Value = client
        .get(format!("{}/v1/models", mock.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openai["object"], "list");

    // Unknown paths answer in Anthropic's shape too.
    let unknown = client
        .post(format!("{}/v1/nothing", mock.root_url()))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let error: Value = unknown.json().await.unwrap();
    assert_eq!(error["type"], "error");
}

#[tokio::test]
async fn bad_requests_get_anthropic_errors() {
    let mock = MockUpstream::start().await.unwrap();
    let tool_use = json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
            "model: Field required",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
            "max_tokens: Field required",
        ),
        (
            json!({"model": "m", "max_tokens": 5}),
            "messages: Field required",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": []}),
            "at least 1 item",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
            "top-level `system` parameter",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}
            ]}]}),
            "unexpected `tool_use_id`",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": [tool_use]},
                {"role": "user", "content": "no result"}
            ]}),
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "thinking": {"type": "enabled", "budget_tokens": 100},
                   "messages": [{"role": "user", "content": "x"}]}),
            "greater than or equal to 1024",
        ),
        (
            json!({"model": "m", "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 2000},
                   "messages": [{"role": "user", "content": "x"}]}),
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
    ];
    for (body, expected) in cases {
        let response = send(&mock, &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    let response = reqwest::Client::new()
        .post(messages_url(&mock))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    // Rejected requests are recorded too, without usage.
    assert!(mock.requests().iter().all(|r| r.sent_usage.is_none()));
}

/// Shaped like what Claude Code sends: system blocks with cache breakpoints, a mid-conversation
/// `system` message (allowed by its beta), adaptive thinking, an assistant turn without thinking.
#[tokio::test]
async fn claude_code_style_request_is_accepted() {
    let mock = MockUpstream::start().await.unwrap();
    let body = json!({
        "model": "claude-opus-4-8",
        "max_tokens": 64000,
        "stream": true,
        "thinking": {"type": "adaptive"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "metadata": {"user_id": "u"},
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1;"},
            {"type": "text", "text": "You are a Claude agent.", "cache_control": {"type": "ephemeral"}}
        ],
        "tools": weather_tools(),
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "read it"}]},
            {"role": "system", "content": "Available agent types: none."},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_01Mock", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01Mock", "content": "sunny", "cache_control": {"type": "ephemeral"}}
            ]}
        ]
    });
    let response = post(&messages_url(&mock), &body)
        .header(
            "anthropic-beta",
            "claude-code-20250219,mid-conversation-system-2026-04-07,effort-2025-11-24",
        )
        .send()
        .await
        .unwrap();
    let assembled = assemble(&events(response).await);
    assert_eq!(assembled.content[0]["type"], "thinking");
    assert_eq!(
        assembled.content[1]["text"],
        "Mock reply to tool result: sunny"
    );
    assert!(
        assembled.start["usage"]["cache_read_input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Without the beta, a `system` message is refused.
    let response = send(&mock, &body).await;
    assert_eq!(response.status(), 400);
}
