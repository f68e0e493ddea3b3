//! Chat completions: JSON and SSE shapes, usage modes, tool calls, overrides, bad requests.

use mock_upstream::{MockConfig, MockUpstream, Usage, UsageMode};
use serde_json::{Value, json};

use crate::common::{chat_body, parse_sse, streamed_text};

async fn post(mock: &MockUpstream, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn stream(mock: &MockUpstream, body: &Value) -> crate::common::Sse {
    let response = post(mock, body).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    parse_sse(&response.text().await.unwrap())
}

#[tokio::test]
async fn non_stream_completion_has_openai_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let response = post(&mock, &chat_body(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "mock-small");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].is_u64());
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Mock reply to: Hello there");
    // ceil((9 + 11) / 4) + 3 * 2 messages; one token per chunk (default 5).
    let usage = Usage {
        prompt_tokens: 11,
        completion_tokens: 5,
        total_tokens: 16,
    };
    assert_eq!(
        serde_json::from_value::<Usage>(body["usage"].clone()).unwrap(),
        usage
    );
    assert_eq!(mock.requests()[0].sent_usage, Some(usage));
}

#[tokio::test]
async fn replies_are_deterministic() {
    let mock = MockUpstream::start().await.unwrap();
    let first = post(&mock, &chat_body(false)).await.text().await.unwrap();
    let second = post(&mock, &chat_body(false)).await.text().await.unwrap();
    assert_eq!(first, second);
}

#[tokio::test]
async fn stream_without_include_usage_reports_none_in_final_mode() {
    let mock = MockUpstream::start().await.unwrap();
    let sse = stream(&mock, &chat_body(true)).await;
    assert!(sse.done);
    // 5 content chunks + the finish chunk.
    assert_eq!(sse.chunks.len(), 6);
    for chunk in &sse.chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "mock-small");
        assert!(chunk.get("usage").is_none(), "{chunk}");
    }
    assert_eq!(sse.chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(sse.chunks[1]["choices"][0]["delta"].get("role").is_none());
    assert_eq!(sse.chunks[5]["choices"][0]["finish_reason"], "stop");
    assert_eq!(streamed_text(&sse.chunks), "Mock reply to: Hello there");
    // The usage is recorded even though the stream did not carry it.
    assert_eq!(mock.requests()[0].sent_usage.unwrap().completion_tokens, 5);
}

#[tokio::test]
async fn stream_with_include_usage_ends_with_usage_chunk_in_final_mode() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let sse = stream(&mock, &body).await;
    assert!(sse.done);
    let (last, rest) = sse.chunks.split_last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 11);
    assert_eq!(last["usage"]["completion_tokens"], 5);
    assert_eq!(last["usage"]["total_tokens"], 16);
    for chunk in rest {
        assert!(
            chunk["usage"].is_null() && chunk.get("usage").is_some(),
            "{chunk}"
        );
    }
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn finish_chunk_mode_puts_usage_on_the_finish_chunk() {
    let config = MockConfig {
        usage: UsageMode::FinishChunk,
        ..MockConfig::default()
    };
    let mock = MockUpstream::start().await.unwrap();
    mock.set_config(config);
    for include_usage in [false, true] {
        let mut body = chat_body(true);
        body["stream_options"] = json!({"include_usage": include_usage});
        let sse = stream(&mock, &body).await;
        let last = sse.chunks.last().unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(last["usage"]["total_tokens"], 16);
        let with_usage = sse.chunks.iter().filter(|c| c.get("usage").is_some());
        assert_eq!(with_usage.count(), 1);
    }
}

#[tokio::test]
async fn none_mode_never_reports_usage_in_streams() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .header("x-mock-usage", "none")
        .json(&body)
        .send()
        .await
        .unwrap();
    let sse = parse_sse(&response.text().await.unwrap());
    assert!(sse.done);
    assert!(sse.chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(mock.requests()[0].sent_usage.is_some());
}

#[tokio::test]
async fn chunk_count_follows_header_and_config() {
    let mock = MockUpstream::start().await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .header("x-mock-chunks", "40")
        .header("x-mock-chunk-gap-ms", "1")
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    let sse = parse_sse(&response.text().await.unwrap());
    assert_eq!(sse.chunks.len(), 41);
    let contents = sse.chunks[..40]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap());
    assert!(contents.clone().all(|piece| !piece.is_empty()));
    assert!(
        contents
            .collect::<String>()
            .starts_with("Mock reply to: Hello there")
    );

    mock.set_config(MockConfig {
        chunks: 2,
        ..MockConfig::default()
    });
    let sse = stream(&mock, &chat_body(true)).await;
    assert_eq!(sse.chunks.len(), 3);
    let body: Value = post(&mock, &chat_body(false)).await.json().await.unwrap();
    assert_eq!(body["usage"]["completion_tokens"], 2);
}

