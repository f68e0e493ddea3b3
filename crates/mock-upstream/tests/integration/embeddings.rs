//! Embeddings: list shape, deterministic vectors, base64 encoding, token inputs, usage.

use mock_upstream::{MockUpstream, Usage};
use serde_json::{Value, json};

async fn embed(mock: &MockUpstream, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/embeddings", mock.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn vector(item: &Value) -> Vec<f64> {
    item["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn string_and_array_inputs() {
    let mock = MockUpstream::start().await.unwrap();
    let one: Value = embed(
        &mock,
        json!({"model": "mock-embed", "input": "hello world"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["object"], "list");
    assert_eq!(one["model"], "mock-embed");
    assert_eq!(one["data"][0]["object"], "embedding");
    assert_eq!(one["data"][0]["index"], 0);
    assert_eq!(vector(&one["data"][0]).len(), 8);
    assert_eq!(one["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));

    let many: Value = embed(
        &mock,
        json!({"model": "mock-embed", "input": ["hello world", "bye"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let data = many["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    // Same text, same vector; other text, other vector.
    assert_eq!(vector(&data[0]), vector(&one["data"][0]));
    assert_ne!(vector(&data[0]), vector(&data[1]));
    assert_eq!(many["usage"]["prompt_tokens"], 4);
    assert_eq!(
        mock.requests()[1].sent_usage,
        Some(Usage {
            prompt_tokens: 4,
            completion_tokens: 0,
            total_tokens: 4
        })
    );
}

#[tokio::test]
async fn base64_tokens_and_dimensions() {
    let mock = MockUpstream::start().await.unwrap();
    let floats: Value = embed(&mock, json!({"model": "e", "input": "abc"}))
        .await
        .json()
        .await
        .unwrap();
    let encoded: Value = embed(
        &mock,
        json!({"model": "e", "input": "abc", "encoding_format": "base64"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let text = encoded["data"][0]["embedding"].as_str().unwrap();
    // 8 little-endian f32s = 32 bytes = 44 base64 characters with padding.
    assert_eq!(text.len(), 44);

    let tokens: Value = embed(
        &mock,
        json!({"model": "e", "input": [[1, 2, 3], [4]], "dimensions": 3}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(tokens["usage"]["prompt_tokens"], 4);
    assert_eq!(vector(&tokens["data"][1]).len(), 3);
    assert_eq!(vector(&floats["data"][0]).len(), 8);
}

#[tokio::test]
async fn invalid_embedding_requests() {
    let mock = MockUpstream::start().await.unwrap();
    for body in [
        json!({"input": "x"}),
        json!({"model": "e"}),
        json!({"model": "e", "input": []}),
        json!({"model": "e", "input": "x", "encoding_format": "hex"}),
        json!({"model": "e", "input": "x", "dimensions": 0}),
    ] {
        let response = embed(&mock, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
}
