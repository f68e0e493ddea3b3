//! Requests `encode_request` builds (and bodies `strip_foreign_thinking` repairs) are accepted by
//! the mock upstream, which checks them the way Anthropic does (roles, thinking budget and
//! signatures, thinking leading the answered tool turn); its answers decode.

use mock_upstream::{ANTHROPIC_THINKING_SIGNATURE, MockUpstream};
use serde_json::json;
use switchboard_core::translate::anthropic::{
    decode_request, decode_response, encode_request, strip_foreign_thinking,
};
use switchboard_core::translate::{Block, Dialect, Reasoning};

use super::decode_stream;
use super::encode_request::{assistant, base_request, call, result, text, user};
use crate::translate_support::fixture;

async fn post(mock: &MockUpstream, body: Vec<u8>) -> (u16, Vec<u8>) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", mock.root_url()))
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// A fixture request whose Anthropic signatures are the mock's (it accepts no other).
fn fixture_request(name: &str) -> switchboard_core::translate::ChatRequest {
    let mut request = decode_request(&fixture(&format!("anthropic/request/{name}.json"))).unwrap();
    request.model = "mock-large".to_owned();
    for message in &mut request.messages {
        for block in &mut message.content {
            if let Block::Thinking {
                signature: Some(signature),
                ..
            } = block
                && signature.dialect == Dialect::Anthropic
            {
                signature.value = ANTHROPIC_THINKING_SIGNATURE.to_owned();
            }
        }
    }
    request
}

#[tokio::test]
async fn encoded_requests_are_accepted_and_answers_decode() {
    let mock = MockUpstream::start().await.unwrap();
    for name in [
        "all_features",
        "claude_code_first_turn",
        "claude_code_tool_result",
    ] {
        let mut request = fixture_request(name);
        for stream in [false, true] {
            request.stream = stream;
            let (status, body) = post(&mock, encode_request(&request, 4096).unwrap()).await;
            assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
            if stream {
                let decoded = decode_stream(vec![body]);
                assert!(decoded.complete, "{name}: stream completes");
                assert_eq!(decoded.error, None);
            } else {
                let response = decode_response(&body).unwrap();
                assert!(response.usage.is_some_and(|u| u.input_tokens > 0));
            }
        }
    }
    mock.shutdown().await;
}

#[tokio::test]
async fn a_tool_loop_begun_by_another_provider_continues_on_anthropic() {
    let mock = MockUpstream::start().await.unwrap();
    let mut request = base_request(vec![
        user(vec![text("look it up")]),
        assistant(vec![
            Block::Thinking {
                text: "DeepSeek's reasoning".to_owned(),
                signature: None,
            },
            call("call_9"),
        ]),
        user(vec![result("call_9")]),
    ]);
    request.model = "mock-large".to_owned();
    request.max_tokens = Some(20_000);
    request.reasoning = Some(Reasoning {
        effort: Some("high".to_owned()),
        budget_tokens: None,
        enabled: true,
    });
    let (status, body) = post(&mock, encode_request(&request, 4096).unwrap()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!decode_response(&body).unwrap().content.is_empty());
    mock.shutdown().await;
}

#[tokio::test]
async fn passthrough_bodies_with_invented_signatures_are_repaired() {
    let mock = MockUpstream::start().await.unwrap();
    let body = json!({
        "model": "mock-large", "max_tokens": 9000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "t", "signature": "swb:openai_chat"},
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "r"}]}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    })
    .to_string()
    .into_bytes();
    let (status, _) = post(&mock, body.clone()).await;
    assert_eq!(
        status, 400,
        "the mock, like Anthropic, refuses a foreign signature"
    );
    let repaired = strip_foreign_thinking(&body).unwrap();
    let (status, answer) = post(&mock, repaired).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    // A real signature goes through untouched.
    let signed = String::from_utf8(body)
        .unwrap()
        .replace("swb:openai_chat", ANTHROPIC_THINKING_SIGNATURE);
    assert_eq!(strip_foreign_thinking(signed.as_bytes()), None);
    let (status, _) = post(&mock, signed.into_bytes()).await;
    assert_eq!(status, 200);
    assert!(decode_response(&answer).is_ok());
    mock.shutdown().await;
}
