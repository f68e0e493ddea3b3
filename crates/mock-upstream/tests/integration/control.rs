//! Recording, configuration, the `/_mock/*` control API, and shutdown on drop.

use std::net::SocketAddr;

use mock_upstream::{MockConfig, MockUpstream, UsageMode};
use serde_json::{Value, json};

use crate::common::{chat_body, parse_sse};

#[tokio::test]
async fn records_method_path_headers_body_and_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let client = reqwest::Client::new();
    let body = chat_body(false);
    client
        .post(format!("{}/chat/completions?trace=1", mock.base_url()))
        .bearer_auth("sk-test")
        .header("X-Custom-Header", "custom value")
        .json(&body)
        .send()
        .await
        .unwrap();
    client
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap();

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let chat = &requests[0];
    assert_eq!(chat.method, "POST");
    assert_eq!(chat.path, "/v1/chat/completions?trace=1");
    assert_eq!(chat.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(chat.header("x-custom-header"), Some("custom value"));
    assert!(
        chat.headers
            .iter()
            .any(|(name, _)| name == "x-custom-header")
    );
    assert!(
        chat.headers
            .iter()
            .all(|(name, _)| *name == name.to_lowercase())
    );
    assert_eq!(chat.json(), body);
    assert_eq!(chat.sent_usage.unwrap().total_tokens, 16);
    assert_eq!(requests[1].method, "GET");
    assert_eq!(requests[1].path, "/v1/models");
    assert!(requests[1].sent_usage.is_none());

    mock.clear_requests();
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn recording_can_be_turned_off() {
    let config = MockConfig {
        record: false,
        ..MockConfig::default()
    };
    let mock = MockUpstream::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert!(parse_sse(&response.text().await.unwrap()).done);
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn control_api_over_http() {
    let mock = MockUpstream::start().await.unwrap();
    let client = reqwest::Client::new();
    let control = format!("http://{}/_mock", mock.addr());

    // Config: read, replace (missing fields default), and it applies to the next request.
    let config: MockConfig = client
        .get(format!("{control}/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config, MockConfig::default());
    let response = client
        .put(format!("{control}/config"))
        .json(&json!({"chunks": 2, "usage": "finish-chunk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let config = mock.config();
    assert_eq!(
        (config.chunks, config.usage, config.record),
        (2, UsageMode::FinishChunk, true)
    );

    // Faults: queued through HTTP, taken by the next request.
    let response = client
        .post(format!("{control}/faults"))
        .json(&json!({"kind": "status", "status": 502}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let bad = client
        .post(format!("{control}/faults"))
        .json(&json!({"kind": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let chat_url = format!("{}/chat/completions", mock.base_url());
    let faulted = client
        .post(&chat_url)
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(faulted.status(), 502);
    let text = client
        .post(&chat_url)
        .json(&chat_body(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sse = parse_sse(&text);
    assert_eq!(sse.chunks.len(), 3);
    assert_eq!(sse.chunks[2]["usage"]["completion_tokens"], 2);

    // Requests: listed as JSON (control calls are not recorded), then cleared.
    let listed: Value = client
        .get(format!("{control}/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["method"], "POST");
    assert_eq!(listed[1]["path"], "/v1/chat/completions");
    assert_eq!(listed[1]["json"]["model"], "mock-small");
    assert!(listed[1]["body"].as_str().unwrap().contains("Hello there"));
    assert_eq!(listed[1]["sent_usage"]["completion_tokens"], 2);
    assert!(
        listed[1]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "content-type")
    );
    let response = client
        .delete(format!("{control}/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(mock.requests().is_empty());

    // Queued faults can be dropped.
    mock.push_fault(mock_upstream::Fault::Hang);
    client
        .delete(format!("{control}/faults"))
        .send()
        .await
        .unwrap();
    let response = client
        .post(&chat_url)
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn dropping_the_mock_stops_the_server() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/models", mock.base_url());
    assert!(url.starts_with("http://127.0.0.1:"));
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    mock.shutdown().await;
    assert!(client.get(&url).send().await.is_err());
}
