//! Every fault on the Anthropic and Gemini endpoints, each in its dialect's shape, and the
//! mid-stream error fault on all three dialects.

use std::time::{Duration, Instant};

use mock_upstream::{Fault, MockUpstream};
use serde_json::{Value, json};

use crate::anthropic::{message_body, messages_url};
use crate::anthropic_events::assemble;
use crate::common::{chat_body, events, parse_sse, read_events};
use crate::gemini::{action_url, generate_body};

fn anthropic(mock: &MockUpstream, stream: bool) -> reqwest::RequestBuilder {
    crate::anthropic::post(&messages_url(mock), &message_body(stream))
}

fn gemini(mock: &MockUpstream, stream: bool) -> reqwest::RequestBuilder {
    let action = if stream {
        "streamGenerateContent"
    } else {
        "generateContent"
    };
    crate::gemini::post(&action_url(mock, action), &generate_body())
}

fn status(status: u16, retry_after: Option<u64>) -> Fault {
    Fault::Status {
        status,
        retry_after,
        message: None,
    }
}

#[tokio::test]
async fn status_faults_use_anthropic_error_types() {
    let mock = MockUpstream::start().await.unwrap();
    let expected = [
        (429, "rate_limit_error"),
        (529, "overloaded_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (500, "api_error"),
        (400, "invalid_request_error"),
    ];
    for (code, _) in expected {
        mock.push_fault(status(code, (code == 429).then_some(3)));
    }
    for (code, kind) in expected {
        let response = anthropic(&mock, true).send().await.unwrap();
        assert_eq!(response.status().as_u16(), code);
        assert_eq!(response.headers()["content-type"], "application/json");
        let retry_after = response.headers().get("retry-after").cloned();
        assert_eq!(retry_after.is_some(), code == 429);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], kind);
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(mock.requests().len(), expected.len());
}

#[tokio::test]
async fn status_faults_use_google_error_statuses() {
    let mock = MockUpstream::start().await.unwrap();
    let expected = [
        (429, "RESOURCE_EXHAUSTED"),
        (400, "INVALID_ARGUMENT"),
        (403, "PERMISSION_DENIED"),
        (500, "INTERNAL"),
        (503, "UNAVAILABLE"),
    ];
    for (code, _) in expected {
        mock.push_fault(status(code, (code == 429).then_some(9)));
    }
    for (code, name) in expected {
        let response = gemini(&mock, code % 2 == 0).send().await.unwrap();
        assert_eq!(response.status().as_u16(), code);
        assert_eq!(
            response.headers()["content-type"],
            "application/json; charset=UTF-8"
        );
        if code == 429 {
            assert_eq!(response.headers()["retry-after"], "9");
        }
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code);
        assert_eq!(error["error"]["status"], name);
    }
}

#[tokio::test]
async fn delay_first_byte_delays_both_dialects() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::DelayFirstByte { ms: 120 });
    mock.push_fault(Fault::DelayFirstByte { ms: 120 });
    let started = Instant::now();
    let response = anthropic(&mock, true).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(120));
    assemble(&events(response).await);
    let started = Instant::now();
    let response = gemini(&mock, true).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(events(response).await.len(), 5);
}

#[tokio::test]
async fn disconnect_after_breaks_both_dialects_mid_stream() {
    let mock = MockUpstream::start().await.unwrap();
    for gap in ["0", "2"] {
        mock.push_fault(Fault::DisconnectAfter { chunks: 3 });
        let response = anthropic(&mock, true)
            .header("x-mock-chunk-gap-ms", gap)
            .send()
            .await
            .unwrap();
        let (received, failed) = read_events(response, false).await;
        assert!(failed, "the client must see the connection break");
        let names: Vec<&str> = received.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["message_start", "content_block_start", "ping"]);

        mock.push_fault(Fault::DisconnectAfter { chunks: 2 });
        let response = gemini(&mock, true)
            .header("x-mock-chunk-gap-ms", gap)
            .send()
            .await
            .unwrap();
        let (received, failed) = read_events(response, false).await;
        assert!(failed);
        assert_eq!(received.len(), 2);
    }
    // JSON replies are cut in half.
    mock.push_fault(Fault::DisconnectAfter { chunks: 0 });
    let response = gemini(&mock, false).send().await.unwrap();
    assert!(response.bytes().await.is_err());
}

#[tokio::test]
async fn malformed_chunk_is_framed_like_the_dialect() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::MalformedChunk { after: 2 });
    let text = anthropic(&mock, true)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<&str> = text.split_terminator("\n\n").collect();
    assert_eq!(events[2], "event: content_block_delta\ndata: {not json");
    assert_eq!(
        events.last(),
        Some(&"event: message_stop\ndata: {\"type\":\"message_stop\"}")
    );

    mock.push_fault(Fault::MalformedChunk { after: 1 });
    let response = gemini(&mock, true).send().await.unwrap();
    let (received, failed) = read_events(response, true).await;
    assert!(!failed);
    assert_eq!(received.len(), 6);
    assert_eq!(received[1].data, Value::Null);
    assert!(received[0].data.is_object() && received[2].data.is_object());

    mock.push_fault(Fault::MalformedChunk { after: 0 });
    let text = gemini(&mock, true)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("data: {not json\r\n\r\ndata: {"));

    mock.push_fault(Fault::MalformedChunk { after: 0 });
    let response = anthropic(&mock, false).send().await.unwrap();
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn wrong_content_type_and_hang_apply_to_both_dialects() {
    let mock = MockUpstream::start().await.unwrap();
    for request in [anthropic(&mock, true), gemini(&mock, true)] {
        mock.push_fault(Fault::WrongContentType);
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        assert!(response.text().await.unwrap().contains("<html>"));
    }
    for request in [anthropic(&mock, false), gemini(&mock, false)] {
        mock.push_fault(Fault::Hang);
        let result = request.timeout(Duration::from_millis(150)).send().await;
        assert!(result.unwrap_err().is_timeout());
    }
    assert_eq!(anthropic(&mock, false).send().await.unwrap().status(), 200);
    assert_eq!(mock.requests().len(), 5);
}