fn weather_tools() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"]
            }
        }
    }])
}

#[tokio::test]
async fn tool_call_stream_reassembles_into_json_arguments() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = chat_body(true);
    body["tools"] = weather_tools();
    let sse = stream(&mock, &body).await;
    assert!(sse.done);
    let mut id = None;
    let mut name = String::new();
    let mut arguments = String::new();
    let mut argument_deltas = 0;
    for chunk in &sse.chunks {
        let Some(calls) = chunk["choices"][0]["delta"]["tool_calls"].as_array() else {
            continue;
        };
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0]["index"], 0);
        if let Some(call_id) = calls[0]["id"].as_str() {
            assert_eq!(calls[0]["type"], "function");
            id = Some(call_id.to_owned());
        }
        if let Some(part) = calls[0]["function"]["name"].as_str() {
            name.push_str(part);
        }
        let part = calls[0]["function"]["arguments"].as_str().unwrap();
        if !part.is_empty() {
            argument_deltas += 1;
        }
        arguments.push_str(part);
    }
    assert!(id.unwrap().starts_with("call_"));
    assert_eq!(name, "get_weather");
    assert!(
        argument_deltas > 1,
        "arguments should arrive in several deltas"
    );
    let arguments: Value = serde_json::from_str(&arguments).unwrap();
    assert_eq!(arguments, json!({"city": "Paris"}));
    assert_eq!(
        sse.chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn tool_call_non_stream_and_tool_result_reply() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = chat_body(false);
    body["tools"] = weather_tools();
    let reply: Value = post(&mock, &body).await.json().await.unwrap();
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let arguments = call["function"]["arguments"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap()["city"],
        "Paris"
    );

    // Second turn: the tool result comes back; the mock answers with text that quotes it.
    let messages = body["messages"].as_array_mut().unwrap();
    messages.push(choice["message"].clone());
    messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "18°C, sunny"}));
    let reply: Value = post(&mock, &body).await.json().await.unwrap();
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    let text = reply["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("18°C, sunny"), "{text}");

    // `tool_choice: none` keeps the mock from calling tools.
    let mut body = chat_body(false);
    body["tools"] = weather_tools();
    body["tool_choice"] = json!("none");
    let reply: Value = post(&mock, &body).await.json().await.unwrap();
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn content_parts_are_read_as_text() {
    let mock = MockUpstream::start().await.unwrap();
    let body = json!({
        "model": "m",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "Describe "},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "this"}
        ]}]
    });
    let reply: Value = post(&mock, &body).await.json().await.unwrap();
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "Mock reply to: Describe this"
    );
}

#[tokio::test]
async fn bad_requests_get_openai_errors() {
    let mock = MockUpstream::start().await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", mock.base_url());
    let cases = [
        ("{not json".to_owned(), None),
        (json!({"messages": []}).to_string(), None),
        (json!({"model": "m"}).to_string(), Some("messages")),
        (
            json!({"model": "m", "messages": []}).to_string(),
            Some("messages"),
        ),
    ];
    for (body, param) in cases {
        let response = client.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        let error = &error["error"];
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"].as_str(), param);
        assert!(error.get("code").is_some());
    }
    let response = client
        .post(&url)
        .header("x-mock-chunks", "many")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-mock-chunks")
    );
}

#[tokio::test]
async fn routes_work_without_v1_prefix_and_models_are_listed() {
    let mock = MockUpstream::start().await.unwrap();
    let client = reqwest::Client::new();
    let root = format!("http://{}", mock.addr());
    for url in [
        format!("{root}/models"),
        format!("{}/models", mock.base_url()),
    ] {
        let list: Value = client.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["object"], "list");
        let ids: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&"mock-small") && ids.contains(&"mock-large"));
        assert!(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["object"] == "model")
        );
    }
    let model: Value = client
        .get(format!("{}/models/mock-large", mock.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(model["id"], "mock-large");
    let response = client
        .post(format!("{root}/chat/completions"))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .get(format!("{root}/v1/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
}
