//! Each fault, queued or sent as an `x-mock-fault` header, as a client sees it on the wire.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};

use crate::common::{chat_body, parse_sse};

fn request(mock: &MockUpstream, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(format!("{}/chat/completions", mock.base_url()))
        .json(body)
}

/// Reads a body until it ends or fails: the bytes received, and whether it failed.
async fn read_until_error(response: reqwest::Response) -> (String, bool) {
    let mut received = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(next) = stream.next().await {
        match next {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => return (String::from_utf8(received).unwrap(), true),
        }
    }
    (String::from_utf8(received).unwrap(), false)
}

#[tokio::test]
async fn status_fault_uses_openai_error_shape_and_retry_after() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::Status {
        status: 429,
        retry_after: Some(7),
        message: Some("Slow down".to_owned()),
    });
    mock.push_fault(Fault::Status {
        status: 503,
        retry_after: None,
        message: None,
    });
    let response = request(&mock, &chat_body(true)).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["content-type"], "application/json");
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error,
        json!({"error": {"message": "Slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
    );

    let response = request(&mock, &chat_body(false)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_none());
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "server_error");
    assert!(!error["error"]["message"].as_str().unwrap().is_empty());

    // The queue is empty again; faulted requests were still recorded.
    let response = request(&mock, &chat_body(false)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn faults_are_taken_in_order_by_any_endpoint() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::Status {
        status: 500,
        retry_after: None,
        message: None,
    });
    mock.push_fault(Fault::WrongContentType);
    let client = reqwest::Client::new();
    let models = client
        .get(format!("{}/models", mock.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 500);
    // Control requests do not take faults.
    let control = client
        .get(format!("http://{}/_mock/requests", mock.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(control.status(), 200);
    let embeddings = client
        .post(format!("{}/embeddings", mock.base_url()))
        .json(&json!({"model": "e", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(embeddings.status(), 200);
    assert!(
        embeddings.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn delay_first_byte_delays_the_headers() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::DelayFirstByte { ms: 150 });
    let started = Instant::now();
    let response = request(&mock, &chat_body(true)).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.status(), 200);
    assert!(parse_sse(&response.text().await.unwrap()).done);
}

#[tokio::test]
async fn disconnect_after_aborts_the_stream_mid_body() {
    let mock = MockUpstream::start().await.unwrap();
    for gap in ["0", "2"] {
        mock.push_fault(Fault::DisconnectAfter { chunks: 2 });
        let response = request(&mock, &chat_body(true))
            .header("x-mock-chunk-gap-ms", gap)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (received, failed) = read_until_error(response).await;
        assert!(failed, "the client must see the connection break");
        assert!(!received.contains("[DONE]"));
        let sse = parse_sse(&received);
        assert_eq!(sse.chunks.len(), 2, "gap {gap}: {received}");
    }
    // A JSON reply is cut in half.
    mock.push_fault(Fault::DisconnectAfter { chunks: 0 });
    let response = request(&mock, &chat_body(false)).send().await.unwrap();
    let (received, failed) = read_until_error(response).await;
    assert!(failed);
    assert!(serde_json::from_str::<Value>(&received).is_err());
}

#[tokio::test]
async fn malformed_chunk_is_inserted_then_the_stream_continues() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::MalformedChunk { after: 1 });
    let text = request(&mock, &chat_body(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text.split_terminator("\n\n").collect();
    assert_eq!(events[1], "data: {not json");
    assert!(serde_json::from_str::<Value>(&events[0]["data: ".len()..]).is_ok());
    assert!(serde_json::from_str::<Value>(&events[2]["data: ".len()..]).is_ok());
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    // Five content chunks, finish chunk, [DONE], and the bad one.
    assert_eq!(events.len(), 8);
}

#[tokio::test]
async fn wrong_content_type_sends_html_with_200() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::WrongContentType);
    let response = request(&mock, &chat_body(true)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(response.text().await.unwrap().contains("<html>"));
}

#[tokio::test]
async fn hang_never_answers() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::Hang);
    let result = request(&mock, &chat_body(false))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    // The next request is served normally.
    let response = request(&mock, &chat_body(false)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn header_fault_applies_to_one_request_only() {
    let mock = MockUpstream::start().await.unwrap();
    let response = request(&mock, &chat_body(false))
        .header(
            "x-mock-fault",
            r#"{"kind":"status","status":401,"message":"Bad key"}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["message"], "Bad key");
    assert_eq!(error["error"]["code"], "invalid_api_key");

    let response = request(&mock, &chat_body(true))
        .header("x-mock-fault", r#"{"kind":"malformed-chunk","after":0}"#)
        .send()
        .await
        .unwrap();
    assert!(
        response
            .text()
            .await
            .unwrap()
            .starts_with("data: {not json\n\n")
    );

    let response = request(&mock, &chat_body(false))
        .header("x-mock-fault", r#"{"kind":"explode"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-mock-fault")
    );

    let response = request(&mock, &chat_body(false)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}