#[tokio::test]
async fn stream_error_ends_an_anthropic_stream_with_an_error_event() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::StreamError { after: 4 });
    let response = anthropic(&mock, true).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (received, failed) = read_events(response, false).await;
    assert!(!failed, "the stream ends cleanly after the error event");
    let names: Vec<&str> = received.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        received[4].data,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    // A non-streamed message fails as a whole with 529.
    mock.push_fault(Fault::StreamError { after: 4 });
    let response = anthropic(&mock, false).send().await.unwrap();
    assert_eq!(response.status(), 529);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn stream_error_ends_gemini_and_openai_streams_with_error_data() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::StreamError { after: 2 });
    let (received, failed) = read_events(gemini(&mock, true).send().await.unwrap(), false).await;
    assert!(!failed);
    assert_eq!(received.len(), 3);
    assert!(received[1].data["candidates"].is_array());
    assert_eq!(received[2].data["error"]["code"], 503);
    assert_eq!(received[2].data["error"]["status"], "UNAVAILABLE");
    mock.push_fault(Fault::StreamError { after: 2 });
    assert_eq!(gemini(&mock, false).send().await.unwrap().status(), 503);

    let chat = format!("{}/chat/completions", mock.base_url());
    let client = reqwest::Client::new();
    mock.push_fault(Fault::StreamError { after: 2 });
    let text = client
        .post(&chat)
        .json(&chat_body(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sse = parse_sse(&text);
    assert!(!sse.done, "no [DONE] after an error");
    assert_eq!(sse.chunks.len(), 3);
    assert_eq!(sse.chunks[2]["error"]["type"], "server_error");
    mock.push_fault(Fault::StreamError { after: 2 });
    let response = client
        .post(&chat)
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn header_faults_and_bad_overrides_answer_in_the_dialect() {
    let mock = MockUpstream::start().await.unwrap();
    let response = anthropic(&mock, true)
        .header(
            "x-mock-fault",
            r#"{"kind":"status","status":529,"retry_after":1}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 529);
    assert_eq!(response.headers()["retry-after"], "1");
    let response = anthropic(&mock, true)
        .header("x-mock-chunks", "many")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-mock-chunks")
    );

    let response = gemini(&mock, true)
        .header("x-mock-chunks", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(events(response).await.len(), 2);
    let response = gemini(&mock, true)
        .header("x-mock-fault", "{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn refusal_stops_each_dialect_with_its_safety_reason() {
    let mock = MockUpstream::start().await.unwrap();
    let client = reqwest::Client::new();
    let chat = format!("{}/chat/completions", mock.base_url());
    let mut body = chat_body(false);
    body["tools"] = json!([{"type": "function", "function": {"name": "f", "parameters": {}}}]);
    mock.push_fault(Fault::Refusal);
    let completion: Value = client
        .post(&chat)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "content_filter");
    assert_eq!(choice["message"]["content"], "Mock reply to");
    assert!(choice["message"].get("tool_calls").is_none());
    mock.push_fault(Fault::Refusal);
    let text = client
        .post(&chat)
        .json(&chat_body(true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sse = parse_sse(&text);
    assert!(sse.done);
    assert_eq!(
        sse.chunks.last().unwrap()["choices"][0]["finish_reason"],
        "content_filter"
    );

    let response = anthropic(&mock, true)
        .header("x-mock-fault", r#"{"kind":"refusal"}"#)
        .send()
        .await
        .unwrap();
    let assembled = assemble(&events(response).await);
    assert_eq!(assembled.delta["stop_reason"], "refusal");
    assert_eq!(assembled.content[0]["text"], "Mock reply to");

    mock.push_fault(Fault::Refusal);
    let response: Value = gemini(&mock, false)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let candidate = &response["candidates"][0];
    assert_eq!(candidate["finishReason"], "SAFETY");
    assert_eq!(candidate["safetyRatings"][0]["blocked"], true);
    assert_eq!(candidate["content"]["parts"][0]["text"], "Mock reply to");
    mock.push_fault(Fault::Refusal);
    let chunks = events(gemini(&mock, true).send().await.unwrap()).await;
    let last = &chunks.last().unwrap().data["candidates"][0];
    assert_eq!(last["finishReason"], "SAFETY");
    assert!(
        chunks[0].data["candidates"][0]
            .get("safetyRatings")
            .is_none()
    );
}
